"""Builds the game env of a task: the simulator's profile, with the task's own command line if any.

The only module of this stage that imports :mod:`pixelpad.sim`; the runner receives it as a
``module:function`` string, so tests can swap in a fake game.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pixelpad.eval.task import Task


def make_env(task: Task, seed: int) -> Any:
    """A :class:`pixelpad.sim.GameEnv` for ``task`` (started by the runner's ``reset(seed=seed)``)."""
    from pixelpad.sim import GameEnv, load_profile

    profile = load_profile(task.game)
    if task.command:
        profile = dataclasses.replace(profile, command=task.command)
    if task.files is not None:
        profile = dataclasses.replace(profile, files={**profile.files, **task.files()})
    return GameEnv(profile, fps=task.fps, size=task.size, seed=seed)
