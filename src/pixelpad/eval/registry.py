"""The task suite: every shipped task by name, and selection by name or category."""

from __future__ import annotations

from collections.abc import Sequence

from pixelpad.eval.errors import EvalError
from pixelpad.eval.task import CATEGORIES, Task


def all_tasks() -> dict[str, Task]:
    """Every shipped task, by name, in suite order (game by game)."""
    from pixelpad.eval.games import chromium_bsu, neverball, supertux

    tasks = [*chromium_bsu.TASKS, *supertux.TASKS, *neverball.TASKS]
    return {task.name: task for task in tasks}


def select_tasks(names: Sequence[str]) -> list[Task]:
    """Tasks by name; ``all`` means the whole suite and a category name means its tasks."""
    suite = all_tasks()
    chosen: dict[str, Task] = {}
    for name in names or ("all",):
        if name == "all":
            chosen.update(suite)
        elif name in CATEGORIES:
            chosen.update({n: t for n, t in suite.items() if t.category == name})
        elif name in suite:
            chosen[name] = suite[name]
        else:
            raise EvalError(f"unknown task {name!r}; known: all, {', '.join(CATEGORIES)}, {', '.join(suite)}")
    return list(chosen.values())
