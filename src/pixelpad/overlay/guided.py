"""Guided matching: once a layout's rough transform is known, look for its keypoints where they must be.

The first pass of :mod:`pixelpad.overlay.locate` matches every frame keypoint against one index over
all templates. Near-identical templates crowd each other out of the k nearest neighbours there, so
the right layout keeps only a fraction of its true matches (measured: a third or less on small,
see-through overlays). Given a layout and a rough similarity transform, each of the layout's
template keypoints (all colourways, all scales) is projected into the frame and paired with the
frame keypoint *near its projection* whose descriptor is closest, if close enough: the position does
the disambiguation a ratio test would, so no neighbour crowding can hide a match. A RANSAC refit on
those matches, twice with a shrinking search radius, gives more inliers and a tighter box.

The sampled frames' keypoints of one feature kind are searched in one go (:func:`stack_frames`):
done frame by frame, 33 calls per radius and layout, the per-call overhead was most of the time.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pixelpad.overlay.bank import TemplateBank
from pixelpad.overlay.features import Features

# Largest descriptor distance of a guided match, per feature kind (RootSIFT and XFeat descriptors are
# unit length). Measured at the true transform on benchmark videos: right-layout pairs have medians
# 0.5-0.8, wrong-layout pairs at the same place 0.75-1.0.
MAX_DISTANCE = {"sift": 0.7, "xfeat": 0.8}
CHUNK = 1 << 15  # descriptor pairs compared at once


@dataclass(frozen=True)
class GuidedFit:
    """A refined transform: ``affine`` (2, 3) template -> frame, pooled ``inliers``, ``support`` in [0, 1]
    (share of the sampled frames with at least one inlier), ``distinct``: template keypoints among the
    inliers, each counted once however many frames it was found in (static game content that fits
    by chance repeats in every frame; an overlay shows many different keypoints)."""

    affine: np.ndarray
    inliers: int
    support: float
    distinct: int


@dataclass(frozen=True)
class FramePoints:
    """One feature kind's keypoints of all sampled frames, stacked: ``features`` (N rows) and ``frame``
    ``(N,)`` the frame number of each row."""

    features: Features
    frame: np.ndarray


def stack_frames(features: dict[str, dict[int, Features]]) -> dict[str, FramePoints]:
    """``{kind: {frame number: Features}}`` -> ``{kind: FramePoints}``, frames in the dict's order."""
    stacked = {}
    for kind, per_frame in features.items():
        frames = list(per_frame.values())
        dim = frames[0].descriptors.shape[1] if frames else 0
        keypoints = np.concatenate([f.keypoints for f in frames] or [np.zeros((0, 2), np.float32)])
        descriptors = np.concatenate([f.descriptors for f in frames] or [np.zeros((0, dim), np.float32)])
        numbers = np.repeat(np.fromiter(per_frame, np.int64, len(per_frame)), [len(f) for f in frames])
        stacked[kind] = FramePoints(Features(keypoints, descriptors), numbers)
    return stacked


