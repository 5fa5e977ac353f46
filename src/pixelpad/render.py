"""Pictures of actions: a drawn gamepad for videos, and a timeline plot of an action sequence.

Used by ``pixelpad dataset view``, by the play loop (what the policy pressed, frame by frame) and by
the toy dataset (its fake input overlay). The gamepad: two stick boxes with the stick as a dot
(their border lights when the stick is clicked), a d-pad, four face buttons, shoulders and triggers
on top, back/guide/start in the middle. A lit control is bright; a released one is dim.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from pixelpad.actions import AXES, BUTTONS, INDEX, NUM_BUTTONS, ActionError, validate

_ON = (255, 210, 60)
_OFF = (70, 70, 80)
_BG = (24, 24, 30)
_LINE = (150, 150, 160)

# Button rectangles in a 200 x 120 reference panel: (x0, y0, x1, y1); round ones are face/menu buttons.
_RECTS: dict[str, tuple[int, int, int, int]] = {
    "left_trigger": (10, 4, 50, 12),
    "left_shoulder": (10, 15, 50, 23),
    "right_trigger": (150, 4, 190, 12),
    "right_shoulder": (150, 15, 190, 23),
    "dpad_up": (62, 70, 72, 80),
    "dpad_down": (62, 92, 72, 102),
    "dpad_left": (51, 81, 61, 91),
    "dpad_right": (73, 81, 83, 91),
}
_CIRCLES: dict[str, tuple[int, int, int]] = {  # centre x, y, radius
    "north": (165, 36, 6),
    "south": (165, 60, 6),
    "west": (153, 48, 6),
    "east": (177, 48, 6),
    "back": (85, 40, 4),
    "guide": (100, 40, 5),
    "start": (115, 40, 4),
}
_STICKS = {"left": (8, 30, 48, 70), "right": (118, 70, 158, 110)}  # boxes (x0, y0, x1, y1)
_REFERENCE = (120, 200)  # height, width


def draw_controller(action: np.ndarray, size: tuple[int, int] = _REFERENCE) -> np.ndarray:
    """A gamepad showing one timestep ``(21,)``: uint8 RGB ``(height, width, 3)`` for ``size``."""
    act = validate(action, where="draw_controller")
    if act.shape != (len(BUTTONS) + len(AXES),):
        raise ActionError(f"draw_controller takes one timestep (21,), got {act.shape}")
    scale = 4  # draw large, then shrink: cheap anti-aliasing
    h, w = _REFERENCE
    canvas = np.full((h * scale, w * scale, 3), _BG, dtype=np.uint8)

    def s(*values: int) -> tuple[int, ...]:
        return tuple(int(v * scale) for v in values)

    pressed = {name: act[i] > 0.5 for i, name in enumerate(BUTTONS)}
    for name, (x0, y0, x1, y1) in _RECTS.items():
        cv2.rectangle(canvas, s(x0, y0), s(x1, y1), _ON if pressed[name] else _OFF, -1)
    for name, (cx, cy, r) in _CIRCLES.items():
        cv2.circle(canvas, s(cx, cy), s(r)[0], _ON if pressed[name] else _OFF, -1)
    for side, (x0, y0, x1, y1) in _STICKS.items():
        border = _ON if pressed[f"{side}_thumb"] else _LINE
        cv2.rectangle(canvas, s(x0, y0), s(x1, y1), border, scale)
        sx, sy = act[INDEX[f"{side}_x"]], act[INDEX[f"{side}_y"]]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half = (x1 - x0) / 2 - 4
        cv2.circle(canvas, s(cx + sx * half, cy + sy * half), 4 * scale, _ON, -1)
    return cv2.resize(canvas, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def with_controller(frame: np.ndarray, action: np.ndarray, panel_height: int | None = None) -> np.ndarray:
    """``frame`` (H, W, 3) with the drawn gamepad below it: ``(H + panel_height, W, 3)`` uint8.

    The panel keeps the gamepad's 5:3 aspect, centred; ``panel_height`` defaults to a third of H,
    rounded to even so the result can be H.264-encoded.
    """
    height, width = frame.shape[:2]
    panel_height = panel_height or max(24, (height // 3) // 2 * 2)
    pad_width = min(width, panel_height * _REFERENCE[1] // _REFERENCE[0])
    panel = np.full((panel_height, width, 3), _BG, dtype=np.uint8)
    left = (width - pad_width) // 2
    panel[:, left : left + pad_width] = draw_controller(action, (panel_height, pad_width))
    return np.concatenate([np.asarray(frame, dtype=np.uint8), panel], axis=0)


def plot_timeline(actions: np.ndarray, path: str | os.PathLike[str], *, fps: float, title: str = "") -> Path:
    """Save a PNG of ``(N, 21)`` actions over time: a button raster on top, the four axes below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acts = validate(actions, where="plot_timeline")
    if acts.ndim != 2:
        raise ActionError(f"plot_timeline takes (N, 21) actions, got {acts.shape}")
    seconds = np.arange(len(acts)) / fps
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [3, 2]}, constrained_layout=True
    )
    top.imshow(
        acts[:, :NUM_BUTTONS].T,
        aspect="auto",
        interpolation="nearest",
        cmap="Greys",
        vmin=0,
        vmax=1,
        extent=(0, len(acts) / fps, NUM_BUTTONS - 0.5, -0.5),
    )
    top.set_yticks(range(NUM_BUTTONS), BUTTONS, fontsize=7)
    top.set_title(title or "actions")
    for name in AXES:
        bottom.plot(seconds, acts[:, INDEX[name]], label=name, linewidth=1)
    bottom.set_ylim(-1.05, 1.05)
    bottom.set_xlabel("seconds")
    bottom.set_ylabel("stick (+y down)")
    bottom.legend(loc="upper right", fontsize=7, ncol=4)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
