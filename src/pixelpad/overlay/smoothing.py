"""Non-causal smoothing of per-frame reads: remove one-frame flicker without shifting edges.

A reader judges each frame (pair) on its own; compression artefacts make single frames flip. The
labels of a dataset may look at the future, so the filter is centred: a running median over an odd
window, which removes isolated flips shorter than half the window while keeping the timing of real
presses and releases exactly (a mean would blur both edges).
"""

from __future__ import annotations

import numpy as np

from pixelpad.errors import PixelpadError


class SmoothingError(PixelpadError, ValueError):
    """A smoothing window that cannot be applied."""


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred running median along axis 0, edges padded by repetition.

    Applied to ``(N, 21)`` reads it smooths button probabilities and stick values with one filter:
    a median of probabilities thresholded at 0.5 equals a majority vote of the thresholded states.

    Args:
        values: ``(N, K)`` (or ``(N,)``) float values; NaN marks unreadable frames and is ignored
            inside a window (a window of only NaN stays NaN).
        window: odd window length; 1 returns a copy.

    Returns:
        An array of the same shape and dtype float32.
    """
    if window < 1 or window % 2 == 0:
        raise SmoothingError(f"smoothing window must be an odd number >= 1, got {window}")
    arr = np.asarray(values, dtype=np.float32)
    if window == 1 or len(arr) == 0:
        return arr.copy()
    half = window // 2
    pad = [(half, half)] + [(0, 0)] * (arr.ndim - 1)
    padded = np.pad(arr, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)
    all_nan = np.isnan(windows).all(axis=-1)
    out = np.full(arr.shape, np.nan, dtype=np.float32)
    out[~all_nan] = np.nanmedian(windows[~all_nan], axis=-1)
    return out