def layout_keypoints(bank: TemplateBank, kind: str, layout: int) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints ``(m, 2)`` (canonical pixels) and descriptors ``(m, D)`` of all templates of ``layout``."""
    index = bank.indexes[kind]
    mine = bank.layout_of[index.template] == layout
    return index.keypoints[mine], index.descriptors[mine]


def _close_pairs(
    a: np.ndarray, b: np.ndarray, radius: float, origin: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i, j) with ``|a[i] - b[j]| < radius``, for ``a`` (n, 2) and ``b`` (m, 2).

    Points are binned in square cells of side ``radius``; only a point's own and the 8 neighbouring
    cells can hold a partner, so the cost grows with the pairs found, not with n * m.
    """
    cells_a = np.floor((a - origin) / radius).astype(np.int64)
    cells_b = np.floor((b - origin) / radius).astype(np.int64)
    width = int(max(cells_a[:, 0].max(), cells_b[:, 0].max())) + 3
    key_a = cells_a[:, 1] * width + cells_a[:, 0]
    order = np.argsort(key_a, kind="stable")
    sorted_keys = key_a[order]
    pairs_i, pairs_j = [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            key_b = (cells_b[:, 1] + dy) * width + cells_b[:, 0] + dx
            start = np.searchsorted(sorted_keys, key_b, "left")
            count = np.searchsorted(sorted_keys, key_b, "right") - start
            j = np.repeat(np.arange(len(b)), count)
            offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
            pairs_i.append(order[np.repeat(start, count) + offsets])
            pairs_j.append(j)
    i, j = np.concatenate(pairs_i), np.concatenate(pairs_j)
    close = np.linalg.norm(a[i] - b[j], axis=1) < radius
    return i[close], j[close]


def guided_matches(
    frame: Features, points: np.ndarray, descriptors: np.ndarray, radius: float, max_distance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (frame keypoint, template keypoint) with the keypoint within ``radius`` of the projection.

    Args:
        frame: one frame's features, ``n`` keypoints (or several frames' stacked: each row is its own
            keypoint, so the answer is that of each frame alone, concatenated).
        points: ``(m, 2)`` template keypoints projected into the frame.
        descriptors: ``(m, D)`` their descriptors.
    Returns:
        ``(frame indices (p,), template indices (p,))``, at most one pair per frame keypoint: the one
        with the closest descriptor below ``max_distance``.
    """
    empty = np.zeros(0, np.int64)
    if len(frame) == 0 or len(points) == 0:
        return empty, empty
    lo, hi = points.min(axis=0) - radius, points.max(axis=0) + radius
    near = np.flatnonzero(((frame.keypoints >= lo) & (frame.keypoints <= hi)).all(axis=1))
    if len(near) == 0:
        return empty, empty
    fi, ti = _close_pairs(frame.keypoints[near], points, radius, lo)
    if len(fi) == 0:
        return empty, empty
    dist = np.empty(len(fi), np.float32)
    for start in range(0, len(fi), CHUNK):  # bounded temporaries: all frames' pairs can be 10^5-10^6
        part = slice(start, start + CHUNK)
        diff = frame.descriptors[near[fi[part]]] - descriptors[ti[part]]
        dist[part] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    good = dist < max_distance
    fi, ti, dist = fi[good], ti[good], dist[good]
    order = np.lexsort((dist, fi))  # per frame keypoint, closest descriptor first
    fi, ti = fi[order], ti[order]
    first = np.ones(len(fi), bool)
    first[1:] = fi[1:] != fi[:-1]
    return near[fi[first]], ti[first]


def _gather(
    keypoints: dict, affine: np.ndarray, frames: dict[str, FramePoints], radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Guided matches of all kinds around ``affine`` within ``radius`` frame pixels: template points
    ``(p, 2)``, frame points ``(p, 2)``, frame numbers ``(p,)`` and template keypoint ids ``(p,)``
    (unique over kinds). ``keypoints``: :func:`layout_keypoints` per kind."""
    src, dst, which, ids = [], [], [], []
    for number, (kind, stacked) in enumerate(frames.items()):
        points, descriptors = keypoints[kind]
        projected = points @ affine[:, :2].T + affine[:, 2]
        q, t = guided_matches(stacked.features, projected, descriptors, radius, MAX_DISTANCE[kind])
        src.append(points[t])
        dst.append(stacked.features.keypoints[q])
        which.append(stacked.frame[q])
        ids.append(t * len(frames) + number)
    return tuple(np.concatenate(x) for x in (src, dst, which, ids))


def refine(
    bank: TemplateBank,
    layout: int,
    affine: np.ndarray,
    frames: dict[str, FramePoints],
    num_frames: int,
    frame_width: int,
    radii: tuple[float, ...] = (0.02, 0.008),
    reprojection: float = 0.006,
) -> GuidedFit | None:
    """Guided matching and refit of ``layout`` around ``affine``; None if too few matches remain.

    ``radii`` and ``reprojection`` are shares of ``frame_width``; ``frames`` is the sampled frames'
    features as :func:`stack_frames` gives them.
    """
    keypoints = {kind: layout_keypoints(bank, kind, layout) for kind in frames}
    fit: GuidedFit | None = None
    for radius in radii:
        src, dst, which, ids = _gather(keypoints, affine, frames, radius * frame_width)
        if len(src) < 3:
            return fit
        new, mask = cv2.estimateAffinePartial2D(
            src.astype(np.float32), dst.astype(np.float32), method=cv2.RANSAC,
            ransacReprojThreshold=reprojection * frame_width, maxIters=1000, confidence=0.999,
        )  # fmt: skip
        if new is None:
            return fit
        inliers = mask.ravel().astype(bool)
        affine = new
        support = len(np.unique(which[inliers])) / num_frames
        fit = GuidedFit(new, int(inliers.sum()), support, len(np.unique(ids[inliers])))
    return fit


def support_at(
    bank: TemplateBank,
    layout: int,
    affine: np.ndarray,
    frames: dict[str, FramePoints],
    num_frames: int,
    frame_width: int,
    reprojection: float = 0.006,
) -> GuidedFit:
    """The guided matches that ``affine`` itself explains (within ``reprojection`` of the frame width),
    with no refit: the support of a transform found another way (edge_search.polish)."""
    keypoints = {kind: layout_keypoints(bank, kind, layout) for kind in frames}
    _, _, which, ids = _gather(keypoints, affine, frames, reprojection * frame_width)
    support = len(np.unique(which)) / num_frames
    return GuidedFit(np.asarray(affine, np.float64), len(ids), support, len(np.unique(ids)))
