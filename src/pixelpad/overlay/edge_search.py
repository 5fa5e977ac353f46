"""Proposing where each layout could be without descriptor matching: static edges against outlines.

Why: the first pass (:mod:`pixelpad.overlay.first_pass`) sees a layout only through matches in the
index shared by all templates, where similar templates crowd each other out. On ``benchmarks/locate.py``
videos whose layout was found wrong, only 0-5 of the right layout's pooled first-pass matches
agreed with the true transform, while guided matching (:mod:`pixelpad.overlay.guided`) started from
the true transform found 127-743 inliers: the right layout never got the start the guided pass needs.
This search gives every layout such a start from the pixels alone.

How: the overlay is static while the game moves, so the mean over the sampled frames of each
frame's edge orientations keeps the overlay's edges and averages moving game edges away.
Orientations are taken as doubled angles (an outline is the same edge light on a dark game or dark on
a bright sky) weighted by a saturating function of the gradient (a faint see-through outline counts
about as much as a bold one). Each layout's outline (its colourways' fields summed, drawn over grey)
is correlated with that field at a few scales (normalised cross-correlation, one
``cv2.matchTemplate`` per layout and scale on a field :data:`SEARCH_WIDTH` pixels wide). Small
outlines fit busy game texture by chance at high correlation, so a peak is scored by how far it
stands above its own correlation map (a z-score), not by the correlation. The best-scoring layouts'
peaks become candidate transforms for the guided pass; acceptance
(:func:`pixelpad.overlay.photometric.explained`) still decides, so a chance peak costs time, not a
false accept. :func:`polish` puts a guided fit exactly on the outline: the layout's canonical outline
field resized to the fit's scale against the frames' field at full resolution.

Each layout's outline field in canonical pixels and its resized copies for the search are kept per
bank as long as the bank lives: 131 MB for the benchmark's 300 templates in 102 layouts (53 MB canonical).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pixelpad.errors import PixelpadError
from pixelpad.overlay.bank import TemplateBank, on_grey

SATURATION = 40.0  # gradient magnitude (Sobel, 0-255 pixels) at which an edge has half its full weight
SEARCH_WIDTH = 240  # the fields are correlated at this width (frames are analysed at up to 960)
BLUR = 1.0  # Gaussian sigma (search pixels) on both fields: a transform a pixel off still scores

# Per bank: each layout's outline field in canonical pixels, and its resized copies per size.
_OUTLINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class EdgeSearchError(PixelpadError, ValueError):
    """Input the edge search cannot use."""


@dataclass(frozen=True)
class Proposal:
    """A candidate transform of ``layout`` (index into ``bank.layouts``): ``affine`` (2, 3) canonical
    template -> frame pixels; ``score`` how far its correlation peak stands above its map (z-score)."""

    layout: int
    affine: np.ndarray
    score: float


def orientation_field(grey: np.ndarray) -> np.ndarray:
    """``(h, w, 2)`` float32 doubled-angle edge orientations of ``grey`` (h, w) float32, each of length
    ``m / (m + SATURATION)`` for gradient magnitude ``m``: (cos 2a, sin 2a) scaled."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    square = gx * gx + gy * gy
    magnitude = np.sqrt(square)
    scale = magnitude / ((magnitude + SATURATION) * np.maximum(square, 1e-6))
    return np.dstack([(gx * gx - gy * gy) * scale, 2 * gx * gy * scale])


def static_edges(frames: np.ndarray) -> np.ndarray:
    """Mean orientation field ``(H, W, 2)`` float32 of ``frames`` (N, H, W, 3) uint8: the overlay's
    edges, with moving game edges averaged away."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise EdgeSearchError(f"frames must be (N, H, W, 3) with N >= 1, got {frames.shape}")
    total = np.zeros((*frames.shape[1:3], 2), np.float32)
    for frame in frames:
        total += orientation_field(np.ascontiguousarray(frame.mean(axis=2, dtype=np.float32)))
    return total / len(frames)


def _shrink(field: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``field`` resized to ``size`` (w, h) by area averaging, then blurred by :data:`BLUR`."""
    small = cv2.resize(field, size, interpolation=cv2.INTER_AREA) if size != field.shape[1::-1] else field
    return cv2.GaussianBlur(small, (0, 0), BLUR)


