"""Comparing a located skin's picture with the video: which colourway, and does it really agree.

Colourways of one layout share geometry, so features cannot tell them apart, and a chance fit on
game content can gather keypoint matches; the pixels settle both. Both measures use the mean of the
sampled frames: the game behind an overlay averages out over them, while what the overlay paints
stays.

*Which colourway* (:func:`colourway_residuals`) is a question of transparency as much as colour:
siblings often differ only in how opaque and how dark their body is (a clear, a smoked and a white
shell over the same outlines), and at stream opacities of 0.5-1 over a dark game they look nearly
alike. Each colourway is fitted the way the stream made the picture, alpha-blended over an unknown
game (:mod:`pixelpad.overlay.template_fit`), tile by tile: within a small tile the game behind is
taken as one colour, so what a colourway must explain is how the picture changes *across* the
tile -- an outline over a darkened body, a button against its shell. Only tiles where the
colourways differ are compared. With the true transform a pixel off (``benchmarks/colourway.py``,
80 videos): 84% right colourways by whole-box correlation, 94% by this fit; in
``benchmarks/locate.py`` (100 videos) wrong colourways went from 11 to 2. The two left are
xbox-controller ``default`` taken for ``clear``: their released pictures are the same, only their
pressed sprites differ, which a mean frame cannot show. Fitting each sampled frame with each
colourway's picture with one control pressed (against the shared released one) did not settle them
either: with the opacity fitted per tile, and even with one opacity fitted over the whole overlay,
the two pressed sprites explained the frames within 2 % of each other (in one of the two videos the
``clear`` sprites fitted the true ``default`` presses better in 6 of 9 pressed controls).

*Does it agree* (:func:`agreement`) stays a correlation, which ignores the opacity the overlay is
blended at and the brightness behind it; localisation ranks layouts with it. :func:`explained`
asks the same question with the blended model (how much of the frame's detail under the box the
skin accounts for); localisation accepts on it (evidence overlapped between overlay-free videos
and small right overlays, the explained detail did not).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pixelpad.errors import PixelpadError
from pixelpad.overlay.bank import TemplateBank, on_grey
from pixelpad.overlay.template_fit import Templates, residuals

OPAQUE = 200  # alpha above which a template pixel counts as painted by the overlay
MIN_PIXELS = 30  # fewer compared pixels than this: no verdict (-1)


class ColourwayError(PixelpadError, ValueError):
    """Templates that cannot be compared as colourways of one layout."""


@dataclass(frozen=True)
class ColourwayConfig:
    """How colourways are fitted to the mean frame (defaults measured with ``benchmarks/colourway.py``)."""

    tile: int = 16  # frame pixels per tile side: the game behind one tile is taken as one colour
    margin: int = 4  # frame pixels around the canvas compared too: the bare game beside the overlay's edge
    # Overlay opacities tried per tile (streams blend at 0.5-1; a fit may not fade a colourway out).
    min_opacity: float = 0.5
    max_opacity: float = 1.0
    opacity_steps: int = 6
    same_colour: float = 2.0  # premultiplied colour (0-255) within this in every colourway: same pixel
    same_alpha: float = 0.01  # and opacity (0-1) within this
    # A fitted transform is often a pixel or two off, which thin outlines feel: it is first shifted by
    # what aligns the pictures' edges with the frame's (at most this many pixels; 0: not at all).
    max_shift: float = 3.0

    @property
    def opacities(self) -> np.ndarray:
        return np.linspace(self.min_opacity, self.max_opacity, self.opacity_steps)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-6))


def box_correlation(image: np.ndarray, affine: np.ndarray, mean_frame: np.ndarray) -> float:
    """Correlation of the template (over mid-grey) warped into the frame with the mean frame, whole box.

    Args:
        image: the template, RGBA ``(h, w, 4)`` uint8, canonical pixels.
        affine: ``(2, 3)`` canonical template -> frame.
        mean_frame: ``(H, W, 3)`` float32, the mean of the sampled frames.

    The transparent parts count too, so a dark semi-transparent body and a see-through one (two
    colourways with the same outlines) are told apart.
    """
    h, w = mean_frame.shape[:2]
    warped = cv2.warpAffine(on_grey(image), affine, (w, h), flags=cv2.INTER_AREA).astype(np.float32)
    inside = cv2.warpAffine(np.ones(image.shape[:2], np.uint8), affine, (w, h), flags=cv2.INTER_NEAREST) > 0
    if inside.sum() < MIN_PIXELS:
        return -1.0
    return _correlation(warped[inside].ravel(), mean_frame[inside].ravel())


def agreement(image: np.ndarray, affine: np.ndarray, mean_frame: np.ndarray) -> float:
    """How well the template warped into the frame agrees with the mean frame: a correlation in [-1, 1].

    What a true overlay paints is in every frame; a chance fit puts the picture on game content it
    does not resemble. The better of two views: the *opaque* pixels alone (the game behind the
    see-through parts cannot blur them), and the whole box (:func:`box_correlation`), for skins whose
    opaque pixels are all one colour (white outlines over a tinted body) and correlate with nothing.
    Shapes as in :func:`box_correlation`.
    """
    h, w = mean_frame.shape[:2]
    warped = cv2.warpAffine(image, affine, (w, h), flags=cv2.INTER_AREA)
    painted = warped[..., 3] > OPAQUE
    whole = box_correlation(image, affine, mean_frame)
    if painted.sum() < MIN_PIXELS:
        return whole
    opaque = _correlation(warped[..., :3][painted].astype(np.float32).ravel(), mean_frame[painted].ravel())
    return max(opaque, whole)


def _crop(size: tuple[int, int], affine: np.ndarray, frame_size: tuple[int, int], margin: int):
    """``(x0, y0, x1, y1)``: the frame pixels a template of ``size`` (h, w) covers under ``affine``, and
    ``margin`` more on each side, within the frame."""
    th, tw = size
    corners = np.array([[0, 0], [tw, 0], [0, th], [tw, th]], np.float64) @ affine[:, :2].T + affine[:, 2]
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - margin, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + margin, [frame_size[1], frame_size[0]])
    return int(x0), int(y0), int(x1), int(y1)


def premultiplied_warp(
    image: np.ndarray, affine: np.ndarray, crop: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The template as the frame sees it: premultiplied colour ``(h, w, 3)`` (0-255) and opacity ``(h, w)``
    (0-1) over the frame pixels ``crop`` (x0, y0, x1, y1), float32.

    Premultiplied, so that resampling mixes a transparent pixel's colour in by its opacity only.
    Shrunk with area averaging first (an overlay is usually 2-4x smaller than its canonical template
    and a plain warp would alias its thin outlines), then placed with the rest of the transform.
    """
    pixels = image.astype(np.float32)
    alpha = pixels[..., 3:] / 255
    premultiplied = np.concatenate([pixels[..., :3] * alpha, alpha], axis=-1)
    th, tw = image.shape[:2]
    scale = float(np.hypot(affine[0, 0], affine[1, 0]))
    sw, sh = max(1, round(tw * scale)), max(1, round(th * scale))
    small = cv2.resize(premultiplied, (sw, sh), interpolation=cv2.INTER_AREA) if scale < 1 else premultiplied
    # Pixel (j, i) of the shrunk copy is centred on canonical (r·j + (r − 1)/2, ...), r = the shrink.
    rx, ry = tw / small.shape[1], th / small.shape[0]
    shrink = np.array([[rx, 0, (rx - 1) / 2], [0, ry, (ry - 1) / 2], [0, 0, 1]])
    rest = affine.astype(np.float64) @ shrink
    x0, y0, x1, y1 = crop
    rest[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(small, rest, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=0)
    return warped[..., :3], warped[..., 3]


def _edges(image: np.ndarray) -> np.ndarray:
    """Gradient magnitude ``(h, w)`` float32 of an ``(h, w, 3)`` image's mean over channels."""
    grey = np.ascontiguousarray(image.mean(axis=-1), np.float32)
    return cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def align(
    images: list[np.ndarray],
    affine: np.ndarray,
    mean_frame: np.ndarray,
    config: ColourwayConfig = ColourwayConfig(),
) -> np.ndarray:
    """``affine`` shifted so that the colourways' edges line up with the mean frame's: ``(2, 3)``.

    The colourways share their outlines, so the sum of their edge maps (drawn over mid-grey) is
    phase-correlated with the mean frame's edges around the box; a shift beyond ``config.max_shift``
    pixels is not believed (the transform is returned unchanged). On 108 synthetic videos with the
    true transform moved by up to 2 pixels it brought the median error from 1.6 to 0.4 pixels.
    Shapes as in :func:`colourway_residuals`.
    """
    crop = _crop(images[0].shape[:2], affine, mean_frame.shape[:2], 2 * config.margin)
    x0, y0, x1, y1 = crop
    if config.max_shift <= 0 or min(x1 - x0, y1 - y0) < 8:
        return affine
    drawn = np.zeros((y1 - y0, x1 - x0), np.float32)
    for image in images:
        colour, alpha = premultiplied_warp(image, affine, crop)
        drawn += _edges(colour + 128 * (1 - alpha[..., None]))
    seen = _edges(mean_frame[y0:y1, x0:x1])
    window = cv2.createHanningWindow((x1 - x0, y1 - y0), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(drawn, seen, window)
    if max(abs(dx), abs(dy)) > config.max_shift:
        return affine
    shifted = np.array(affine, np.float64)
    shifted[:, 2] += (dx, dy)
    return shifted


def colourway_residuals(
    images: list[np.ndarray],
    affine: np.ndarray,
    mean_frame: np.ndarray,
    config: ColourwayConfig = ColourwayConfig(),
) -> np.ndarray:
    """How badly each colourway explains the mean frame: ``(K,)`` mean squared residual, lower is better.

    Args:
        images: ``K`` RGBA ``(h, w, 4)`` uint8 templates of one layout (same size, same canonical pixels).
        affine: ``(2, 3)`` canonical template -> frame, shared by the colourways.
        mean_frame: ``(H, W, 3)`` float32, the mean of the sampled frames.
        config: tiles and opacities.

    Per tile of ``config.tile`` frame pixels where the colourways differ, each is fitted as blended
    at its best opacity over a game of one colour (:func:`pixelpad.overlay.template_fit.residuals`);
    the squared residuals are summed over those tiles. All zeros when the colourways look alike
    everywhere (or lie outside the frame).
    """
    if len({im.shape for im in images}) != 1:
        raise ColourwayError(f"colourways of one layout must share a size, got {[im.shape for im in images]}")
    crop = _crop(images[0].shape[:2], affine, mean_frame.shape[:2], config.margin)
    x0, y0, x1, y1 = crop
    total = np.zeros(len(images))
    if x1 <= x0 or y1 <= y0:
        return total
    warped = [premultiplied_warp(im, affine, crop) for im in images]
    colour = np.stack([c for c, _ in warped])  # (K, h, w, 3)
    alpha = np.stack([a for _, a in warped])  # (K, h, w)
    frame = mean_frame[y0:y1, x0:x1].astype(np.float32)
    k, h, w = alpha.shape
    step, pixels = config.tile, 0
    for ty in range(0, h, step):
        for tx in range(0, w, step):
            a = alpha[:, ty : ty + step, tx : tx + step].reshape(k, -1)
            c = colour[:, ty : ty + step, tx : tx + step].reshape(k, -1, 3)
            if np.abs(c - c[:1]).max() <= config.same_colour and np.abs(a - a[:1]).max() <= config.same_alpha:
                continue  # every colourway paints this tile alike: it cannot tell them apart
            patch = frame[ty : ty + step, tx : tx + step].reshape(-1, 3, 1)
            fit = residuals(Templates.build(c, a), np.ascontiguousarray(patch), config.opacities)[0]
            total += fit * a.shape[1]
            pixels += a.shape[1]
    return total / max(pixels, 1)


def explained(
    image: np.ndarray, affine: np.ndarray, mean_frame: np.ndarray, config: ColourwayConfig = ColourwayConfig()
) -> float:
    """How much of the mean frame's detail under the box the skin explains: ``1 − SSE(fit) / SSE(flat)``.

    Per tile of ``config.tile`` frame pixels, the fit is the skin alpha-blended at its best opacity
    over a game of one colour (:func:`pixelpad.overlay.template_fit.residuals`), and the flat model is
    that one colour alone. A true overlay explains most of what the mean frame shows there (the game
    behind it averages out); a picture put on game content explains less than nothing, since the
    blend may not fade it below ``config.min_opacity``. At most 1; -1 when the box is outside the
    frame. Shapes as in :func:`box_correlation`.
    """
    x0, y0, x1, y1 = _crop(image.shape[:2], affine, mean_frame.shape[:2], 0)
    if x1 <= x0 or y1 <= y0:
        return -1.0
    colour, alpha = premultiplied_warp(image, affine, (x0, y0, x1, y1))
    frame = mean_frame[y0:y1, x0:x1].astype(np.float32)
    fit = flat = 0.0
    step = config.tile
    for ty in range(0, y1 - y0, step):
        for tx in range(0, x1 - x0, step):
            a = alpha[ty : ty + step, tx : tx + step].reshape(1, -1)
            c = colour[ty : ty + step, tx : tx + step].reshape(1, -1, 3)
            patch = np.ascontiguousarray(frame[ty : ty + step, tx : tx + step].reshape(-1, 3, 1))
            fit += float(residuals(Templates.build(c, a), patch, config.opacities)[0, 0]) * 3 * a.shape[1]
            flat += float(((patch - patch.mean(axis=0)) ** 2).sum())
    return 1.0 - fit / max(flat, 1e-9)


def choose_template(
    bank: TemplateBank,
    fits: list[tuple[int, np.ndarray]],
    mean_frame: np.ndarray,
    config: ColourwayConfig = ColourwayConfig(),
) -> tuple[int, np.ndarray]:
    """The (template, affine) among the colourways of the fitted ``(layout, affine)`` pairs that best
    explains the mean frame ``(H, W, 3)`` float32.

    Within a layout the colourway with the least blended-fit residual wins (:func:`colourway_residuals`,
    after :func:`align`); between layouts, whose canvases differ, the winners' whole-box correlations
    decide (:func:`box_correlation`). The affine returned is the one given.
    """
    best, best_score = (-1, fits[0][1]), -np.inf
    for layout, affine in fits:
        siblings = np.flatnonzero(bank.layout_of == layout)
        chosen = int(siblings[0])
        if len(siblings) > 1:
            images = [bank.templates[int(t)].image for t in siblings]
            aligned = align(images, affine, mean_frame, config)
            chosen = int(siblings[int(np.argmin(colourway_residuals(images, aligned, mean_frame, config)))])
        score = box_correlation(bank.templates[chosen].image, affine, mean_frame)
        if score > best_score:
            best, best_score = (chosen, affine), score
    return best
