"""The driver of ``pixelpad extract``: run the per-video function over a batch, write the dataset.

Workers (in-process, a process pool, or Ray actors) return results with their episodes already
encoded; this driver alone commits them to the dataset (the episode writer allows one writer:
splicing packets and rewriting metadata, no encoding) and writes the manifest, in completion order.
Resuming:

* videos whose last manifest record is final are skipped;
* a video is recorded ``done`` only after all its episodes are committed; if the driver dies
  between two of them, the rerun processes the video again and skips the segments already in the
  dataset (each episode's ``extra`` names its video and frame range), so nothing is written twice.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pixelpad.extract.engines import run_engine
from pixelpad.extract.manifest import DONE, FAILED, Manifest, VideoRecord
from pixelpad.extract.pipeline import ExtractConfig, ExtractError, VideoExtractor, make_task
from pixelpad.extract.spool import FrameSpool

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".webm", ".mov", ".flv", ".avi", ".ts", ".m4v"})
MANIFEST_DIR = "extract"


def expand_videos(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files as given (whatever their suffix: a bad one gets its status), folders searched for videos."""
    out: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(str(p) for p in sorted(path.rglob("*")) if p.suffix.lower() in VIDEO_SUFFIXES)
        else:
            out.append(str(path))
    return out


def _committed_segments(root: Path) -> set[tuple[str, int, int]]:
    """(video id, start, stop) of every episode already in the dataset at ``root``."""
    from pixelpad.dataset import DatasetError, EpisodeStore

    if not (root / "meta").exists():
        return set()
    try:
        store = EpisodeStore(root)
    except DatasetError:
        return set()
    found = set()
    for episode in store.episodes:
        segment = episode["extra"].get("segment")
        if segment:
            found.add((episode["video_id"], int(segment[0]), int(segment[1])))
    return found


def write_episodes(writer: Any, result: dict[str, Any], config: ExtractConfig, committed: set) -> list[int]:
    """Commit the episode files a worker cut for a ``done`` result; returns their indices."""
    details = result["details"]
    actions = np.load(Path(result["spool"]) / "actions.npy")
    # A box-masked episode keeps its box as overlay_box, which training blacks out again (a no-op on
    # these frames, needed on footage stored unmasked). A footprint-masked one must not lose the box's
    # uncovered game to that: its box is only noted in extra.
    box = details.get("stored_box")
    box_masked = details.get("masked", "box") == "box"
    meta = {k: details[k] for k in ("skin", "reader", "density", "locate_confidence") if k in details}
    for key in ("template_confidence", "parser_confidence", "agreement"):
        if key in details:
            meta[key] = details[key]
    episodes = []
    for episode in result["episodes"]:
        start, stop = episode["segment"]
        if (result["video_id"], start, stop) in committed:
            continue
        extra = {**meta, "source": result["path"], "segment": [start, stop]}
        if box and not box_masked:
            extra.update(overlay_box=box, masked=details["masked"])
        episodes.append(
            writer.add_encoded_episode(
                episode["video"], actions[start:stop], image_stats=episode["image_stats"], game=config.game,
                video_id=result["video_id"], overlay_box=tuple(box) if box and box_masked else None,
                extra=extra,
            )
        )  # fmt: skip
    return episodes


def extract(
    videos: Iterable[str | os.PathLike[str]],
    config: ExtractConfig,
    *,
    engine: str = "local",
    workers: int = 1,
    gpus_per_worker: float = 0.0,
    progress: bool = True,
) -> dict[str, int]:
    """Extract episodes from ``videos`` into ``config.out``; returns the manifest's status counts."""
    from pixelpad.dataset import DatasetError, EpisodeWriter

    root = Path(config.out)
    paths = expand_videos(videos)
    if not paths:
        raise ExtractError("no videos given (files, or folders holding .mp4/.mkv/... files)")
    manifest = Manifest(root / MANIFEST_DIR)
    tasks = {t["video_id"]: t for t in map(make_task, paths)}  # the same file twice runs once
    pending = [tasks[v] for v in manifest.pending(tasks)]
    log.info("%d video(s), %d to do, %d already final", len(tasks), len(pending), len(tasks) - len(pending))
    if not pending:
        return manifest.counts()
    committed = _committed_segments(root)
    factory = functools.partial(VideoExtractor, config.to_json())
    # Workers encode with a key frame at every chunk (where kept segments start); the dataset says so.
    encoding = {"crf": config.crf, "preset": config.preset, "gop": config.refine.horizon,
                "x264_params": config.x264_params}  # fmt: skip
    with EpisodeWriter(root, fps=config.fps, **encoding) as writer:
        results = run_engine(engine, factory, pending, workers, gpus_per_worker=gpus_per_worker)
        for _task, result in tqdm(results, total=len(pending), desc="videos", disable=not progress):
            details = result.get("details", {})
            status, reason = result["status"], result.get("reason", "")
            if status == DONE:
                try:
                    details["episodes"] = write_episodes(writer, result, config, committed)
                except (DatasetError, OSError) as err:
                    status, reason = FAILED, f"writing episodes: {err}"
                finally:
                    FrameSpool.remove(result["spool"])
            manifest.append(VideoRecord(result["video_id"], result["path"], status, reason, details))
            log.info("%s: %s %s", result["path"], status, reason)
    return manifest.counts()
