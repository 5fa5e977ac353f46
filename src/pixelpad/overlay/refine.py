"""Refinement and filtering of per-frame actions read from an overlay.

A reader returns, per frame, button states and stick positions *in the overlay's own geometry*: a
stick whose skin draws its cap slightly off-centre, or whose full range is never reached in the
pictures, reads as an offset or shrunken axis. The paper's fix, applied per video: centre each stick
on where it sits at rest, then scale each axis so that its 99th percentile of |value| maps to 1.
Then frames with no input are "null"; training chunks with fewer than half non-null timesteps are
dropped, and a whole video whose action density is too low is dropped as idle footage.

Every function here is plain numpy over ``(N, 21)`` arrays (``pixelpad.actions`` layout) so it can
be tested on constructed sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelpad.actions import (
    ACTION_DIM,
    AXIS_SLICE,
    BUTTON_SLICE,
    DEFAULT_DEAD_ZONE,
    DEFAULT_HORIZON,
    INDEX,
    ActionError,
)

# Stick pairs as column indices of the (N, 21) layout: (x, y) for left, then right.
STICK_PAIRS: tuple[tuple[int, int], ...] = (
    (INDEX["left_x"], INDEX["left_y"]),
    (INDEX["right_x"], INDEX["right_y"]),
)


@dataclass(frozen=True)
class RefineConfig:
    """How per-video actions are refined and filtered (defaults follow the NitroGen paper)."""

    # Centre each stick on its rest position, looked for within max_centre_offset of (0, 0): a
    # player who holds a stick for most of a short clip must not move the centre there.
    centre_sticks: bool = True
    max_centre_offset: float = 0.25
    # Half-width of the bins of the 2-D histogram whose densest cell is taken as "at rest".
    rest_radius: float = 0.08
    # Scale each centred axis so its percentile of |value| maps to 1. A reader calibrated to the
    # skin's own stick range (the template reader) needs no scaling: a video whose player never
    # pushes a stick fully would only be distorted by it (measured: stick R² 0.90 → 0.35 on the
    # extraction benchmark's two-second clips), so the pipeline turns both off for its reads.
    scale_sticks: bool = True
    percentile: float = 99.0
    # Never scale an axis up by more than 1 / min_scale: a stick that barely moves keeps its values.
    min_scale: float = 0.25
    # A timestep is null when no button is pressed and both sticks are within this radius of centre.
    dead_zone: float = DEFAULT_DEAD_ZONE
    # Chunks are `horizon` timesteps; a chunk is kept when at least `min_non_null` of them are non-null.
    horizon: int = DEFAULT_HORIZON
    min_non_null: float = 0.5
    # A video is kept when its action density (fraction of non-null, readable frames) reaches this.
    min_density: float = 0.1
    # Kept chunks are joined into segments; segments shorter than this many frames are not written.
    min_segment: int = DEFAULT_HORIZON


@dataclass(frozen=True)
class Refined:
    """The outcome of :func:`refine` for one video.

    Attributes:
        actions: ``(N, 21)`` float32 valid actions (unreadable frames become null actions).
        null: ``(N,)`` bool, True where the frame carries no input or could not be read.
        segments: ``[(start, stop), ...]`` frame ranges made of kept chunks, in order.
        density: the video's action-density score in [0, 1].
        kept: whether the density reached the threshold.
        centre: ``(2, 2)`` the raw rest position of each stick (left, right) × (x, y).
        scale: ``(2, 2)`` the factor applied to each centred axis.
    """

    actions: np.ndarray
    null: np.ndarray
    segments: list[tuple[int, int]]
    density: float
    kept: bool
    centre: np.ndarray
    scale: np.ndarray


def _check_raw(raw: np.ndarray) -> np.ndarray:
    arr = np.asarray(raw, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != ACTION_DIM:
        raise ActionError(f"expected raw reads of shape (N, {ACTION_DIM}), got {arr.shape}")
    return arr


def rest_position(xy: np.ndarray, radius: float, max_offset: float = np.inf) -> np.ndarray:
    """The position a stick rests at: the mean of the readings in the densest ``2·radius`` cell.

    Args:
        xy: ``(N, 2)`` raw stick readings (NaN rows are ignored).
        radius: half-width of the histogram cells.
        max_offset: only readings within this distance (per axis) of (0, 0) are considered.

    Returns:
        ``(2,)`` the rest position; ``(0, 0)`` when there is no finite reading in range.

    Sticks spend most of a video at rest, so the densest cell is the rest position even when
    the stick is pushed a third of the time; the plain median would be pulled towards the pushes.
    """
    pts = xy[np.isfinite(xy).all(axis=1)]
    pts = pts[(np.abs(pts) <= max_offset).all(axis=1)]
    if len(pts) == 0:
        return np.zeros(2, dtype=np.float32)
    cells = np.floor(pts / (2 * radius)).astype(np.int64)
    keys, counts = np.unique(cells, axis=0, return_counts=True)
    densest = keys[np.argmax(counts)]
    # Average over the 3x3 neighbourhood of the densest cell so a rest point on a cell edge is whole,
    # then move to the median of the readings within ``radius`` until it settles (a flat-kernel mode
    # search): the neighbourhood is six radii wide, and a stick gliding back to rest passes through it.
    centre = pts[(np.abs(cells - densest) <= 1).all(axis=1)].mean(axis=0)
    for _ in range(4):
        close = (np.abs(pts - centre) <= radius).all(axis=1)
        if not close.any():
            break
        centre = np.median(pts[close], axis=0)
    return centre.astype(np.float32)


def calibrated_rest(
    xy: np.ndarray,
    limit: np.ndarray,
    radius: float = 0.04,
    window: float = 0.5,
    min_share: float = 0.05,
    min_visits: int = 2,
) -> np.ndarray:
    """The rest offset of a reader calibrated to the skin's geometry (the template reader): ``(2,)``.

    Such a reader's sticks are right up to a misregistration of a pixel or so (a renderer that puts
    each sprite on whole pixels, an affine off by a fraction of a pixel), which on a small overlay is
    a large share of the stick's range (a third of it at a 3-pixel range). The rest position shows
    it: a tight cluster of reads. It is trusted only when it is the densest cluster within
    ``window`` of (0, 0), holds ``min_share`` of the readable frames, lies within ``limit`` (per
    axis: what a pixel of misregistration can explain), and the stick comes back to it: at least
    ``min_visits`` separate stays (``xy`` is in time order). Else ``(0, 0)``: a stick held still
    off-centre through most of a clip is a player's choice, not an offset to remove.
    """
    centre = rest_position(xy, radius, window)
    finite = np.isfinite(xy).all(axis=1)
    inside = (np.abs(xy[finite] - centre) <= radius).all(axis=1)
    share = float(inside.mean()) if len(inside) else 0.0
    visits = int(inside[0]) + int((inside[1:] & ~inside[:-1]).sum()) if len(inside) else 0
    if share < min_share or visits < min_visits or (np.abs(centre) > np.asarray(limit)).any():
        return np.zeros(2, dtype=np.float32)
    return centre


def normalise_sticks(
    raw: np.ndarray, config: RefineConfig = RefineConfig(), rest_limits: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Centre each stick at rest and scale each axis by its percentile of |value|.

    Args:
        raw: ``(N, 21)`` reads; stick columns may hold NaN for unreadable frames.
        rest_limits: ``(2, 2)`` for a calibrated reader's reads (left, right) x (x, y): the largest
            rest offset to remove, see :func:`calibrated_rest` (whose own radius and window apply);
            None: :func:`rest_position` within ``config.max_centre_offset``.

    Returns:
        ``(actions, centre, scale)``: ``(N, 21)`` with sticks centred, scaled, clipped to [-1, 1]
        (NaN kept), ``(2, 2)`` centres, ``(2, 2)`` scales.
    """
    arr = _check_raw(raw).copy()
    centre = np.zeros((2, 2), dtype=np.float32)
    scale = np.ones((2, 2), dtype=np.float32)
    for s, cols in enumerate(STICK_PAIRS):
        xy = arr[:, list(cols)]
        if config.centre_sticks and rest_limits is not None:
            centre[s] = calibrated_rest(xy, rest_limits[s])
        elif config.centre_sticks:
            centre[s] = rest_position(xy, config.rest_radius, config.max_centre_offset)
        centred = xy - centre[s]
        for a in range(2 if config.scale_sticks else 0):
            finite = np.abs(centred[np.isfinite(centred[:, a]), a])
            if len(finite) == 0:
                continue
            extent = float(np.percentile(finite, config.percentile))
            scale[s, a] = 1.0 / max(extent, config.min_scale)
        arr[:, list(cols)] = np.clip(centred * scale[s], -1.0, 1.0)
    return arr, centre, scale


