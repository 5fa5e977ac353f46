"""The first pass of localisation: each frame's features against the bank's one shared index.

Why a pass of its own: it is the part of :func:`pixelpad.overlay.locate.locate` that sees every
template at once. It matches each frame descriptor to its nearest template descriptors with a ratio
test against a rival from the same template (colourways of one layout share descriptors, and the
same keypoint at another scale or background is a copy, not a rival), pools the matches per layout
over the sampled frames, and fits a similarity transform per layout by RANSAC, keeping only
transforms an overlay can have. The guided second pass (:mod:`pixelpad.overlay.guided`) starts from
these fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pixelpad.overlay.bank import TemplateBank
from pixelpad.overlay.features import Features

if TYPE_CHECKING:
    from pixelpad.overlay.locate import LocateConfig

Box = tuple[int, int, int, int]


@dataclass
class Matches:
    """Pooled first-pass matches of one layout: frame points (n, 2), template points (n, 2)."""

    frame: list[np.ndarray] = field(default_factory=list)
    template: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self.frame), np.concatenate(self.template)


def match_frame(bank: TemplateBank, kind: str, feats: Features, cfg: LocateConfig):
    """Matches of one frame's features that pass the same-template ratio test.

    The rival a match must beat by ``cfg.ratio`` is the next neighbour from the same template at
    another place (``cfg.ratio_apart``): copies of one keypoint (other scales, other backgrounds) share
    its descriptor and would fail every ratio test they are in.

    Returns ``(query (m,), template keypoint (m,), layout (m,))`` index arrays, one match per
    (frame keypoint, layout): the nearest among that layout's templates.
    """
    empty = np.zeros(0, np.int64)
    index = bank.indexes[kind]
    if len(feats) == 0:
        return empty, empty, empty
    idx, dist = index.knn(feats.descriptors, cfg.k, cfg.checks)
    k = idx.shape[1]
    tid = index.template[idx]  # (N, k)
    same = tid[:, :, None] == tid[:, None, :]  # (N, k, k)
    earlier = np.tril(np.ones((k, k), bool), -1)  # [j, j'] true when j' < j
    first = ~(same & earlier[None]).any(axis=2)  # nearest of its template in this row
    points = index.keypoints[idx]  # (N, k, 2)
    apart = np.linalg.norm(points[:, :, None] - points[:, None, :], axis=3) > cfg.ratio_apart  # (N, k, k)
    rival = same & apart & earlier.T[None]  # [n, j, j']: a later neighbour of j's template elsewhere
    later = np.where(rival, dist[:, None, :], np.inf).min(axis=2)  # next of the same template, elsewhere
    second = np.where(np.isfinite(later), later, dist[:, -1:])  # unseen: farther than the k-th
    keep = first & (dist < cfg.ratio * second)
    q, j = np.nonzero(keep)
    layout = bank.layout_of[tid[q, j]]
    # One match per (frame keypoint, layout): rows are sorted by distance, so the first is nearest.
    order = np.lexsort((j, layout, q))
    q, j, layout = q[order], j[order], layout[order]
    unique = np.ones(len(q), bool)
    unique[1:] = (q[1:] != q[:-1]) | (layout[1:] != layout[:-1])
    return q[unique], idx[q[unique], j[unique]], layout[unique]


def fit_similarity(
    src: np.ndarray, dst: np.ndarray, frame_size: tuple[int, int], template_size, cfg: LocateConfig
):
    """Similarity transform template -> frame by RANSAC, or None if absurd. Returns (affine, inlier mask)."""
    fw = frame_size[1]
    if len(src) < 3:
        return None
    affine, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=cfg.reprojection * fw,
        maxIters=3000,
        confidence=0.999,
    )
    if affine is None or not plausible(affine, frame_size, template_size, cfg):
        return None
    return affine, mask.ravel().astype(bool)


def plausible(affine: np.ndarray, frame_size: tuple[int, int], template_size, cfg: LocateConfig) -> bool:
    """Whether a template -> frame transform is one an overlay can have (scale, rotation, in the frame)."""
    fh, fw = frame_size
    scale = math.hypot(affine[0, 0], affine[1, 0])
    angle = math.degrees(math.atan2(affine[1, 0], affine[0, 0]))
    th, tw = template_size
    corners = np.array([[0, 0], [tw, 0], [0, th], [tw, th]], np.float64) @ affine[:, :2].T + affine[:, 2]
    centre = corners.mean(axis=0)
    width = scale * tw
    if abs(angle) > cfg.max_rotation or not cfg.min_width * fw <= width <= cfg.max_width * fw:
        return False
    return bool(0 <= centre[0] <= fw and 0 <= centre[1] <= fh)


def box_of(affine: np.ndarray, template_size: tuple[int, int], frame_size: tuple[int, int]) -> Box:
    th, tw = template_size
    corners = np.array([[0, 0], [tw, 0], [0, th], [tw, th]], np.float64) @ affine[:, :2].T + affine[:, 2]
    x0, y0 = np.clip(corners.min(axis=0), 0, [frame_size[1], frame_size[0]])
    x1, y1 = np.clip(corners.max(axis=0), 0, [frame_size[1], frame_size[0]])
    return round(x0), round(y0), round(x1 - x0), round(y1 - y0)


def pool_matches(
    bank: TemplateBank, features: dict, cfg: LocateConfig, region=None, memo: dict | None = None
) -> dict[int, Matches]:
    """First-pass matches per layout, pooled over frames (only keypoints inside ``region`` (x0, y0, x1,
    y1), if given). ``memo`` keeps each whole frame's matches for a later search over more frames."""
    pooled: dict[int, Matches] = {}
    for kind, per_frame in features.items():
        index = bank.indexes[kind]
        for number, feats in per_frame.items():
            if region is not None:
                x0, y0, x1, y1 = region
                kp = feats.keypoints
                inside = (kp[:, 0] >= x0) & (kp[:, 0] <= x1) & (kp[:, 1] >= y0) & (kp[:, 1] <= y1)
                feats = Features(kp[inside], feats.descriptors[inside])
                q, t, layout = match_frame(bank, kind, feats, cfg)
            elif memo is not None and (kind, number) in memo:
                q, t, layout = memo[kind, number]
            else:
                q, t, layout = match_frame(bank, kind, feats, cfg)
                if memo is not None:
                    memo[kind, number] = q, t, layout
            for lay in np.unique(layout):
                sel = layout == lay
                m = pooled.setdefault(int(lay), Matches())
                m.frame.append(feats.keypoints[q[sel]])
                m.template.append(index.keypoints[t[sel]])
    return pooled


