import numpy as np

from pixelpad.eval.glyphs import glyph_spans, is_zero, reads_zero

ZERO = [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."]
ONE = ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."]
EIGHT = [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."]


def _mask(*glyphs):
    rows = ["." + ".".join(g[r] for g in glyphs) + "." for r in range(7)]
    return np.array([[c == "#" for c in row] for row in rows])


def test_spans_and_zero():
    assert glyph_spans(_mask(ONE, ZERO)) == [(2, 5), (7, 12)]
    assert is_zero(_mask(ZERO)) and not is_zero(_mask(EIGHT)) and not is_zero(_mask(ONE))
    assert reads_zero(_mask(ZERO)) is True
    assert reads_zero(_mask(ONE, ZERO)) is False  # "10"
    assert reads_zero(np.zeros((7, 9), bool)) is None