def null_mask(actions: np.ndarray, dead_zone: float = DEFAULT_DEAD_ZONE) -> np.ndarray:
    """``(N,)`` True where a frame has no input: no button > 0.5, both sticks inside ``dead_zone``.

    Unreadable frames (any NaN in the row) count as null too: they carry no usable action.
    """
    arr = _check_raw(actions)
    unreadable = ~np.isfinite(arr).all(axis=1)
    clean = np.nan_to_num(arr)
    pressed = (clean[:, BUTTON_SLICE] > 0.5).any(axis=1)
    moved = np.zeros(len(arr), dtype=bool)
    for cols in STICK_PAIRS:
        moved |= np.hypot(clean[:, cols[0]], clean[:, cols[1]]) > dead_zone
    return unreadable | ~(pressed | moved)


def chunk_keep(null: np.ndarray, horizon: int, min_non_null: float) -> np.ndarray:
    """``(ceil(N / horizon),)`` True for each chunk of ``horizon`` frames with enough non-null ones.

    The last, shorter chunk is judged on the frames it has.
    """
    null = np.asarray(null, dtype=bool)
    if horizon < 1:
        raise ActionError(f"chunk horizon must be >= 1, got {horizon}")
    n_chunks = -(-len(null) // horizon)
    keep = np.zeros(n_chunks, dtype=bool)
    for c in range(n_chunks):
        part = null[c * horizon : (c + 1) * horizon]
        keep[c] = (~part).mean() >= min_non_null
    return keep


def kept_segments(keep: np.ndarray, horizon: int, n: int, min_length: int) -> list[tuple[int, int]]:
    """Join runs of kept chunks into ``[(start, stop), ...]`` frame ranges of at least ``min_length``."""
    segments: list[tuple[int, int]] = []
    start: int | None = None
    for c, k in enumerate([*keep.tolist(), False]):
        if k and start is None:
            start = c * horizon
        elif not k and start is not None:
            stop = min(c * horizon, n)
            if stop - start >= min_length:
                segments.append((start, stop))
            start = None
    return segments


def action_density(null: np.ndarray) -> float:
    """The fraction of frames that carry input: a video's idleness score (0 = all idle)."""
    null = np.asarray(null, dtype=bool)
    return float((~null).mean()) if len(null) else 0.0


def refine(
    raw: np.ndarray, config: RefineConfig = RefineConfig(), rest_limits: np.ndarray | None = None
) -> Refined:
    """Refine one video's raw reads into valid actions, null mask, kept segments and density.

    Args:
        raw: ``(N, 21)`` per-frame reads: buttons as 0/1 (or probabilities, thresholded at 0.5),
            sticks in the reader's units; a row of NaN (or NaN sticks) marks an unreadable frame.
        rest_limits: for a calibrated reader, see :func:`normalise_sticks`.
    """
    arr, centre, scale = normalise_sticks(raw, config, rest_limits)
    null = null_mask(arr, config.dead_zone)
    clean = np.nan_to_num(arr)
    clean[:, BUTTON_SLICE] = (clean[:, BUTTON_SLICE] > 0.5).astype(np.float32)
    clean[~np.isfinite(arr).all(axis=1)] = 0.0
    clean[:, AXIS_SLICE] = np.clip(clean[:, AXIS_SLICE], -1.0, 1.0)
    keep = chunk_keep(null, config.horizon, config.min_non_null)
    density = action_density(null)
    return Refined(
        actions=clean,
        null=null,
        segments=kept_segments(keep, config.horizon, len(arr), config.min_segment),
        density=density,
        kept=density >= config.min_density,
        centre=centre,
        scale=scale,
    )
