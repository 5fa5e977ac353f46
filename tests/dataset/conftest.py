"""Fixtures of the dataset tests: small written datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelpad.dataset import EpisodeWriter

from .factories import indexed_frames, random_actions

EPISODE_LENGTHS = (12, 30, 7)


@pytest.fixture
def small_dataset(tmp_path: Path) -> tuple[Path, list]:
    """Three episodes of indexed 32x48 frames at 20 fps; returns (root, [(frames, actions), ...])."""
    root = tmp_path / "ds"
    episodes = []
    offset = 0
    with EpisodeWriter(root, fps=20, gop=8) as writer:
        for i, n in enumerate(EPISODE_LENGTHS):
            frames, acts = indexed_frames(n, offset=offset), random_actions(n, seed=i)
            box = (36, 20, 12, 12) if i == 1 else None
            writer.add_episode(frames, acts, game=f"game{i % 2}", video_id=f"v{i}", overlay_box=box, task="t")
            episodes.append((frames, acts))
            offset += n
    return root, episodes