def first_fits(bank: TemplateBank, pooled: dict[int, Matches], frame_size, cfg: LocateConfig) -> dict:
    """``{layout: (affine, inliers)}`` by RANSAC for the layouts with most pooled matches."""
    counts = sorted(((sum(len(a) for a in m.frame), lay) for lay, m in pooled.items()), reverse=True)
    first: dict[int, tuple[np.ndarray, int]] = {}
    for n, lay in counts[: cfg.candidates]:
        if n < cfg.min_matches:
            break
        dst, src = pooled[lay].arrays()
        if cfg.dedupe:
            # A static spot matched in every frame is one piece of evidence, not 25: counted once, it
            # can no longer draw RANSAC to a degenerate fit that maps the template onto it.
            _, unique = np.unique(
                np.concatenate([np.round(dst), np.round(src)], axis=1), axis=0, return_index=True
            )
            dst, src = dst[unique], src[unique]
        template = template_of(bank, lay)
        fit = fit_similarity(src.astype(np.float32), dst.astype(np.float32), frame_size, template.size, cfg)
        if fit is not None:
            first[lay] = (fit[0], int(fit[1].sum()))
    return first


def template_of(bank: TemplateBank, layout: int):
    """The first template of ``layout`` (all of a layout's templates share its canvas size)."""
    return bank.templates[int(np.flatnonzero(bank.layout_of == layout)[0])]
