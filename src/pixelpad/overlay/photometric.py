"""Comparing a located skin's picture with the video: which colourway, and does it really agree.

Colourways of one layout share geometry, so features cannot tell them apart, and a chance fit on
game content can gather keypoint matches; the pixels settle both. Both measures use the mean of the
sampled frames: the game behind an overlay averages out over them, while what the overlay paints
stays. Correlation ignores the opacity the overlay is blended at and the brightness behind it.
"""

from __future__ import annotations

import cv2
import numpy as np

from pixelpad.overlay.bank import TemplateBank, on_grey

OPAQUE = 200  # alpha above which a template pixel counts as painted by the overlay
MIN_PIXELS = 30  # fewer compared pixels than this: no verdict (-1)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-6))


def colourway_score(image: np.ndarray, affine: np.ndarray, mean_frame: np.ndarray) -> float:
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
    see-through parts cannot blur them), and the whole box (:func:`colourway_score`), for skins whose
    opaque pixels are all one colour (white outlines over a tinted body) and correlate with nothing.
    Shapes as in :func:`colourway_score`.
    """
    h, w = mean_frame.shape[:2]
    warped = cv2.warpAffine(image, affine, (w, h), flags=cv2.INTER_AREA)
    painted = warped[..., 3] > OPAQUE
    whole = colourway_score(image, affine, mean_frame)
    if painted.sum() < MIN_PIXELS:
        return whole
    opaque = _correlation(warped[..., :3][painted].astype(np.float32).ravel(), mean_frame[painted].ravel())
    return max(opaque, whole)


def choose_template(
    bank: TemplateBank, fits: list[tuple[int, np.ndarray]], mean_frame: np.ndarray
) -> tuple[int, np.ndarray]:
    """The (template, affine) among the colourways of the fitted ``(layout, affine)`` that best explains
    the mean frame ``(H, W, 3)`` float32 (:func:`colourway_score`)."""
    best, best_score = (-1, fits[0][1]), -np.inf
    for layout, affine in fits:
        for t in np.flatnonzero(bank.layout_of == layout):
            score = colourway_score(bank.templates[int(t)].image, affine, mean_frame)
            if score > best_score:
                best, best_score = (int(t), affine), score
    return best
