"""Stand-ins for a policy: predictors whose answer depends only on the frame, so it can be checked."""

from __future__ import annotations

import threading
import time

import numpy as np

from pixelpad.actions import ACTION_DIM, INDEX


class MeanPredictor:
    """Actions that encode each frame's mean brightness, so every answer can be checked.

    ``left_x`` of every step is ``mean / 255 * 2 - 1``; ``south`` is pressed when the mean is above
    127, ``start`` always (so the play loop's masking shows). ``delay`` seconds of "compute" per
    batch let concurrent requests pile up into batches; ``fail`` makes every call raise.
    """

    def __init__(self, horizon: int = 4, delay: float = 0.0, fail: bool = False) -> None:
        self.horizon = horizon
        self.delay = delay
        self.fail = fail
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()

    def predict(self, frames: np.ndarray) -> np.ndarray:
        if self.fail:
            raise RuntimeError("stand-in failure")
        with self._lock:
            self.batch_sizes.append(len(frames))
        time.sleep(self.delay)
        return np.stack([expected_chunk(frame, self.horizon) for frame in frames])

    def info(self) -> dict[str, int]:
        return {"horizon": self.horizon, "action_dim": ACTION_DIM}


def expected_chunk(frame: np.ndarray, horizon: int = 4) -> np.ndarray:
    """The ``(horizon, 21)`` chunk :class:`MeanPredictor` answers for ``frame``."""
    mean = float(np.asarray(frame, dtype=np.float64).mean())
    chunk = np.zeros((horizon, ACTION_DIM), dtype=np.float32)
    chunk[:, INDEX["left_x"]] = mean / 255 * 2 - 1
    chunk[:, INDEX["south"]] = float(mean > 127)
    chunk[:, INDEX["start"]] = 1.0
    return chunk


def flat_frame(value: int, size: tuple[int, int] = (24, 32)) -> np.ndarray:
    """A uint8 ``(H, W, 3)`` frame of one grey level."""
    return np.full((*size, 3), value, dtype=np.uint8)


class FakeGame:
    """A gymnasium-style env whose frame brightness follows the step count; logs what it was sent.

    Episodes end after ``episode_length`` steps. ``info["virtual_time"]`` advances by 1/fps per step.
    """

    def __init__(self, episode_length: int = 1000, size: tuple[int, int] = (48, 64)) -> None:
        self.metadata = {"render_fps": 10}
        self.episode_length = episode_length
        self.size = size
        self.received: list[np.ndarray] = []
        self.resets = 0
        self.closed = False
        self._t = 0

    def close(self) -> None:
        self.closed = True

    def _obs(self) -> np.ndarray:
        return np.full((*self.size, 3), (self._t * 37) % 256, dtype=np.uint8)

    def reset(self, *, seed: int | None = None) -> tuple[np.ndarray, dict]:
        self.resets += 1
        self._t = 0
        return self._obs(), {"virtual_time": 0.0}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.received.append(np.array(action, copy=True))
        self._t += 1
        info = {"virtual_time": self._t / self.metadata["render_fps"]}
        return self._obs(), 1.0, self._t >= self.episode_length, False, info
