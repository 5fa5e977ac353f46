"""Render a stored episode for people: the frames with a drawn gamepad under them, and a timeline."""

from __future__ import annotations

import os
from pathlib import Path

from tqdm.auto import tqdm

from pixelpad.dataset.store import EpisodeStore
from pixelpad.render import plot_timeline, with_controller
from pixelpad.video import VideoWriter


def render_episode(
    root: str | os.PathLike[str],
    episode: int = 0,
    out_dir: str | os.PathLike[str] = "out/view",
    *,
    start: int = 0,
    frames: int | None = None,
    progress: bool = True,
) -> tuple[Path, Path]:
    """Write ``episode-NNNNNN.mp4`` (frames + gamepad) and ``episode-NNNNNN-timeline.png`` to ``out_dir``.

    ``start`` and ``frames`` pick a part of the episode (default: all of it). Returns both paths.
    """
    store = EpisodeStore(root)
    acts = store.actions(episode)
    stop = len(acts) if frames is None else min(len(acts), start + frames)
    meta = store.episodes[episode]
    out = Path(out_dir)
    movie = out / f"episode-{episode:06d}.mp4"
    with VideoWriter(movie, store.fps) as writer:
        images = store.iter_frames(episode, start, stop)
        for t, image in enumerate(
            tqdm(images, total=stop - start, desc="render", unit="frame", disable=not progress)
        ):
            writer.write(with_controller(image, acts[start + t]))
    title = f"episode {episode}: {meta['game']} {meta['video_id']}".strip()
    timeline = plot_timeline(
        acts[start:stop], out / f"episode-{episode:06d}-timeline.png", fps=store.fps, title=title
    )
    return movie, timeline
