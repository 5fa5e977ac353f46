"""Videos of the trained agent playing each task, its predicted controller drawn beside the game.

:func:`pixelpad.serve.play` records the side-by-side video (game | gamepad + predicted chunk); it
resets a bare env, so :class:`TaskStart` plays the task's own start-up inputs (closing an intro
card, waiting out "Ready?") inside ``reset`` -- the agent starts where the evaluation starts it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np


class TaskStart:
    """An env whose ``reset`` also plays ``task.startup``; everything else is the wrapped env's."""

    def __init__(self, env: Any, task: Any) -> None:
        self.env, self.task = env, task
        self.metadata = env.metadata

    def reset(self, *, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed)
        for action, count in self.task.startup:
            for _ in range(count):
                obs, _, _, _, info = self.env.step(action)
        return obs, info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        return self.env.step(action)

    def close(self) -> None:
        self.env.close()


class Strided:
    """A policy whose chunks keep every ``stride``-th action: a 30 fps policy playing a 10 fps task
    (the evaluation's :func:`pixelpad.eval.agents.chunk_stride`, so the video shows the same play)."""

    def __init__(self, policy: Any, stride: int) -> None:
        self.policy, self.stride = policy, stride

    def predict(self, frames: np.ndarray, **kwargs: Any) -> np.ndarray:
        """uint8 ``(B, H, W, 3)`` -> ``(B, ceil(T / stride), 21)``."""
        return np.asarray(self.policy.predict(frames, **kwargs))[:, :: self.stride]


def record_agent(
    policy_dir: Path, tasks: list[Any], out: Path, *, env_factory: str, execute: int,
    policy_fps: float | None = None, seed: int = 0, workers: int = 1,
) -> dict[str, str]:  # fmt: skip
    """One episode per task (its whole time limit) of the policy in ``policy_dir``, ``workers`` tasks at
    once, each in its own process; returns ``{task name: video path}``. A task whose video exists is not
    played again."""
    import concurrent.futures as cf
    import multiprocessing

    jobs = [(policy_dir, task, out / task.name, env_factory, execute, policy_fps, seed) for task in tasks]
    todo = [job for job in jobs if not (job[2] / "play.mp4").is_file()]
    if workers == 1 or len(todo) < 2:
        for job in todo:
            _play_task(*job)
    else:
        context = multiprocessing.get_context("spawn")  # no forked copies of X connections or torch state
        with cf.ProcessPoolExecutor(min(workers, len(todo)), mp_context=context) as pool:
            for future in [pool.submit(_play_task, *job) for job in todo]:
                future.result()
    return {task.name: str(out / task.name / "play.mp4") for task in tasks}


def _play_task(
    policy_dir: Path, task: Any, folder: Path, env_factory: str, execute: int, policy_fps: float | None,
    seed: int,
) -> None:  # fmt: skip
    """Play ``task`` once with the policy, recording ``folder/play.mp4``; the policy's noise is seeded
    here, so a task's video is the same whichever process plays it and after whichever other task."""
    import torch

    from pixelpad.eval import chunk_stride, load_env_factory
    from pixelpad.eval.agents import previous_steps
    from pixelpad.serve import load_policy, play

    policy = load_policy(policy_dir)
    torch.manual_seed(seed)
    env = TaskStart(load_env_factory(env_factory)(task, seed), task)
    try:
        fps = float(env.metadata.get("render_fps") or task.fps)
        stride = chunk_stride(policy_fps, fps)
        steps, plan = math.ceil(task.time_limit_s * fps), math.ceil(execute / stride)
        gap = policy.config.previous_frame_gap
        play(
            env, Strided(policy, stride), steps, plan, folder, seed=seed, progress=False,
            previous_steps=previous_steps(gap, stride) if gap else 0,
        )  # fmt: skip
    finally:
        env.close()
