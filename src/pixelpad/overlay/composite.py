"""Putting an overlay on a frame: where (corner, margin), how big (scale), how see-through (opacity).

A streamer's overlay is a skin scaled to some share of the frame width, pinned near a corner and
blended at some opacity. The scale is relative to :data:`BASE_WIDTH` of the frame width so a
placement means the same thing at any resolution. The skin is *re-drawn* at the target size
(:func:`pixelpad.overlay.skin.resize_skin`) rather than its render resampled each frame, which is
both exact and fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelpad.errors import PixelpadError
from pixelpad.overlay.skin import Skin, resize_skin

Box = tuple[int, int, int, int]  # x, y, w, h
CORNERS = ("tl", "tr", "bl", "br")
BASE_WIDTH = 0.3  # overlay width / frame width at scale 1


class PlacementError(PixelpadError, ValueError):
    """A placement that does not fit the frame."""


@dataclass(frozen=True)
class Placement:
    """Where an overlay goes: ``corner`` of :data:`CORNERS`, ``scale`` (1 = 30% of the frame width),
    ``opacity`` in (0, 1], ``margin`` from the frame edges as a share of the frame width."""

    corner: str = "br"
    scale: float = 1.0
    opacity: float = 1.0
    margin: float = 0.02

    def __post_init__(self) -> None:
        if self.corner not in CORNERS:
            raise PlacementError(f"corner must be one of {', '.join(CORNERS)}, got {self.corner!r}")
        if not 0 < self.opacity <= 1 or self.scale <= 0 or self.margin < 0:
            raise PlacementError(f"bad placement {self}: need 0 < opacity <= 1, scale > 0, margin >= 0")


def place(skin: Skin, frame_size: tuple[int, int], placement: Placement) -> tuple[Skin, Box]:
    """``skin`` redrawn at its size in a frame of ``frame_size`` (height, width), and its box there."""
    fh, fw = frame_size
    factor = placement.scale * BASE_WIDTH * fw / skin.size[1]
    scaled = resize_skin(skin, factor)
    h, w = scaled.size
    margin = round(placement.margin * fw)
    if w + 2 * margin > fw or h + 2 * margin > fh:
        raise PlacementError(f"an overlay of {w}x{h} with margin {margin} does not fit a {fw}x{fh} frame")
    x = margin if placement.corner[1] == "l" else fw - margin - w
    y = margin if placement.corner[0] == "t" else fh - margin - h
    return scaled, (x, y, w, h)


def blend(frame: np.ndarray, overlay: np.ndarray, x: int, y: int, opacity: float = 1.0) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 with ``overlay`` (h, w, 4) uint8 drawn at (x, y) at ``opacity``.

    Returns a new frame; the overlay is clipped to the frame.
    """
    out = frame.copy()
    h, w = overlay.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if x0 >= x1 or y0 >= y1:
        return out
    part = overlay[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32)
    alpha = part[..., 3:4] * (opacity / 255.0)
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = (part[..., :3] * alpha + region * (1 - alpha) + 0.5).astype(np.uint8)
    return out


def random_placement(rng: np.random.Generator, *, scale=(0.5, 1.5), opacity=(0.5, 1.0)) -> Placement:
    """A placement drawn uniformly: any corner, scale and opacity in the given ranges."""
    return Placement(
        corner=str(rng.choice(CORNERS)),
        scale=float(rng.uniform(*scale)),
        opacity=float(rng.uniform(*opacity)),
        margin=float(rng.uniform(0.0, 0.04)),
    )
