"""Per-video reader choice on constructed reads."""

import numpy as np

from pixelpad.actions import INDEX
from pixelpad.overlay.reader_choice import BLEND, PARSER, TEMPLATE, agreement, choose

SHOWN = np.ones(21, dtype=bool)


def _reads(n=50, seed=0):
    rng = np.random.default_rng(seed)
    reads = np.zeros((n, 21), np.float32)
    reads[:, :17] = rng.random((n, 17)) < 0.2
    reads[:, 17:] = rng.uniform(-1, 1, (n, 4))
    return reads


def test_agreement_counts_buttons_and_sticks_and_skips_unreadable_frames():
    a = _reads()
    b = a.copy()
    b[:10, INDEX["south"]] = 1 - b[:10, INDEX["south"]]  # 10 of 50 x 21 cells flipped
    b[20] = np.nan
    expected = 1 - 10 / (49 * 21)
    assert abs(agreement(a, b, SHOWN, 0.15) - expected) < 1e-6
    hidden = SHOWN.copy()
    hidden[INDEX["south"]] = False
    assert agreement(a, b, hidden, 0.15) == 1.0


def test_choice_blends_agreeing_confident_readers():
    a = _reads()
    out = choose((a, np.full(50, 0.9)), (a + 0.01, np.full(50, 0.99)), SHOWN)
    assert out.reader == BLEND
    np.testing.assert_allclose(out.reads[:, 17:], a[:, 17:] + 0.005, atol=1e-6)


def test_choice_prefers_the_trusted_template_when_they_disagree():
    a, noise = _reads(seed=0), _reads(seed=1)
    assert choose((a, np.full(50, 0.9)), (noise, np.full(50, 0.5)), SHOWN).reader == TEMPLATE
    # A saturated parser visibility does not outvote a trusted template read of the known skin.
    assert choose((a, np.full(50, 0.45)), (noise, np.full(50, 1.0)), SHOWN).reader == TEMPLATE
    assert choose((noise, np.full(50, 0.1)), (a, np.full(50, 0.99)), SHOWN).reader == PARSER
    only = choose((a, np.full(50, 0.9)), None, SHOWN)
    assert only.reader == TEMPLATE and only.reads is a
