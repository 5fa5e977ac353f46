"""Reading HUD numbers without OCR: split a text mask into glyphs, tell a '0' from other digits.

Every success threshold here is "a number left zero" or "reached 10**k", and both only need to know
whether a digit is '0': in the games' fonts the zero is the one digit whose middle is empty while both
of its sides carry ink (1, 4 and 7 cross the middle; 2, 3, 5, 6, 8 and 9 have a stroke there). That
test survives anti-aliasing and translucent HUD boxes, where a full template match does not.
"""

from __future__ import annotations

import numpy as np


def glyph_spans(mask: np.ndarray, min_width: int = 2) -> list[tuple[int, int]]:
    """Column runs ``[start, stop)`` of a boolean text mask ``(h, w)`` that hold ink, left to right:
    one per glyph when glyphs do not touch."""
    ink = np.concatenate([[False], mask.any(axis=0), [False]])
    edges = np.flatnonzero(np.diff(ink.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= min_width]


def is_zero(glyph: np.ndarray) -> bool:
    """Whether a glyph mask ``(h, w)`` (tight or loose around the glyph) is a '0'."""
    rows = np.flatnonzero(glyph.any(axis=1))
    cols = np.flatnonzero(glyph.any(axis=0))
    if len(rows) < 5 or len(cols) < 3:
        return False
    g = glyph[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = g.shape
    # The three middle rows and the two middle columns: narrow enough that a stray lit pixel or a
    # slanted, anti-aliased ring does not reach in, wide enough that every other digit's stroke does.
    middle = g[h // 2 - 1 : h // 2 + 2]
    centre = middle[:, w // 2 - 1 : w // 2 + 1]
    side = max(1, w // 4)
    return bool(not centre.any() and middle[:, :side].any() and middle[:, w - side :].any())


def reads_zero(mask: np.ndarray) -> bool | None:
    """Whether a one-number text mask reads exactly 0; None when it holds no glyph at all."""
    spans = glyph_spans(mask)
    if not spans:
        return None
    return len(spans) == 1 and is_zero(mask[:, spans[0][0] : spans[0][1]])
