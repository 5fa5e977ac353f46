"""Import the public NitroGen action shards, paired with locally available videos.

A shard is ``SHARD/<video_id>/<video_id>_chunk_NNNN/`` directories, each holding
``actions_raw.parquet`` (one row per video frame: 17 boolean button columns and ``j_left`` /
``j_right`` as ``[x, y]``), optionally ``actions_processed.parquet`` (same columns, quality-filtered)
and ``metadata.json``::

    {"uuid": ..., "chunk_id": ..., "chunk_size": ..., "game": ..., "controller_type": ...,
     "original_video": {"video_id", "source", "url", "resolution": [H, W], "start_time", "end_time",
                        "duration", "start_frame", "end_frame"},
     "bbox_controller_overlay": [x, y, w, h], "bbox_game_area": [x, y, w, h] (optional)}

The shards carry no pixels, so each chunk is paired with a video file the user has (by video id).
Each chunk becomes one episode: its frames are cut from the video (from ``start_frame``, one per
action row), the overlay box is blacked out at the source resolution (the box is rescaled if the
local video's resolution differs from the annotated one), frames are resized to the dataset size.
When the dataset's fps, the annotated fps (from the metadata's frame and time ranges) and the local
video's fps differ, frames and actions are matched through time, each by nearest frame. Each chunk
succeeds or fails on its own; chunks already imported are skipped, so an interrupted import can
simply be run again. Videos are assumed to have a constant frame rate.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from pixelpad import video
from pixelpad.actions import from_nitrogen_columns
from pixelpad.dataset import layout as L
from pixelpad.dataset.store import EpisodeStore
from pixelpad.dataset.writer import EpisodeWriter
from pixelpad.errors import PixelpadError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".flv", ".ts")
ActionsChoice = Literal["auto", "raw", "processed"]


@dataclass(frozen=True)
class ChunkResult:
    """What happened to one chunk: ``status`` is ``imported``, ``skipped`` or ``failed``."""

    chunk: str
    status: str
    message: str = ""
    episode: int | None = None


@dataclass
class ImportReport:
    """Per-chunk results of :func:`import_nitrogen_shard`."""

    results: list[ChunkResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failures(self) -> list[ChunkResult]:
        return [r for r in self.results if r.status == "failed"]

    def to_json(self) -> dict[str, Any]:
        return {
            "imported": self.count("imported"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "results": [r.__dict__ for r in self.results],
        }


@dataclass(frozen=True)
class NitrogenChunk:
    """One parsed chunk directory."""

    path: Path
    uuid: str
    video_id: str
    game: str
    start_frame: int
    resolution: tuple[int, int] | None  # (H, W) the annotations refer to
    fps: float | None  # frame rate the annotations refer to, from the frame and time ranges
    overlay_box: tuple[int, int, int, int] | None
    actions: np.ndarray  # (N, 21)
    actions_file: str
    metadata: dict[str, Any]


def find_chunks(shard_dir: str | os.PathLike[str]) -> list[Path]:
    """Every ``<video_id>/<video_id>_chunk_NNNN`` directory of a shard, sorted."""
    shard = Path(shard_dir)
    if not shard.is_dir():
        raise L.DatasetError(f"{shard}: no such shard directory")
    return sorted(p for p in shard.glob("*/*_chunk_*") if p.is_dir())


def _box(value: Any, where: str) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise L.DatasetError(f"{where}: expected [x, y, w, h], got {value!r}")
    try:
        x, y, w, h = (round(float(v)) for v in value)
    except (TypeError, ValueError) as err:
        raise L.DatasetError(f"{where}: expected numbers, got {value!r}") from err
    if w <= 0 or h <= 0:
        raise L.DatasetError(f"{where}: box {value!r} has no area")
    return x, y, w, h


def read_chunk(chunk_dir: str | os.PathLike[str], actions: ActionsChoice = "auto") -> NitrogenChunk:
    """Parse and validate one chunk directory; errors name the file and the problem."""
    chunk = Path(chunk_dir)
    meta_path = chunk / "metadata.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError as err:
        raise L.DatasetError(f"{meta_path}: missing") from err
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise L.DatasetError(f"{meta_path}: not valid JSON: {err}") from err
    if not isinstance(meta, dict):
        raise L.DatasetError(f"{meta_path}: expected a JSON object")
    original = meta.get("original_video")
    if not isinstance(original, dict) or "video_id" not in original:
        raise L.DatasetError(f"{meta_path}: missing original_video.video_id")
    if "start_frame" not in original:
        raise L.DatasetError(f"{meta_path}: missing original_video.start_frame")
    try:
        start_frame = int(original["start_frame"])
        resolution = original.get("resolution")
        if resolution is not None:
            resolution = (int(resolution[0]), int(resolution[1]))
            if len(original["resolution"]) != 2 or min(resolution) <= 0:
                raise ValueError("not [H, W]")
    except (TypeError, ValueError, IndexError) as err:
        raise L.DatasetError(
            f"{meta_path}: bad original_video.start_frame/resolution ({original.get('start_frame')!r}, "
            f"{original.get('resolution')!r}): {err}"
        ) from err

    processed = chunk / "actions_processed.parquet"
    if actions == "processed" or (actions == "auto" and processed.exists()):
        actions_path = processed
    else:
        actions_path = chunk / "actions_raw.parquet"
    try:
        table = pq.read_table(actions_path)
    except FileNotFoundError as err:
        raise L.DatasetError(f"{actions_path}: missing") from err
    except (OSError, pa.ArrowException) as err:
        raise L.DatasetError(f"{actions_path}: unreadable parquet: {err}") from err
    columns = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    acts = from_nitrogen_columns(columns, where=str(actions_path))
    if len(acts) == 0:
        raise L.DatasetError(f"{actions_path}: no rows")
    return NitrogenChunk(
        path=chunk,
        uuid=str(meta.get("uuid") or chunk.name),
        video_id=str(original["video_id"]),
        game=str(meta.get("game") or ""),
        start_frame=start_frame,
        resolution=resolution,
        fps=_annotated_fps(original),
        overlay_box=_box(meta.get("bbox_controller_overlay"), f"{meta_path}: bbox_controller_overlay"),
        actions=acts,
        actions_file=actions_path.name,
        metadata=meta,
    )


def _annotated_fps(original: dict[str, Any]) -> float | None:
    """(end_frame - start_frame) / (end_time - start_time), when the metadata has all four."""
    try:
        frames = float(original["end_frame"]) - float(original["start_frame"])
        seconds = float(original["end_time"]) - float(original["start_time"])
    except (KeyError, TypeError, ValueError):
        return None
    return frames / seconds if frames > 0 and seconds > 0 else None


def video_index(videos: Mapping[str, str | os.PathLike[str]] | str | os.PathLike[str]) -> dict[str, Path]:
    """``{video_id: path}`` from a mapping, or from a directory of ``<video_id>.<ext>`` files."""
    if isinstance(videos, Mapping):
        return {str(k): Path(v) for k, v in videos.items()}
    folder = Path(videos)
    if not folder.is_dir():
        raise L.DatasetError(f"{folder}: no such video directory")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES}


def _scale_box(
    box: tuple[int, int, int, int], sx: float, sy: float, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """``box`` scaled by (sx, sy) and clipped to ``size`` (H, W)."""
    x0, y0 = max(0, int(np.floor(box[0] * sx))), max(0, int(np.floor(box[1] * sy)))
    x1 = min(size[1], int(np.ceil((box[0] + box[2]) * sx)))
    y1 = min(size[0], int(np.ceil((box[1] + box[3]) * sy)))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


def _chunk_frames(
    chunk: NitrogenChunk, path: Path, info: video.VideoInfo, source: np.ndarray, box, size
) -> Iterator[np.ndarray]:
    """Frames of the source indices ``source`` (sorted, may repeat), masked and resized."""
    first, last = int(source[0]), int(source[-1])
    wanted = iter(source.tolist())
    target = next(wanted)
    for frame in video.iter_frames(path, start=first / info.fps, end=(last + 1) / info.fps):
        image = frame.image
        if box is not None:
            x, y, w, h = box
            image[y : y + h, x : x + w] = 0
        resized = video.resize(image, size)
        while target == frame.index:
            yield resized
            target = next(wanted, None)
        if target is None:
            return
    raise video.VideoError(f"{path}: frame {target} needed by {chunk.path.name} could not be decoded")


def import_chunk(writer: EpisodeWriter, chunk: NitrogenChunk, path: Path, size: tuple[int, int]) -> int:
    """Cut, mask, resize and write one chunk as an episode; returns the episode index."""
    info = video.probe(path)
    n = len(chunk.actions)
    # Action row r is the annotated video's frame start_frame + r, at the annotated fps; the local
    # copy may have another fps (a 30 fps download of a 60 fps stream), so go through time: output
    # frame j, at j / dataset_fps seconds into the chunk, takes the nearest action row and the
    # nearest local frame.
    annotated_fps = chunk.fps or info.fps
    count = max(1, int(np.floor(n * writer.fps / annotated_fps + 1e-6)))
    seconds = np.arange(count) / writer.fps
    rows = np.minimum(np.round(seconds * annotated_fps).astype(np.int64), n - 1)
    first = round(chunk.start_frame * info.fps / annotated_fps)
    source = first + np.round(seconds * info.fps).astype(np.int64)
    if first < 0 or source[-1] >= info.num_frames:
        raise L.DatasetError(
            f"{path}: has {info.num_frames} frames, chunk {chunk.path.name} needs frames "
            f"{first}..{source[-1]} (at {info.fps:g} fps)"
        )
    box = None
    if chunk.overlay_box is not None:
        ref_h, ref_w = chunk.resolution or (info.height, info.width)
        box = _scale_box(
            chunk.overlay_box, info.width / ref_w, info.height / ref_h, (info.height, info.width)
        )
    stored_box = None
    if box is not None:
        stored_box = _scale_box(box, size[1] / info.width, size[0] / info.height, size)
    original = chunk.metadata.get("original_video", {})
    extra = {
        "nitrogen_uuid": chunk.uuid,
        "chunk_id": chunk.metadata.get("chunk_id"),
        "controller_type": chunk.metadata.get("controller_type"),
        "url": original.get("url"),
        "source": original.get("source"),
        "start_frame": chunk.start_frame,
        "source_fps": info.fps,
        "annotated_fps": annotated_fps,
        "actions_file": chunk.actions_file,
        "bbox_game_area": chunk.metadata.get("bbox_game_area"),
    }
    frames = _chunk_frames(chunk, path, info, source, box, size)
    return writer.add_episode(
        frames,
        chunk.actions[rows],
        game=chunk.game,
        video_id=chunk.video_id,
        overlay_box=stored_box,
        extra=extra,
    )


def import_nitrogen_shard(
    shard_dir: str | os.PathLike[str],
    videos: Mapping[str, str | os.PathLike[str]] | str | os.PathLike[str],
    out_root: str | os.PathLike[str],
    *,
    size: tuple[int, int] = (256, 256),
    fps: float | None = None,
    actions: ActionsChoice = "auto",
    progress: bool = True,
) -> ImportReport:
    """Import every chunk of a shard whose video is available into the dataset at ``out_root``.

    Args:
        shard_dir: the ``SHARD_NNNN`` directory.
        videos: ``{video_id: path}`` or a directory of ``<video_id>.<ext>`` files.
        out_root: dataset to create or append to.
        size: stored frame size (height, width).
        fps: dataset fps; default: the existing dataset's, else the first chunk's video's.
        actions: which actions file: ``processed`` if present (``auto``), or always ``raw``/``processed``.
        progress: show a progress bar.

    Returns an :class:`ImportReport`; failures are reported per chunk and never stop the batch.
    """
    if min(size) <= 0 or size[0] % 2 or size[1] % 2:
        raise L.DatasetError(f"frame size {size} (height, width) must be positive and even (H.264)")
    chunks = find_chunks(shard_dir)
    paths = video_index(videos)
    report = ImportReport()
    done: set[str] = set()
    if (Path(out_root) / L.INFO_PATH).exists():
        store = EpisodeStore(out_root)
        done = {ep["extra"].get("nitrogen_uuid", "") for ep in store.episodes}
        fps = fps or store.fps
    if fps is None:
        first = next((paths[c.parent.name] for c in chunks if c.parent.name in paths), None)
        if first is None:
            raise L.DatasetError(
                f"{shard_dir}: none of its {len(chunks)} chunks has a local video; nothing to import"
            )
        fps = video.probe(first).fps
    with EpisodeWriter(out_root, fps=fps) as writer:
        bar = tqdm(chunks, desc="import", unit="chunk", disable=not progress)
        for chunk_dir in bar:
            report.results.append(_import_one(writer, chunk_dir, paths, size, actions, done))
            bar.set_postfix(ok=report.count("imported"), failed=report.count("failed"))
    for failure in report.failures:
        log.warning("%s: %s", failure.chunk, failure.message)
    return report


def _import_one(
    writer: EpisodeWriter,
    chunk_dir: Path,
    paths: Mapping[str, Path],
    size: tuple[int, int],
    actions: ActionsChoice,
    done: set[str],
) -> ChunkResult:
    name = str(chunk_dir)
    try:
        chunk = read_chunk(chunk_dir, actions)
        if chunk.uuid in done:
            return ChunkResult(name, "skipped", "already imported")
        path = paths.get(chunk.video_id)
        if path is None:
            return ChunkResult(name, "failed", f"no local video for video_id {chunk.video_id!r}")
        episode = import_chunk(writer, chunk, path, size)
    except (PixelpadError, OSError, pa.ArrowException) as err:
        return ChunkResult(name, "failed", str(err))
    done.add(chunk.uuid)
    return ChunkResult(name, "imported", "", episode)
