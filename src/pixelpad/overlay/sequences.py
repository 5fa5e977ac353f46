"""Realistic gamepad action sequences for synthetic overlay videos and training pairs.

Players do not press random buttons every frame: buttons are held for a few frames to a second,
some (face buttons, d-pad) far more often than others (menu buttons), the d-pad is held in one
direction (sometimes a diagonal), sticks glide between targets (often pushed to the rim) and rest at
the centre, and whole stretches are idle. :func:`random_actions` draws such a sequence as an
``(N, 21)`` float32 array in the :mod:`pixelpad.actions` layout; durations are in frames at ``fps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelpad.actions import ACTION_DIM, INDEX, NUM_BUTTONS
from pixelpad.errors import PixelpadError

# Mean presses per second while active, per button group.
PRESS_RATE = {
    "south": 0.8, "east": 0.5, "west": 0.5, "north": 0.3,
    "left_shoulder": 0.2, "right_shoulder": 0.25, "left_trigger": 0.15, "right_trigger": 0.3,
    "left_thumb": 0.05, "right_thumb": 0.05, "back": 0.02, "start": 0.03, "guide": 0.01,
}  # fmt: skip
DPAD = ("dpad_up", "dpad_down", "dpad_left", "dpad_right")


class SequenceError(PixelpadError, ValueError):
    """Parameters that cannot make an action sequence."""


@dataclass(frozen=True)
class SequenceConfig:
    """Statistics of the generated play (defaults: an action game at 30 fps)."""

    fps: float = 30.0
    hold_seconds: float = 0.25  # median button hold; holds are log-normal around it
    idle_fraction: float = 0.15  # share of time in idle stretches (nothing pressed, sticks centred)
    idle_seconds: float = 1.5  # mean length of an idle stretch
    dpad_rate: float = 0.6  # d-pad presses per second
    diagonal_probability: float = 0.2
    stick_move_seconds: float = 0.6  # mean time between stick targets
    stick_rest_probability: float = 0.35  # a new target is the centre
    stick_rim_probability: float = 0.5  # a new (non-centre) target is on the rim (|v| = 1)
    stick_smoothing: float = 0.35  # share of the way to the target covered per frame (1: jumps)


def _holds(n: int, rate: float, cfg: SequenceConfig, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` bool: a button pressed ``rate`` times per second, each for a log-normal hold."""
    out = np.zeros(n, bool)
    t = 0.0
    while True:
        t += rng.exponential(cfg.fps / rate)
        if t >= n:
            return out
        hold = max(1, round(rng.lognormal(np.log(cfg.hold_seconds * cfg.fps), 0.6)))
        out[int(t) : int(t) + hold] = True
        t += hold


def _stick(n: int, idle: np.ndarray, cfg: SequenceConfig, rng: np.random.Generator) -> np.ndarray:
    """``(n, 2)`` smooth stick positions inside the unit disc, gliding back to the centre when idle."""
    out = np.zeros((n, 2), np.float32)
    pos = np.zeros(2)
    target = np.zeros(2)
    next_change = 0
    for i in range(n):
        if i >= next_change:
            if rng.random() < cfg.stick_rest_probability:
                target = np.zeros(2)
            else:
                angle = rng.uniform(0, 2 * np.pi)
                radius = 1.0 if rng.random() < cfg.stick_rim_probability else rng.uniform(0.2, 1.0)
                target = radius * np.array([np.cos(angle), np.sin(angle)])
            next_change = i + max(2, int(rng.exponential(cfg.stick_move_seconds * cfg.fps)))
        goal = np.zeros(2) if idle[i] else target
        pos = pos + cfg.stick_smoothing * (goal - pos)
        if np.abs(pos - goal).max() < 0.01:
            pos = goal.copy()
        out[i] = pos
    return out


def _idle(n: int, cfg: SequenceConfig, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` bool: idle stretches covering about ``idle_fraction`` of the time."""
    idle = np.zeros(n, bool)
    if cfg.idle_fraction <= 0:
        return idle
    mean_gap = cfg.idle_seconds * cfg.fps * (1 - cfg.idle_fraction) / cfg.idle_fraction
    t = rng.exponential(mean_gap)
    while t < n:
        length = max(1, int(rng.exponential(cfg.idle_seconds * cfg.fps)))
        idle[int(t) : int(t) + length] = True
        t += length + rng.exponential(mean_gap)
    return idle


def random_actions(
    n: int, rng: np.random.Generator | int | None = None, config: SequenceConfig | None = None
) -> np.ndarray:
    """A plausible play sequence ``(n, 21)`` float32: buttons 0/1, axes in [-1, 1] (+y down)."""
    if n < 0:
        raise SequenceError(f"random_actions: n must be >= 0, got {n}")
    cfg = config or SequenceConfig()
    if cfg.fps <= 0 or not 0 <= cfg.idle_fraction < 1:
        raise SequenceError(f"random_actions: bad config {cfg}")
    rng = np.random.default_rng(rng)
    actions = np.zeros((n, ACTION_DIM), np.float32)
    for name, rate in PRESS_RATE.items():
        actions[:, INDEX[name]] = _holds(n, rate, cfg, rng)
    dpad = _holds(n, cfg.dpad_rate, cfg, rng)
    starts = np.flatnonzero(dpad & ~np.r_[False, dpad[:-1]])
    for start in starts:
        end = start + int(np.argmin(dpad[start:])) if not dpad[start:].all() else n
        first = DPAD[rng.integers(4)]
        actions[start:end, INDEX[first]] = 1
        if rng.random() < cfg.diagonal_probability:
            other = (
                ("dpad_left", "dpad_right") if first in ("dpad_up", "dpad_down") else ("dpad_up", "dpad_down")
            )
            actions[start:end, INDEX[other[rng.integers(2)]]] = 1
    idle = _idle(n, cfg, rng)
    for side in ("left", "right"):
        xy = _stick(n, idle, cfg, rng)
        actions[:, INDEX[f"{side}_x"]] = xy[:, 0]
        actions[:, INDEX[f"{side}_y"]] = xy[:, 1]
    actions[idle, :NUM_BUTTONS] = 0.0
    return actions