def _canonical(bank: TemplateBank, layout: int) -> np.ndarray:
    """``layout``'s outline field in canonical pixels: its colourways' fields over grey, summed (cached)."""
    cache = _OUTLINES.setdefault(bank, {})
    if layout not in cache:
        ids = np.flatnonzero(bank.layout_of == layout)
        cache[layout] = sum(
            orientation_field(on_grey(bank.templates[int(t)].image).mean(axis=2, dtype=np.float32))
            for t in ids
        )
    return cache[layout]


def _outline(bank: TemplateBank, layout: int, size: tuple[int, int]) -> np.ndarray:
    """``layout``'s outline field resized to ``size`` (w, h) and blurred (cached per bank)."""
    cache = _OUTLINES.setdefault(bank, {})
    if (layout, size) not in cache:
        cache[layout, size] = _shrink(_canonical(bank, layout), size)
    return cache[layout, size]


def propose(
    bank: TemplateBank,
    edges: np.ndarray,
    count: int,
    widths: tuple[float, float] = (0.12, 0.75),
    step: float = 1.12,
    layouts: Sequence[int] | None = None,
) -> list[Proposal]:
    """The ``count`` layouts whose outline peaks highest over the static edges of ``frames``, best first.

    Args:
        bank: the templates.
        edges: the sampled frames' :func:`static_edges` (H, W, 2).
        count: layouts proposed (one transform each, its best peak over all scales).
        widths: overlay widths searched, as shares of the frame width (smallest, largest).
        step: ratio between successive scales searched.
        layouts: the layouts searched (bank indices); None: all of them.
    """
    if not 0 < widths[0] <= widths[1] <= 1 or step <= 1:
        raise EdgeSearchError(f"need 0 < widths[0] <= widths[1] <= 1 and step > 1, got {widths}, {step}")
    if count <= 0:
        return []
    h, w = edges.shape[:2]
    field = _shrink(edges, (SEARCH_WIDTH, max(1, round(h * SEARCH_WIDTH / w))))
    factor = w / field.shape[1]  # frame pixels per search pixel
    sh, sw = field.shape[:2]
    shares = widths[0] * step ** np.arange(int(np.log(widths[1] / widths[0]) / np.log(step)) + 1)
    best: dict[int, Proposal] = {}
    for layout in range(len(bank.layouts)) if layouts is None else layouts:
        th, tw = bank.templates[int(np.flatnonzero(bank.layout_of == layout)[0])].size
        for share in shares:
            size = (round(share * sw), round(share * sw * th / tw))
            if not (8 <= size[0] < sw and 8 <= size[1] < sh):
                continue
            response = cv2.matchTemplate(field, _outline(bank, layout, size), cv2.TM_CCORR_NORMED)
            _, peak, _, (x, y) = cv2.minMaxLoc(response)
            mean, std = cv2.meanStdDev(response)
            score = (peak - float(mean[0, 0])) / max(float(std[0, 0]), 1e-6)
            if layout not in best or score > best[layout].score:
                scale = size[0] * factor / tw  # frame pixels per canonical pixel
                affine = np.array([[scale, 0, x * factor], [0, scale, y * factor]])
                best[layout] = Proposal(layout, affine, score)
    return sorted(best.values(), key=lambda p: p.score, reverse=True)[:count]


