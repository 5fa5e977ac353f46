"""Where an overlay hides the game: the pixels that any of its pictures covers, to be blacked out of
the frames a policy learns from.

Why not its whole box: most input-overlay skins are see-through around their controls. In the shared
collection, the pixels that some action draws at least half opaque cover 30-70 % of an input-overlay
skin's canvas (NintendoSpy skins are mostly opaque rectangles); the rest is empty, or a faint body
the game shows through. Blacking out the box hides that game too, and with the overlay in a corner,
that is where a game's targets or its player may be. What must go is what could teach the policy the
action: every control's released and pressed pictures and the sticks' caps over their whole travel.
A faint static body carries no action and stays.
"""

from __future__ import annotations

import cv2
import numpy as np

from pixelpad.actions import AXIS_SLICE, INDEX, null_action
from pixelpad.overlay.skin import Skin, resize_skin

STICK_STEPS = np.linspace(-1.0, 1.0, 5)  # cap positions per axis: a 5 x 5 grid over the travel


def covering_actions() -> list[np.ndarray]:
    """Actions whose renders together show every picture a skin can draw: nothing pressed; each of
    the d-pad's eight directions (a diagonal may have its own picture) with every other button
    pressed and the triggers full; each stick cap on a grid of its travel, thumbs pressed and not."""
    others = np.ones_like(null_action())
    others[AXIS_SLICE] = 0.0
    others[[INDEX[f"dpad_{d}"] for d in ("up", "down", "left", "right")]] = 0.0
    actions = [null_action()]
    for vertical in (None, "up", "down"):
        for horizontal in (None, "left", "right"):
            if vertical or horizontal:
                action = others.copy()
                action[[INDEX[f"dpad_{d}"] for d in (vertical, horizontal) if d]] = 1.0
                actions.append(action)
    for thumbs in (0.0, 1.0):
        for x in STICK_STEPS:
            for y in STICK_STEPS:
                action = others.copy()
                action[[INDEX["left_thumb"], INDEX["right_thumb"]]] = thumbs
                action[[INDEX["left_x"], INDEX["right_x"]]] = x
                action[[INDEX["left_y"], INDEX["right_y"]]] = y
                actions.append(action)
    return actions


def footprint(skin: Skin, *, min_alpha: float = 0.5, factor: float = 1.0) -> np.ndarray:
    """``(H, W)`` bool over ``skin`` drawn ``factor`` times as large: True where some action draws it
    at least ``min_alpha`` opaque (:func:`covering_actions`), grown by a pixel to close the gaps
    between the grid's stick positions."""
    if not 0.0 < min_alpha <= 1.0:
        raise ValueError(f"min_alpha must be in (0, 1], got {min_alpha}")
    drawn = skin if factor == 1.0 else resize_skin(skin, factor)
    covered = np.zeros(drawn.size, bool)
    for action in covering_actions():
        covered |= drawn.render(action, as_float=True)[..., 3] >= min_alpha
    return cv2.dilate(covered.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def frame_footprint(
    skin: Skin, affine: np.ndarray, size: tuple[int, int], *, min_alpha: float = 0.5
) -> np.ndarray:
    """``(H, W)`` bool of a ``size`` (H, W) frame: the pixels the overlay covers when ``affine`` (2, 3)
    maps native skin pixels to frame pixels, grown by one frame pixel (resampling, codec ringing).

    The skin is drawn at about twice the frame's scale (a few hundred pixels, not its native
    thousands: renders cost in proportion to pixels) and its footprint warped into the frame.
    """
    affine = np.asarray(affine, np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))  # frame pixels per native skin pixel
    factor = min(1.0, 2.0 * scale)
    mask = footprint(skin, min_alpha=min_alpha, factor=factor)
    drawn = np.array(affine)
    drawn[:, :2] /= factor  # drawn-skin pixels -> frame pixels
    h, w = size
    warped = cv2.warpAffine(mask.astype(np.uint8) * 255, drawn, (w, h), flags=cv2.INTER_LINEAR)
    return cv2.dilate((warped > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
