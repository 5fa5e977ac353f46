"""Finding the controller overlay in a video: which skin, where, how sure.

Per video (the NitroGen recipe, with what measurements here taught):

1. sample 25 frames spread over the video (key frames only on long videos: ~5× faster seeks);
2. extract SIFT and XFeat features of each frame;
3. query each frame descriptor in the bank's one index over all templates (k nearest), and do the
   ratio test against the next neighbour *from the same template*: colourways of one layout share
   descriptors, so a plain ratio test would reject every match of a skin that ships colourways;
4. pool matches per *layout* (colourways share geometry) over all frames, one match per frame
   keypoint, and fit one similarity transform (scale + translation, no shear) by RANSAC for the few
   layouts with most matches; reject absurd scales, rotations, and boxes outside the frame;
5. accept the layout with most inliers if it has at least ``min_inliers`` (calibrated on synthetic
   videos: wrong layouts gather a few dozen pooled inliers, right ones hundreds);
6. among the colourways of that layout and of layouts nearly as well supported, pick the one whose
   picture, warped by its own transform, correlates best with the mean of the sampled frames.

An overlay is assumed fixed during the video. One that moves, or two overlays, still get an answer:
the position/overlay with most support, and :attr:`Location.support` (the share of sampled frames
that agree) tells the caller. A video with no overlay gives ``None``.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from pixelpad.overlay.bank import TemplateBank, on_grey
from pixelpad.overlay.features import FeatureError, Features

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class LocateConfig:
    """Settings of :func:`locate` (defaults calibrated with ``benchmarks/locate.py``)."""

    frames: int = 25  # frames sampled per video
    keyframes_above: int = 3000  # sample key frames only in videos longer than this many frames
    max_side: int = 960  # frames are analysed with their longer side at most this
    k: int = 16  # nearest template descriptors per frame descriptor (similar templates crowd the top)
    checks: int = 96  # FLANN leaves visited per query: recall against speed
    ratio: float = 0.85  # same-template ratio test
    candidates: int = 16  # layouts tried by RANSAC, most matches first (RANSAC is cheap)
    reprojection: float = 0.006  # RANSAC inlier distance, share of the frame width
    min_inliers: int = 100  # pooled inliers to accept: above all overlay-free benchmark videos (max 98)
    min_width: float = 0.04  # accepted overlay widths, share of the frame width
    max_width: float = 1.0
    max_rotation: float = 8.0  # degrees
    kinds: tuple[str, ...] | None = None  # feature kinds to use (None: all of the bank's)
    xfeat_frames: int = 8  # XFeat (slower than SIFT) runs on this many of the sampled frames
    verify_fraction: float = 0.3  # layouts with this share of the best inliers are verified by picture


@dataclass(frozen=True)
class Location:
    """Where the overlay is: ``affine`` (2, 3) maps canonical template pixels to frame pixels.

    ``box`` is (x, y, w, h) of the skin's canvas in frame pixels (clipped to the frame);
    ``scale`` is frame pixels per *native* skin pixel; ``inliers`` the pooled RANSAC inliers;
    ``confidence`` = inliers / (inliers + runner-up layout's inliers + min_inliers), in (0, 1);
    ``support`` the share of sampled frames with inliers (below 1: the overlay is hidden or moves).
    """

    skin: str
    layout: str
    affine: np.ndarray
    box: Box
    scale: float
    inliers: int
    confidence: float
    support: float
    candidates: dict[str, int] = field(default_factory=dict)  # layout -> inliers, for diagnosis

    def to_dict(self) -> dict:
        return {
            "skin": self.skin, "layout": self.layout, "box": list(self.box), "scale": self.scale,
            "affine": self.affine.round(5).tolist(), "inliers": self.inliers,
            "confidence": round(self.confidence, 4), "support": round(self.support, 4),
        }  # fmt: skip


@dataclass
class _Matches:
    """Pooled matches of one layout: frame points (n, 2), template points (n, 2), frame number (n,)."""

    frame: list[np.ndarray] = field(default_factory=list)
    template: list[np.ndarray] = field(default_factory=list)
    which: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.concatenate(self.frame), np.concatenate(self.template), np.concatenate(self.which)


def match_frame(bank: TemplateBank, kind: str, feats: Features, cfg: LocateConfig):
    """Matches of one frame's features that pass the same-template ratio test.

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
    later = np.where(same & earlier.T[None], dist[:, None, :], np.inf).min(
        axis=2
    )  # next of the same template
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


def _fit(src: np.ndarray, dst: np.ndarray, frame_size: tuple[int, int], template_size, cfg: LocateConfig):
    """Similarity transform template -> frame by RANSAC, or None if absurd. Returns (affine, inlier mask)."""
    fh, fw = frame_size
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
    if affine is None:
        return None
    scale = math.hypot(affine[0, 0], affine[1, 0])
    angle = math.degrees(math.atan2(affine[1, 0], affine[0, 0]))
    th, tw = template_size
    corners = np.array([[0, 0], [tw, 0], [0, th], [tw, th]], np.float64) @ affine[:, :2].T + affine[:, 2]
    centre = corners.mean(axis=0)
    width = scale * tw
    if abs(angle) > cfg.max_rotation or not cfg.min_width * fw <= width <= cfg.max_width * fw:
        return None
    if not (0 <= centre[0] <= fw and 0 <= centre[1] <= fh):
        return None
    return affine, mask.ravel().astype(bool)


def _box(affine: np.ndarray, template_size: tuple[int, int], frame_size: tuple[int, int]) -> Box:
    th, tw = template_size
    corners = np.array([[0, 0], [tw, 0], [0, th], [tw, th]], np.float64) @ affine[:, :2].T + affine[:, 2]
    x0, y0 = np.clip(corners.min(axis=0), 0, [frame_size[1], frame_size[0]])
    x1, y1 = np.clip(corners.max(axis=0), 0, [frame_size[1], frame_size[0]])
    return round(x0), round(y0), round(x1 - x0), round(y1 - y0)


def _photometric(bank: TemplateBank, template: int, affine: np.ndarray, mean_frame: np.ndarray) -> float:
    """Correlation between the template (over mid-grey) warped into the frame and the mean sampled frame.

    The whole box counts, transparent parts included: the game behind an overlay averages out over
    the sampled frames, while what the overlay paints stays, so a dark semi-transparent body and a
    see-through one (two colourways with the same outlines) are told apart. Correlation ignores the
    opacity the overlay is blended at and the brightness behind it.
    """
    h, w = mean_frame.shape[:2]
    image = bank.templates[template].image
    warped = cv2.warpAffine(on_grey(image), affine, (w, h), flags=cv2.INTER_AREA).astype(np.float32)
    inside = cv2.warpAffine(np.ones(image.shape[:2], np.uint8), affine, (w, h), flags=cv2.INTER_NEAREST) > 0
    if inside.sum() < 50:
        return -1.0
    ref = warped[inside].ravel()
    obs = mean_frame[inside].ravel()
    ref, obs = ref - ref.mean(), obs - obs.mean()
    return float(ref @ obs / (np.linalg.norm(ref) * np.linalg.norm(obs) + 1e-6))


def _verify(
    bank: TemplateBank, fits: list[tuple[int, np.ndarray]], frames: np.ndarray
) -> tuple[int, np.ndarray]:
    """The (template, affine) among the colourways of the fitted layouts that best explains the frames."""
    best, best_score = (-1, fits[0][1]), -np.inf
    mean_frame = frames.astype(np.float32).mean(axis=0)
    for layout, affine in fits:
        for t in np.flatnonzero(bank.layout_of == layout):
            score = _photometric(bank, int(t), affine, mean_frame)
            if score > best_score:
                best, best_score = (int(t), affine), score
    return best


def frame_features(frames: np.ndarray, bank: TemplateBank, config: LocateConfig | None = None):
    """Features of the sampled frames per kind: ``{kind: {frame number: Features}}``.

    XFeat, the slower extractor, runs on ``config.xfeat_frames`` of the frames spread evenly.
    """
    cfg = config or LocateConfig()
    out = {}
    for kind in cfg.kinds or bank.kinds:
        if kind not in bank.extractors:
            raise FeatureError(f"the template bank has no {kind} index (it has {', '.join(bank.kinds)})")
        chosen = range(len(frames))
        if kind == "xfeat" and cfg.xfeat_frames < len(frames):
            chosen = np.unique(
                np.round(np.linspace(0, len(frames) - 1, cfg.xfeat_frames)).astype(int)
            ).tolist()
        feats = bank.extractors[kind]([frames[i] for i in chosen])
        out[kind] = dict(zip(chosen, feats, strict=True))
    return out


def locate_frames(
    frames: np.ndarray, bank: TemplateBank, config: LocateConfig | None = None, features=None
) -> Location | None:
    """:func:`locate` on already decoded frames ``(N, H, W, 3)`` uint8 (all the same size).

    ``features`` (from :func:`frame_features`) may be given to reuse extracted features; only the
    kinds in ``config.kinds`` (default: all of the bank's) are used.
    """
    cfg = config or LocateConfig()
    features = features if features is not None else frame_features(frames, bank, cfg)
    frame_size = frames.shape[1:3]
    pooled: dict[int, _Matches] = {}
    for kind in cfg.kinds or bank.kinds:
        index = bank.indexes[kind]
        for f, feats in features[kind].items():
            q, t, layout = match_frame(bank, kind, feats, cfg)
            for lay in np.unique(layout):
                sel = layout == lay
                m = pooled.setdefault(int(lay), _Matches())
                m.frame.append(feats.keypoints[q[sel]])
                m.template.append(index.keypoints[t[sel]])
                m.which.append(np.full(int(sel.sum()), f))
    counts = sorted(((sum(len(a) for a in m.frame), lay) for lay, m in pooled.items()), reverse=True)
    results: dict[int, tuple[np.ndarray, int, float]] = {}
    for _, lay in counts[: cfg.candidates]:
        dst, src, which = pooled[lay].arrays()
        template = bank.templates[int(np.flatnonzero(bank.layout_of == lay)[0])]
        fit = _fit(src.astype(np.float32), dst.astype(np.float32), frame_size, template.size, cfg)
        if fit is not None:
            affine, inliers = fit
            support = len(np.unique(which[inliers])) / len(frames)
            results[lay] = (affine, int(inliers.sum()), support)
    ranked = sorted(results.items(), key=lambda item: item[1][1], reverse=True)
    diagnosis = {bank.layouts[lay]: r[1] for lay, r in ranked}
    log.debug("locate: inliers per layout %s", diagnosis)
    if not ranked or ranked[0][1][1] < cfg.min_inliers:
        return None
    inliers = ranked[0][1][1]
    # Near-identical layouts (and colourways) gather similar inlier counts: the picture decides.
    close = [(lay, r[0]) for lay, r in ranked if r[1] >= cfg.verify_fraction * inliers]
    template, affine = _verify(bank, close, frames)
    best = bank.templates[template]
    lay = int(bank.layout_of[template])
    inliers, support = results[lay][1], results[lay][2]
    runner_up = max((r[1] for other, r in ranked if other != lay), default=0)
    return Location(
        skin=best.skin.name, layout=best.skin.layout, affine=affine, box=_box(affine, best.size, frame_size),
        scale=math.hypot(affine[0, 0], affine[1, 0]) * best.factor, inliers=inliers,
        confidence=inliers / (inliers + runner_up + cfg.min_inliers), support=support, candidates=diagnosis,
    )  # fmt: skip


def sample_for_locate(video: str | os.PathLike[str], cfg: LocateConfig) -> tuple[np.ndarray, float]:
    """The frames to analyse ``(n, h, w, 3)`` and the factor from analysed to original pixels."""
    from pixelpad.video import probe, sample_frames

    info = probe(video)
    factor = max(1.0, max(info.width, info.height) / cfg.max_side)
    size = None if factor == 1.0 else (round(info.height / factor), round(info.width / factor))
    n = min(cfg.frames, max(1, info.num_frames))
    indices, frames = sample_frames(video, n, keyframes_only=info.num_frames > cfg.keyframes_above, size=size)
    _, unique = np.unique(indices, return_index=True)  # key-frame sampling can repeat frames
    return frames[np.sort(unique)], factor


def locate(
    video: str | os.PathLike[str], bank: TemplateBank, config: LocateConfig | None = None
) -> Location | None:
    """Find the overlay in ``video``: a :class:`Location`, or None when there is none.

    Raises :class:`pixelpad.video.VideoError` for a file that is not a readable video.
    """
    cfg = config or LocateConfig()
    frames, factor = sample_for_locate(video, cfg)
    found = locate_frames(frames, bank, cfg)
    if found is None or factor == 1.0:
        return found
    box = tuple(round(v * factor) for v in found.box)
    return replace(found, affine=found.affine * factor, box=box, scale=found.scale * factor)