def polish(
    bank: TemplateBank,
    layout: int,
    affine: np.ndarray,
    edges: np.ndarray,
    span: float = 0.08,
    steps: int = 17,
    shift: float = 0.02,
) -> tuple[np.ndarray, float]:
    """``affine`` moved to where ``layout``'s outline best fits ``edges`` (full resolution), with its
    correlation: ``((2, 3) affine, correlation)``.

    Why: a guided RANSAC fit of a thin-outline skin can be a few pixels or a few per cent off (its
    keypoints cluster on a few buttons), and what acceptance weighs
    (:func:`pixelpad.overlay.photometric.explained`) falls fast with that: on benchmark videos 0.19,
    0.16, 0.31 at the true transform against -0.03, 0.09, 0.05 at the guided fit. Scales within
    ``span`` (log) of the fit's in ``steps`` steps, shifts up to ``shift`` of the frame width, at
    the fit's rotation and unrotated (a streamer's overlay rarely is, a fit's rotation often is
    an error); the peak is interpolated to sub-pixel position.
    """
    canonical = _canonical(bank, layout)
    th, tw = canonical.shape[:2]
    fh, fw = edges.shape[:2]
    scale0 = float(np.hypot(affine[0, 0], affine[1, 0]))
    angle0 = float(np.arctan2(affine[1, 0], affine[0, 0]))
    centre = affine[:, :2] @ ((tw - 1) / 2, (th - 1) / 2) + affine[:, 2]
    margin = max(2, round(shift * fw))
    best = (-np.inf, affine)
    angles = (0.0,) if abs(angle0) < np.radians(0.5) else (0.0, angle0)
    for scale in scale0 * np.exp(np.linspace(-span, span, steps)):
        size = (round(tw * scale), round(th * scale))
        if min(size) < 8:
            continue
        outline = _shrink(canonical, size)
        for angle in angles:
            template = _rotate(outline, angle)
            x0 = round(centre[0] - (size[0] - 1) / 2) - margin
            y0 = round(centre[1] - (size[1] - 1) / 2) - margin
            xa, ya = max(0, x0), max(0, y0)
            region = edges[ya : min(fh, y0 + size[1] + 2 * margin), xa : min(fw, x0 + size[0] + 2 * margin)]
            if region.shape[0] < size[1] or region.shape[1] < size[0]:
                continue
            response = cv2.matchTemplate(region, template, cv2.TM_CCORR_NORMED)
            _, peak, _, (x, y) = cv2.minMaxLoc(response)
            if peak > best[0]:
                dx, dy = _subpixel(response, x, y)
                # Pixel j of the resized outline is centred on canonical (j - (s - 1) / 2) / s, s = its
                # scale per axis; then it is turned about its middle and placed at the peak.
                stretch = np.array(size) / (tw, th)
                cos, sin = np.cos(angle), np.sin(angle)
                rotation = np.array([[cos, -sin], [sin, cos]])
                middle = (np.array(size) - 1) / 2
                origin = np.array([xa + x + dx, ya + y + dy]) + middle
                offset = rotation @ ((stretch - 1) / 2 - middle) + origin
                best = (peak, np.column_stack([stretch.mean() * rotation, offset]))
    return best[1], float(best[0])


def _rotate(field: np.ndarray, angle: float) -> np.ndarray:
    """An orientation ``field`` (h, w, 2) turned by ``angle`` radians about its centre (doubled-angle
    vectors turn by twice that)."""
    if angle == 0.0:
        return field
    h, w = field.shape[:2]
    turn = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -np.degrees(angle), 1.0)
    moved = cv2.warpAffine(field, turn, (w, h), flags=cv2.INTER_LINEAR)
    cos, sin = np.cos(2 * angle), np.sin(2 * angle)
    c, s = moved[..., 0], moved[..., 1]
    return np.dstack([c * cos - s * sin, c * sin + s * cos]).astype(np.float32)


def _subpixel(response: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """Parabolic sub-pixel offset of the peak at (x, y) of ``response``, each within (-0.5, 0.5)."""

    def offset(a: float, b: float, c: float) -> float:
        curvature = a - 2 * b + c
        return float(np.clip(0.5 * (a - c) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0

    h, w = response.shape
    dx = offset(response[y, x - 1], response[y, x], response[y, x + 1]) if 0 < x < w - 1 else 0.0
    dy = offset(response[y - 1, x], response[y, x], response[y + 1, x]) if 0 < y < h - 1 else 0.0
    return dx, dy
