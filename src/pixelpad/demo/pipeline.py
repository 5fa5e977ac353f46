"""``pixelpad demo``: the longest chain of stages that exists, on embedded defaults.

Today: make a small episode dataset, write it in the LeRobot v3 layout, read it back and check
it, then render one episode's frames with the gamepad drawn beside them and a PNG timeline of its
actions. Each stage caches its output (see :mod:`pixelpad.demo.stages`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixelpad.demo.stages import Stage, run_stages


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo; the defaults run in about a minute on 2 cores."""

    episodes: int = 6  # toy episodes in the dataset
    length: int = 90  # frames per episode
    size: tuple[int, int] = (96, 128)  # frame (H, W)
    fps: float = 15.0
    seed: int = 0


def demo_stages(config: DemoConfig) -> list[Stage]:
    def make_dataset(folder: Path, _: dict[str, dict[str, Any]]) -> dict[str, Any]:
        from pixelpad.dataset import make_toy_dataset

        root = folder / "dataset"
        if root.exists():  # an interrupted write: start the dataset over
            import shutil

            shutil.rmtree(root)
        make_toy_dataset(
            root,
            episodes=config.episodes,
            length=config.length,
            size=config.size,
            fps=config.fps,
            seed=config.seed,
        )
        return {"dataset": str(root)}

    def read_back(folder: Path, done: dict[str, dict[str, Any]]) -> dict[str, Any]:
        from pixelpad.actions import is_null, validate
        from pixelpad.dataset import EpisodeStore

        store = EpisodeStore(done["dataset"]["dataset"])
        frames = 0
        active = 0
        for episode in range(store.num_episodes):
            actions = validate(store.actions(episode), where=f"episode {episode}")
            first = next(iter(store.iter_frames(episode, 0, 1)))
            frames += len(actions)
            active += int((~is_null(actions)).sum())
        return {
            "episodes": store.num_episodes,
            "frames": frames,
            "frame_shape": list(first.shape),
            "non_null_fraction": round(active / max(frames, 1), 3),
            "mean_abs_left_stick": float(np.abs(store.actions(0)[:, 17:19]).mean()),
        }

    def view(folder: Path, done: dict[str, dict[str, Any]]) -> dict[str, Any]:
        from pixelpad.dataset.view import render_episode

        movie, timeline = render_episode(done["dataset"]["dataset"], 0, folder, progress=True)
        return {"video": str(movie), "timeline": str(timeline)}

    return [
        Stage("dataset", make_dataset, "write a small episode dataset (LeRobot v3 layout)"),
        Stage("read-back", read_back, "read every episode back and check its actions"),
        Stage("view", view, "render episode 0 with its gamepad, and its action timeline"),
    ]


def run_demo(
    out: Path,
    config: DemoConfig = DemoConfig(),
    *,
    force: tuple[str, ...] = (),
    echo: Callable[[str], None] = print,
) -> dict[str, dict[str, Any]]:
    """Run (or resume) the demo under ``out``; returns each stage's summary."""
    return run_stages(out, demo_stages(config), force=force, echo=echo)
