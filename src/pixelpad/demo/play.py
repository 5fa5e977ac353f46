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
    policy_fps: float | None = None, seed: int = 0,
) -> dict[str, str]:  # fmt: skip
    """One episode per task (its whole time limit) of the policy in ``policy_dir``; returns
    ``{task name: video path}``. A task whose video exists is not played again."""
    from pixelpad.eval import chunk_stride, load_env_factory
    from pixelpad.serve import load_policy, play

    make_env = load_env_factory(env_factory)
    policy = None
    videos = {}
    for task in tasks:
        folder = out / task.name
        video = folder / "play.mp4"
        if not video.is_file():
            policy = policy or load_policy(policy_dir)
            env = TaskStart(make_env(task, seed), task)
            try:
                fps = float(env.metadata.get("render_fps") or task.fps)
                stride = chunk_stride(policy_fps, fps)
                steps, plan = math.ceil(task.time_limit_s * fps), math.ceil(execute / stride)
                play(env, Strided(policy, stride), steps, plan, folder, seed=seed, progress=False)
            finally:
                env.close()
        videos[task.name] = str(video)
    return videos
