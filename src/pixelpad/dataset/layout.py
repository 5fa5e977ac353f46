"""The on-disk layout: LeRobot v3.0, with pixelpad's columns.

::

    ROOT/
      meta/info.json                                  fps, features, path templates, totals
      meta/stats.json                                 per-feature min/max/mean/std/count
      meta/tasks.parquet                              task (string) -> task_index
      meta/episodes/chunk-000/file-000.parquet        one row per episode (see EPISODE_COLUMNS)
      data/chunk-000/file-000.parquet                 one row per frame: action, timestamp, indices
      videos/observation.image/chunk-000/file-000.mp4 the frames of many episodes, back to back

Many episodes share a data file and a video file; an episode row says where its rows are
(``dataset_from_index``/``dataset_to_index``, the global ``index`` column) and where its frames are
(``videos/<key>/from_timestamp``/``to_timestamp``, seconds into the video file). The meta/episodes
file of a data file has the same chunk/file numbers as that data file.

The episode rows are the single source of truth: ``info.json`` totals, ``stats.json`` and
``tasks.parquet`` are derived from them and rewritten after every commit (see ``writer.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pixelpad.actions import ACTION_DIM, NAMES
from pixelpad.errors import PixelpadError

CODEBASE_VERSION = "v3.0"
FORMAT_VERSION = 1  # pixelpad's own additions (game, video_id, overlay_box, extra)
DEFAULT_IMAGE_KEY = "observation.image"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
STAGING_DIR = ".staging"
LOCK_FILE = ".pixelpad-writer.lock"

DATA_SCHEMA = pa.schema(
    [
        ("action", pa.list_(pa.float32(), ACTION_DIM)),
        ("timestamp", pa.float32()),
        ("frame_index", pa.int64()),
        ("episode_index", pa.int64()),
        ("index", pa.int64()),
        ("task_index", pa.int64()),
    ]
)
_STAT_NAMES = ("min", "max", "mean", "std", "count")


class DatasetError(PixelpadError):
    """A dataset that is missing, malformed or used wrongly; the message names the file."""


def episode_schema(image_key: str) -> pa.Schema:
    """Columns of a meta/episodes row: LeRobot's, then pixelpad's (game, video_id, overlay_box, extra)."""
    video = f"videos/{image_key}"
    fields = [
        ("episode_index", pa.int64()),
        ("tasks", pa.list_(pa.string())),
        ("length", pa.int64()),
        ("data/chunk_index", pa.int64()),
        ("data/file_index", pa.int64()),
        ("dataset_from_index", pa.int64()),
        ("dataset_to_index", pa.int64()),
        (f"{video}/chunk_index", pa.int64()),
        (f"{video}/file_index", pa.int64()),
        (f"{video}/from_timestamp", pa.float64()),
        (f"{video}/to_timestamp", pa.float64()),
        ("meta/episodes/chunk_index", pa.int64()),
        ("meta/episodes/file_index", pa.int64()),
    ]
    for feature in ("action", image_key):
        for stat in _STAT_NAMES:
            item = pa.int64() if stat == "count" else pa.float64()
            fields.append((f"stats/{feature}/{stat}", pa.list_(item)))
    fields += [
        ("game", pa.string()),
        ("video_id", pa.string()),
        ("overlay_box", pa.list_(pa.int64(), 4)),
        ("extra", pa.string()),  # JSON object
    ]
    return pa.schema(fields)


def features(image_key: str, fps: float, height: int, width: int) -> dict[str, Any]:
    """The ``features`` block of info.json."""
    scalar = {"shape": [1], "names": None}
    return {
        image_key: {
            "dtype": "video",
            "shape": [height, width, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.fps": fps,
                "video.height": height,
                "video.width": width,
                "video.channels": 3,
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "has_audio": False,
            },
        },
        "action": {"dtype": "float32", "shape": [ACTION_DIM], "names": list(NAMES)},
        "timestamp": {"dtype": "float32", **scalar},
        "frame_index": {"dtype": "int64", **scalar},
        "episode_index": {"dtype": "int64", **scalar},
        "index": {"dtype": "int64", **scalar},
        "task_index": {"dtype": "int64", **scalar},
    }


def file_paths(root: Path, image_key: str, chunk: int, file: int) -> tuple[Path, Path, Path]:
    """(data parquet, video mp4, meta/episodes parquet) of one chunk/file pair."""
    return (
        root / DATA_PATH.format(chunk_index=chunk, file_index=file),
        root / VIDEO_PATH.format(video_key=image_key, chunk_index=chunk, file_index=file),
        root / EPISODES_PATH.format(chunk_index=chunk, file_index=file),
    )


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def replace_atomically(tmp: Path, final: Path) -> None:
    """Move a fully written, fsynced ``tmp`` over ``final`` (readers see the old or the new file)."""
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    replace_atomically(tmp, path)


def write_parquet(path: Path, table: pa.Table, *, replace: bool = True) -> Path:
    """Write ``table`` to ``path`` through a temporary file; ``replace=False`` leaves it at ``.tmp``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    if replace:
        replace_atomically(tmp, path)
    return tmp


def read_info(root: Path) -> dict[str, Any]:
    path = root / INFO_PATH
    if not path.exists():
        raise DatasetError(f"{root}: not a pixelpad dataset ({INFO_PATH} is missing)")
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: unreadable JSON: {err}") from err
    for key in ("codebase_version", "fps", "features", "data_path", "video_path"):
        if key not in info:
            raise DatasetError(f"{path}: missing key {key!r}")
    if info["codebase_version"] != CODEBASE_VERSION:
        raise DatasetError(
            f"{path}: codebase_version {info['codebase_version']!r}, expected {CODEBASE_VERSION}"
        )
    return info


def read_episode_rows(root: Path) -> list[dict[str, Any]]:
    """All committed episode rows, in episode order; checks the episode indices run 0, 1, 2, …"""
    rows: list[dict[str, Any]] = []
    for path in sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet")):
        try:
            rows.extend(pq.read_table(path).to_pylist())
        except (OSError, pa.ArrowException) as err:
            raise DatasetError(f"{path}: unreadable episode metadata: {err}") from err
    rows.sort(key=lambda row: row["episode_index"])
    for expected, row in enumerate(rows):
        if row["episode_index"] != expected:
            raise DatasetError(f"{root}: episode {expected} is missing from meta/episodes")
    return rows


def aggregate_stats(rows: list[dict[str, Any]], features_: tuple[str, ...]) -> dict[str, Any]:
    """Pool per-episode stats (min, max, mean, std, count) into dataset-wide stats."""
    out: dict[str, Any] = {}
    for feature in features_:
        prefix = f"stats/{feature}/"
        present = [row for row in rows if row.get(prefix + "count")]
        if not present:
            continue
        counts = np.array([row[prefix + "count"][0] for row in present], dtype=np.float64)
        shape = np.asarray(present[0][prefix + "mean"]).shape
        means = np.stack([np.asarray(row[prefix + "mean"], dtype=np.float64) for row in present])
        stds = np.stack([np.asarray(row[prefix + "std"], dtype=np.float64) for row in present])
        weights = (counts / counts.sum()).reshape(-1, *([1] * len(shape)))
        mean = (weights * means).sum(axis=0)
        var = (weights * (stds**2 + (means - mean) ** 2)).sum(axis=0)
        out[feature] = {
            "min": np.min([row[prefix + "min"] for row in present], axis=0).tolist(),
            "max": np.max([row[prefix + "max"] for row in present], axis=0).tolist(),
            "mean": mean.tolist(),
            "std": np.sqrt(var).tolist(),
            "count": [int(counts.sum())],
        }
    return out
