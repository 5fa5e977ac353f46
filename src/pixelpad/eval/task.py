"""What a task is: a game, a start state, a time limit, a success check and a category.

A task is judged by a program, never by a person: its :class:`Check` looks at what the game shows
(a frame) and, where a game writes something useful, at the env's ``info``. Two ways to succeed:

* ``mode="reach"``: the check becomes true at some point before the time limit (finish a level,
  score 2,000 points); the episode ends there and the time to success is recorded.
* ``mode="hold"``: the check stays true until the time limit (stay alive for 40 s); the episode
  fails as soon as it turns false.

Either way a verdict needs ``confirm`` consecutive agreeing checks, so one odd frame (an explosion
flash across the HUD) cannot decide an episode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np

from pixelpad.eval.errors import EvalError

Category = Literal["combat", "navigation", "game-specific"]
CATEGORIES: tuple[Category, ...] = ("combat", "navigation", "game-specific")
Mode = Literal["reach", "hold"]


class Check(Protocol):
    """A success rule on one frame: uint8 ``(H, W, 3)`` plus the env's ``info`` -> True/False."""

    def __call__(self, frame: np.ndarray, info: dict[str, Any]) -> bool: ...


class Agent(Protocol):
    """Anything that plays: reset once per episode, then one action per env step."""

    def reset(self, seed: int) -> None: ...

    def act(self, frame: np.ndarray) -> np.ndarray:
        """uint8 ``(H, W, 3)`` -> float32 ``(21,)`` pixelpad action."""
        ...


@dataclasses.dataclass(frozen=True)
class Task:
    """One evaluation task.

    Attributes:
        name: unique, ``<game>-<what>`` (``supertux-finish``).
        game: the simulator profile that runs the game (``pixelpad.sim.list_profiles()``).
        category: combat, navigation or game-specific.
        description: one sentence a person can judge by, the same rule the check applies.
        time_limit_s: virtual seconds of play after start-up.
        check: the success rule (see the module docstring for ``mode``).
        demonstrator: builds the scripted agent that solves the task reading only the screen
            (a class or function without arguments; seeded by ``reset``).
        mode: ``reach`` or ``hold``.
        command: the game's command line when the task needs another than its profile's (another
            level, a spawn position); ``{width}``, ``{height}``, ``{home}`` as in profiles.
        files: builds extra files for the game's private HOME (a modified level), called when an
            env is made -- not at import, since it may read the game's installed data.
        fps: virtual frames per second of play (a slow 3D game plays at fewer, larger steps).
        size: (W, H) of the screen the checks were written for; pinned here so a profile's default
            can change without silently breaking a task's pixel coordinates.
        startup: task-specific inputs played before the clock of the task starts, after the
            profile's own start-up: ``(action (21,), steps)`` pairs.
        random_start_s: the runner waits a seed-drawn 0..this many seconds (no input) after start-up,
            so seeds start the agent in different states even in games whose own randomness the
            simulator's fixed clock makes repeat exactly (the "no-op starts" of Atari evaluations).
        check_every: env steps between two checks (checks cost a few ms; 30 fps needs no more).
        confirm: consecutive agreeing checks needed for a verdict.
    """

    name: str
    game: str
    category: Category
    description: str
    time_limit_s: float
    check: Check
    demonstrator: Callable[[], Agent]
    mode: Mode = "reach"
    command: tuple[str, ...] = ()
    files: Callable[[], dict[str, str]] | None = None
    fps: float = 30.0
    size: tuple[int, int] = (640, 480)
    startup: tuple[tuple[np.ndarray, int], ...] = ()
    random_start_s: float = 1.0
    check_every: int = 3
    confirm: int = 2

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise EvalError(f"task {self.name}: category must be one of {CATEGORIES}, got {self.category!r}")
        if self.mode not in ("reach", "hold"):
            raise EvalError(f"task {self.name}: mode must be 'reach' or 'hold', got {self.mode!r}")
        if self.time_limit_s <= 0 or self.check_every < 1 or self.confirm < 1:
            raise EvalError(f"task {self.name}: time limit, check_every and confirm must be positive")


class Judge:
    """Applies a task's check along an episode and returns the verdict once there is one.

    Call :meth:`observe` after every env step with the step index (0-based); it returns True
    (success), False (failure) or None (undecided). :meth:`at_time_limit` gives the verdict when time
    runs out.
    """

    def __init__(self, task: Task) -> None:
        self.task = task
        self._streak = 0  # consecutive checks that point to a verdict

    def observe(self, step: int, frame: np.ndarray, info: dict[str, Any]) -> bool | None:
        if step % self.task.check_every:
            return None
        ok = bool(self.task.check(frame, info))
        decisive = ok if self.task.mode == "reach" else not ok
        self._streak = self._streak + 1 if decisive else 0
        if self._streak >= self.task.confirm:
            return self.task.mode == "reach"
        return None

    def at_time_limit(self) -> bool:
        """Time is up: a reach task failed, a hold task succeeded (it never turned false)."""
        return self.task.mode == "hold"
