"""A small synthetic dataset: shapes moved by the actions, with a fake input overlay.

Each episode is a tiny "game": the left stick moves a square (it turns green while ``south`` is
held), the right stick places a circle around the centre, and the d-pad tints the background. The
bottom-right corner shows a drawn gamepad of the current action, like a streamer's input overlay,
and its box is recorded as ``overlay_box`` — so the toy data exercises the whole chain (overlay
masking included) and a policy can learn it from pixels. Deterministic for a given seed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from pixelpad.actions import ACTION_DIM, AXIS_SLICE, INDEX
from pixelpad.dataset.writer import EpisodeWriter
from pixelpad.render import draw_controller


def toy_actions(length: int, rng: np.random.Generator) -> np.ndarray:
    """``(length, 21)`` plausible play: smooth sticks, held buttons (a few at a time)."""
    acts = np.zeros((length, ACTION_DIM), dtype=np.float32)
    velocity = np.zeros(4)
    axes = np.zeros(4)
    for t in range(length):
        velocity = 0.8 * velocity + rng.normal(0, 0.08, 4)
        axes = np.clip(0.85 * axes + velocity, -1, 1)
        acts[t, AXIS_SLICE] = np.round(axes, 3)
    for name, rate in (("south", 0.08), ("east", 0.03), ("dpad_up", 0.02), ("dpad_left", 0.02)):
        held, col = False, INDEX[name]
        for t in range(length):
            if rng.random() < rate * (3 if held else 1):
                held = not held
            acts[t, col] = float(held)
    return acts


def toy_frames(
    acts: np.ndarray, size: tuple[int, int], overlay_box: tuple[int, int, int, int] | None
) -> Iterator[np.ndarray]:
    """The frames the toy game shows for ``acts``: ``(H, W, 3)`` uint8 each."""
    height, width = size
    pos = np.array([width / 2, height / 2])
    side = max(4, height // 8)
    for act in acts:
        tint = 40 * act[INDEX["dpad_up"]] + 20 * act[INDEX["dpad_left"]]
        frame = np.empty((height, width, 3), dtype=np.uint8)
        frame[:] = (30 + tint, 40, 70 - tint / 2)
        pos = np.clip(
            pos + 3.0 * act[[INDEX["left_x"], INDEX["left_y"]]], side, [width - side, height - side]
        )
        colour = (60, 220, 90) if act[INDEX["south"]] else (230, 70, 60)
        x, y = pos.astype(int)
        cv2.rectangle(frame, (x - side // 2, y - side // 2), (x + side // 2, y + side // 2), colour, -1)
        centre = np.array([width / 2, height / 2]) + act[[INDEX["right_x"], INDEX["right_y"]]] * height / 3
        radius = max(2, side // 3)
        cv2.circle(
            frame,
            tuple(int(v) for v in centre),
            radius,
            (240, 240, 240) if not act[INDEX["east"]] else (250, 200, 0),
            -1,
        )
        if overlay_box is not None:
            bx, by, bw, bh = overlay_box
            frame[by : by + bh, bx : bx + bw] = draw_controller(act, (bh, bw))
        yield frame


def make_toy_dataset(
    root: str | os.PathLike[str],
    *,
    episodes: int = 4,
    length: int = 64,
    size: tuple[int, int] = (96, 128),
    fps: float = 15.0,
    seed: int = 0,
    overlay: bool = True,
    game: str = "toy-shapes",
) -> Path:
    """Write (or append) ``episodes`` toy episodes of ``length`` frames of ``size`` (H, W) to ``root``."""
    rng = np.random.default_rng(seed)
    height, width = size
    box = (width - width // 3, height - height // 4, width // 3, height // 4) if overlay else None
    with EpisodeWriter(root, fps=fps) as writer:
        for _ in range(episodes):
            acts = toy_actions(length, rng)
            writer.add_episode(
                toy_frames(acts, size, box),
                acts,
                game=game,
                overlay_box=box,
                task="move the square",
                extra={"seed": seed},
            )
    return Path(root)
