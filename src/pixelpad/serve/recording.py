"""Record a policy's play: a side-by-side video (game | controller + predicted chunk) and a parquet.

The right-hand panel shows, for the frame on the left, the action being executed as a drawn gamepad
(:func:`pixelpad.render.draw_controller`) and below it the whole predicted chunk as a raster: one
column per step, one row per control (17 buttons lit or dim, 4 axes blue for negative and orange for
positive). The steps that will be executed are bright, the re-planned-away rest dim, the current
step outlined. So one glance tells what the policy planned and how much of it it got to play.

``actions.parquet`` has one row per executed step: ``step, episode, chunk, position``, the 21 controls
by name, ``reward``, the env's ``virtual_time`` after the step (null when the env does not report
it), and on the first row of each chunk ``think_ms`` and the full predicted chunk (``chunk_actions``,
a ``T x 21`` list); both are null on the other rows.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pixelpad.actions import ACTION_DIM, NAMES, NUM_BUTTONS
from pixelpad.render import draw_controller
from pixelpad.video import VideoWriter

log = logging.getLogger(__name__)

VIDEO_NAME = "play.mp4"
ACTIONS_NAME = "actions.parquet"
# Short row labels of the chunk raster, in NAMES order (face buttons by Xbox letter).
_LABELS = (
    "dD", "dL", "dR", "dU", "LB", "LS", "LT", "RB", "RS", "RT", "A", "X", "B", "Y", "bk", "st", "gd",
    "lx", "ly", "rx", "ry",
)  # fmt: skip
_MIN_HEIGHT = 360  # smaller games are scaled up so the panel stays legible
_BG = (24, 24, 30)
_ON = (255, 210, 60)
_OFF = (60, 60, 70)
_TEXT = (220, 220, 220)


def _even(n: float) -> int:
    return max(2, round(n / 2) * 2)


def chunk_raster(chunk: np.ndarray, position: int, execute: int, size: tuple[int, int]) -> np.ndarray:
    """The predicted chunk ``(T, 21)`` drawn as a ``size = (height, width)`` uint8 RGB raster.

    Column ``t`` is step ``t`` of the chunk; steps ``>= execute`` are dimmed (they will be re-planned),
    step ``position`` is outlined.
    """
    height, width = size
    horizon = len(chunk)
    image = np.full((height, width, 3), _BG, dtype=np.uint8)
    cell_h = max(1, height // ACTION_DIM)
    font_scale = min(0.3, cell_h / 30)
    labelled = font_scale >= 0.2  # below that the labels are unreadable: use the room for cells
    label_w = min(22, width // 4) if labelled else 0
    cell_w = max(1, (width - label_w) // horizon)
    for row, label in enumerate(_LABELS):
        y0 = row * cell_h
        if labelled:
            cv2.putText(image, label, (1, y0 + cell_h - 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale, _TEXT, 1)
        for t in range(horizon):
            value = float(chunk[t, row])
            if row < NUM_BUTTONS:
                colour = np.array(_ON if value > 0.5 else _OFF, dtype=np.float32)
            else:  # axis: blue for negative, orange for positive, intensity = magnitude
                tint = (255, 150, 40) if value > 0 else (60, 140, 255)
                colour = np.array(_OFF, np.float32) + abs(value) * (np.array(tint, np.float32) - _OFF)
            if t >= execute:
                colour = colour * 0.45
            x0 = label_w + t * cell_w
            image[y0 + 1 : y0 + cell_h, x0 + 1 : x0 + cell_w] = colour.astype(np.uint8)
    x0 = label_w + position * cell_w
    cv2.rectangle(image, (x0, 0), (x0 + cell_w, ACTION_DIM * cell_h), (255, 255, 255), 1)
    return image


def side_by_side(
    frame: np.ndarray, action: np.ndarray, chunk: np.ndarray, position: int, execute: int, caption: str = ""
) -> np.ndarray:
    """``frame`` ``(H, W, 3)`` on the left, the controller and the chunk on the right; even sizes."""
    height, width = frame.shape[:2]
    out_h = _even(max(height, _MIN_HEIGHT))
    out_w = _even(width * out_h / height)
    game = cv2.resize(
        frame, (out_w, out_h), interpolation=cv2.INTER_NEAREST if out_h > height else cv2.INTER_AREA
    )
    panel_w = _even(out_h * 0.8)
    pad_h = min(panel_w * 3 // 5, int(out_h * 0.45))  # the gamepad on top, at its 5:3 aspect
    pad_w = pad_h * 5 // 3
    text_h = 16
    panel = np.full((out_h, panel_w, 3), _BG, dtype=np.uint8)
    left = (panel_w - pad_w) // 2
    panel[:pad_h, left : left + pad_w] = draw_controller(action, (pad_h, pad_w))
    raster_h = out_h - pad_h - text_h
    panel[pad_h : pad_h + raster_h] = chunk_raster(chunk, position, execute, (raster_h, panel_w))
    if caption:
        cv2.putText(panel, caption, (3, out_h - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, _TEXT, 1)
    return np.concatenate([game, panel], axis=1)


class PlayRecorder:
    """Write ``play.mp4`` and ``actions.parquet`` into ``directory`` as the play goes.

    The video is encoded frame by frame (no frames held in memory); the actions are kept (small) and
    written at :meth:`close`, which a play interrupted half-way still calls to keep what it has.
    """

    def __init__(self, directory: str | os.PathLike[str], fps: float) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._video = VideoWriter(self.directory / VIDEO_NAME, fps)
        self._rows: dict[str, list] = {
            key: []
            for key in (
                "step",
                "episode",
                "chunk",
                "position",
                "reward",
                "virtual_time",
                "think_ms",
                "chunk_actions",
            )
        }
        self._actions: list[np.ndarray] = []

    @property
    def steps(self) -> int:
        """Steps recorded so far."""
        return len(self._actions)

    def add(
        self,
        frame: np.ndarray,
        action: np.ndarray,
        *,
        chunk: np.ndarray,
        position: int,
        execute: int,
        episode: int,
        chunk_index: int,
        reward: float,
        think_ms: float | None,
        virtual_time: float | None = None,
    ) -> None:
        """Record one executed step: the frame it was chosen on, the action, and its chunk ``(T, 21)``."""
        step = len(self._actions)
        caption = f"step {step}  chunk {chunk_index}  {position + 1}/{execute}"
        self._video.write(side_by_side(frame, action, chunk, position, execute, caption))
        self._actions.append(np.asarray(action, dtype=np.float32))
        new_chunk = position == 0
        for key, value in (
            ("step", step),
            ("episode", episode),
            ("chunk", chunk_index),
            ("position", position),
            ("reward", float(reward)),
            ("virtual_time", virtual_time),
            ("think_ms", think_ms if new_chunk else None),
            ("chunk_actions", np.asarray(chunk, dtype=np.float32).tolist() if new_chunk else None),
        ):
            self._rows[key].append(value)

    def close(self) -> tuple[Path, Path]:
        """Finish both files; returns ``(video, actions)`` paths."""
        video = self._video.close()
        columns: dict[str, pa.Array] = {
            "step": pa.array(self._rows["step"], pa.int32()),
            "episode": pa.array(self._rows["episode"], pa.int32()),
            "chunk": pa.array(self._rows["chunk"], pa.int32()),
            "position": pa.array(self._rows["position"], pa.int16()),
        }
        actions = np.stack(self._actions) if self._actions else np.zeros((0, ACTION_DIM), np.float32)
        for i, name in enumerate(NAMES):
            columns[name] = pa.array(actions[:, i], pa.float32())
        columns["reward"] = pa.array(self._rows["reward"], pa.float32())
        columns["virtual_time"] = pa.array(self._rows["virtual_time"], pa.float64())
        columns["think_ms"] = pa.array(self._rows["think_ms"], pa.float32())
        columns["chunk_actions"] = pa.array(self._rows["chunk_actions"], pa.list_(pa.list_(pa.float32())))
        path = self.directory / ACTIONS_NAME
        pq.write_table(pa.table(columns), path)
        log.info("recorded %d steps to %s and %s", len(self._actions), video, path)
        return video, path

    def abort(self) -> None:
        """Drop the video in progress (nothing was played)."""
        self._video.abort()
