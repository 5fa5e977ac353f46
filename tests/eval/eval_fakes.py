"""A tiny fake game for runner tests: a red dot on a 16x32 strip that the left stick moves.

Success (task ``dot-right``): the dot reaches the right edge. The start column depends on the seed,
so results depend on seeds the way a real game's do, and everything is deterministic.
"""

from __future__ import annotations

import dataclasses
import os
from typing import ClassVar

import numpy as np

from pixelpad.actions import INDEX
from pixelpad.eval.task import Task

WIDTH = 32


class DotEnv:
    metadata: ClassVar[dict] = {"render_fps": 10}

    def __init__(self) -> None:
        self.x = 0
        self.closed = False

    def _frame(self) -> np.ndarray:
        frame = np.zeros((16, WIDTH, 3), np.uint8)
        frame[6:10, self.x] = (255, 0, 0)
        return frame

    def reset(self, *, seed: int | None = None):
        self.x = int(np.random.default_rng(seed).integers(0, 12))
        return self._frame(), {"virtual_time": 0.0}

    def step(self, action):
        self.x = int(np.clip(self.x + round(2 * float(action[INDEX["left_x"]])), 0, WIDTH - 1))
        return self._frame(), 0.0, False, False, {}

    def close(self) -> None:
        self.closed = True


def dot_at_right(frame: np.ndarray, info: dict) -> bool:
    return bool(frame[:, -2:, 0].max() > 128)


def dot_in_left_half(frame: np.ndarray, info: dict) -> bool:
    return bool(frame[:, : WIDTH // 2, 0].max() > 128)


@dataclasses.dataclass
class PushRight:
    """The fake task's demonstrator: find the dot on screen, push right."""

    def reset(self, seed: int) -> None:
        pass

    def act(self, frame: np.ndarray) -> np.ndarray:
        action = np.zeros(21, np.float32)
        action[INDEX["left_x"]] = 1.0
        action[INDEX["start"]] = 1.0  # a menu button: the runner must release it
        return action


DOT_TASK = Task(
    "dot-right", "dot", "navigation", "move the dot to the right edge", 3.0, dot_at_right, PushRight
)
DOT_HOLD = Task(
    "dot-stay-left",
    "dot",
    "game-specific",
    "keep the dot in the left half",
    1.0,
    dot_in_left_half,
    PushRight,
    mode="hold",
)

_CALLS: dict[int, int] = {}


def reset_calls() -> None:
    """Forget every start the flaky and hanging factories counted: a test that relies on "first start
    only" must not inherit the starts of an earlier test in the same process."""
    _CALLS.clear()


def make_dot_env(task: Task, seed: int) -> DotEnv:
    return DotEnv()


def make_flaky_env(task: Task, seed: int) -> DotEnv:
    """Seed 1 crashes on its first start only; seed 2 always crashes."""
    _CALLS[seed] = _CALLS.get(seed, 0) + 1
    if seed == 2 or (seed == 1 and _CALLS[seed] == 1):
        raise RuntimeError(f"game crashed (seed {seed})")
    return DotEnv()


class HangingDotEnv(DotEnv):
    """Stops responding at the agent's second move the way GameEnv reports it: truncated, with why in
    ``info`` (start-up steps hold no input)."""

    moves = 0

    def step(self, action):
        self.moves += bool(np.any(action))
        frame, reward, _, _, info = super().step(action)
        hung = self.moves >= 2
        return frame, reward, False, hung, {"error": "game 'dot' is not responding"} if hung else info


def make_hanging_env(task: Task, seed: int) -> DotEnv:
    """Seed 1 hangs on its first start only; seed 2 always hangs."""
    _CALLS[100 + seed] = _CALLS.get(100 + seed, 0) + 1
    return HangingDotEnv() if seed == 2 or (seed == 1 and _CALLS[100 + seed] == 1) else DotEnv()


def make_killing_env(task: Task, seed: int) -> DotEnv:
    """Seed 3 kills its worker process outright (as the OOM killer would)."""
    if seed == 3:
        os._exit(1)
    return DotEnv()
