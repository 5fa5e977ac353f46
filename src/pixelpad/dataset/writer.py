"""Append episodes to a dataset, atomically: a crash loses at most the episode being written.

How an episode is committed (``EpisodeWriter.add_episode``):

1. its frames are encoded to ``ROOT/.staging/`` (the slow part; nothing else is touched yet);
2. new versions of the current video, data and meta/episodes files are written next to them as
   ``*.tmp``: the video by splicing the staged packets after the committed ones (no re-encoding),
   the parquet files by rewriting the committed rows plus the new ones;
3. the tmp files are fsynced and renamed over the old ones: video, then data, then — the commit
   point — the meta/episodes file;
4. derived files (info.json totals, stats.json, tasks.parquet) are rewritten from the episode rows.

``EpisodeWriter.add_encoded_episode`` skips step 1: another process (an extraction worker) has
encoded the episode already, so the one writer only splices and rewrites metadata.

Readers only trust meta/episodes, so a crash anywhere before the last rename of step 3 leaves at
most a video/data file holding an uncommitted tail, which readers never look at and the next writer
cuts off (it rebuilds from committed content only). Rewriting the current file on every commit
costs O(file size) per episode; files roll over at ``video_file_mb`` / ``data_file_mb`` (LeRobot's
``*_files_size_in_mb``) or ``file_frames``, which bounds that cost. One writer at a time: a lock
file enforces it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pixelpad import actions as A
from pixelpad import video
from pixelpad.dataset import layout as L

log = logging.getLogger(__name__)

_IMAGE_STAT_SAMPLES = 32  # frames per episode sampled for the image stats


class EpisodeWriter:
    """Create or append to a dataset at ``root``; use as a context manager.

    Args:
        root: dataset directory (created if missing).
        fps: frames per second of every episode; must match an existing dataset's.
        image_key: the video feature's name.
        robot_type: LeRobot's ``robot_type`` field.
        crf, preset, gop, x264_params: H.264 settings (see :class:`pixelpad.video.VideoWriter`); fixed
            by the first writer of a dataset (stored in info.json) so that spliced episodes stay
            compatible.
        data_file_mb, video_file_mb: start a new data/video file once the current one is this big
            (LeRobot's ``*_files_size_in_mb``, default 100 / 200; None keeps the dataset's).
        file_frames: ... or once it holds this many frames: splicing copies every packet of the
            current file, so this bounds the per-episode commit cost (~0.3 s at 9000 frames).
        chunks_size: files per ``chunk-XXX`` directory.

    Example:
        >>> with EpisodeWriter("out/ds", fps=30) as writer:  # doctest: +SKIP
        ...     writer.add_episode(frames, actions, game="supertux")
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fps: float,
        image_key: str = L.DEFAULT_IMAGE_KEY,
        robot_type: str = "gamepad",
        crf: int = 20,
        preset: str = "veryfast",
        gop: int = 32,
        x264_params: str = "",
        data_file_mb: float | None = None,
        video_file_mb: float | None = None,
        chunks_size: int = 1000,
        file_frames: int = 9000,
    ) -> None:
        self.root = Path(root)
        self.file_frames = file_frames
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.root / L.LOCK_FILE, "w")  # noqa: SIM115  (held until close)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            self._lock.close()
            raise L.DatasetError(f"{self.root}: another process is writing this dataset") from err
        try:
            encoding = {"crf": crf, "preset": preset, "gop": gop, "x264_params": x264_params}
            self._open(fps, image_key, robot_type, encoding, chunks_size)
        except BaseException:
            self.close()
            raise
        for key, value in (
            ("data_files_size_in_mb", data_file_mb),
            ("video_files_size_in_mb", video_file_mb),
        ):
            if value is not None:  # this writer's limit; stored, so later writers keep it
                self.info[key] = value

    # -- opening -----------------------------------------------------------------------------
    def _open(
        self, fps: float, image_key: str, robot_type: str, encoding: dict[str, Any], chunks_size: int
    ) -> None:
        """Read (or start) the dataset's metadata, check this writer fits it, clean up after crashes."""
        self._rows = L.read_episode_rows(self.root)
        if (self.root / L.INFO_PATH).exists():
            self.info = L.read_info(self.root)
            self._check_compatible(fps, image_key)
        elif self._rows:
            raise L.DatasetError(f"{self.root}: has episodes but no {L.INFO_PATH}")
        else:
            self.info = {
                "codebase_version": L.CODEBASE_VERSION,
                "robot_type": robot_type,
                "chunks_size": chunks_size,
                "data_files_size_in_mb": 100.0,
                "video_files_size_in_mb": 200.0,
                "fps": fps,
                "data_path": L.DATA_PATH,
                "video_path": L.VIDEO_PATH,
                "features": {},
                "pixelpad": {
                    "format_version": L.FORMAT_VERSION,
                    "image_key": image_key,
                    "encoding": encoding,
                },
            }
        self.fps = float(self.info["fps"])
        self.image_key = self.info["pixelpad"]["image_key"]
        self._clean_leftovers()
        self._write_derived()

    def _check_compatible(self, fps: float, image_key: str) -> None:
        if "pixelpad" not in self.info:
            raise L.DatasetError(
                f"{self.root}: a LeRobot dataset not written by pixelpad; cannot append to it"
            )
        if abs(float(self.info["fps"]) - fps) > 1e-6:
            raise L.DatasetError(f"{self.root}: dataset is {self.info['fps']} fps, writer asked for {fps}")
        stored_key = self.info.get("pixelpad", {}).get("image_key")
        if stored_key != image_key:
            raise L.DatasetError(f"{self.root}: dataset's image key is {stored_key!r}, not {image_key!r}")

    def _clean_leftovers(self) -> None:
        """Remove what a crashed writer left: staged episodes and half-written tmp files."""
        shutil.rmtree(self.root / L.STAGING_DIR, ignore_errors=True)
        for pattern in ("**/*.tmp", "**/*.partial"):
            for path in self.root.glob(pattern):
                log.info("removing leftover %s", path)
                path.unlink()

    # -- writing -----------------------------------------------------------------------------
    @property
    def num_episodes(self) -> int:
        return len(self._rows)

    def add_episode(
        self,
        frames: Iterable[np.ndarray],
        actions: np.ndarray,
        *,
        game: str,
        video_id: str = "",
        overlay_box: tuple[int, int, int, int] | None = None,
        task: str = "",
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Encode and commit one episode; returns its index.

        Args:
            frames: ``N`` frames, each uint8 ``(H, W, 3)`` RGB, all the dataset's size; streamed.
            actions: ``(N, 21)`` actions, one per frame (validated by :func:`pixelpad.actions.validate`).
            game: which game (a profile name or free text).
            video_id: the source video, if any.
            overlay_box: where the input overlay is in these frames, ``(x, y, w, h)``.
            task: a task description (LeRobot's ``tasks``).
            extra: any JSON-serialisable metadata.
        """
        index = len(self._rows)
        where = f"episode {index} ({game})"
        acts, described = self._describe(actions, where, game, video_id, overlay_box, task, extra)
        staging = self.root / L.STAGING_DIR / f"episode-{index:06d}.mp4"
        try:
            image_stats, size = self._encode(frames, len(acts), staging, where)
            self._commit(
                index, acts, staging, size, self._with_image_stats(described, image_stats, len(acts))
            )
        finally:
            staging.unlink(missing_ok=True)
        return index

    def add_encoded_episode(
        self,
        path: str | os.PathLike[str],
        actions: np.ndarray,
        *,
        image_stats: dict[str, list[float]],
        game: str,
        video_id: str = "",
        overlay_box: tuple[int, int, int, int] | None = None,
        task: str = "",
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Commit an episode whose frames another process already encoded; returns its index.

        Encoding is the slow part of :meth:`add_episode`: workers that encode their own episodes
        (``pixelpad extract``) leave this writer only the splice and the metadata, the same commit.

        Args:
            path: an H.264 MP4 (yuv420p, no B-frames, starting on a key frame, as
                :class:`pixelpad.video.VideoWriter` writes) of ``N`` frames at the dataset's frame rate
                and size; read, not moved or deleted.
            actions: ``(N, 21)`` actions, one per frame.
            image_stats: per-channel ``min``, ``max``, ``mean``, ``std`` of the frames, in [0, 1].
            game, video_id, overlay_box, task, extra: as :meth:`add_episode`.
        """
        index = len(self._rows)
        where = f"episode {index} ({game})"
        acts, described = self._describe(actions, where, game, video_id, overlay_box, task, extra)
        try:
            info = video.probe(path)
        except video.VideoError as err:
            raise L.DatasetError(f"{where}: {err}") from err
        if info.codec != "h264":
            raise L.DatasetError(f"{where}: {path} is {info.codec}, the dataset stores h264")
        if abs(info.fps - self.fps) > 1e-3:
            raise L.DatasetError(f"{where}: {path} is {info.fps:g} fps, the dataset is {self.fps:g}")
        if info.num_frames != len(acts):
            raise L.DatasetError(f"{where}: {path} has {info.num_frames} frames but {len(acts)} actions")
        feature = self.info["features"].get(self.image_key)
        size = (info.height, info.width)
        if size[0] % 2 or size[1] % 2 or (feature and tuple(feature["shape"][:2]) != size):
            want = f"{feature['shape'][1]}x{feature['shape'][0]}" if feature else "even-sized"
            raise L.DatasetError(f"{where}: {path} is {size[1]}x{size[0]}, the dataset stores {want} frames")
        stats = {}
        for name in ("min", "max", "mean", "std"):
            value = np.asarray(image_stats.get(name, ()), np.float64)
            if value.shape != (3,) or not np.all((value >= 0) & (value <= 1)):
                raise L.DatasetError(
                    f"{where}: image_stats[{name!r}] must be 3 values in [0, 1], got {value}"
                )
            stats[name] = value.tolist()
        self._commit(index, acts, Path(path), size, self._with_image_stats(described, stats, len(acts)))
        return index

    def _describe(
        self,
        actions: np.ndarray,
        where: str,
        game: str,
        video_id: str,
        overlay_box: tuple[int, int, int, int] | None,
        task: str,
        extra: dict[str, Any] | None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Validated actions, and the row's columns that describe the episode (the rest say where it is)."""
        acts = A.validate(actions, where=f"{where}: actions")
        if acts.ndim != 2 or len(acts) == 0:
            raise L.DatasetError(f"{where}: actions must be (N, {A.ACTION_DIM}) with N > 0, got {acts.shape}")
        if overlay_box is not None and (len(overlay_box) != 4 or min(overlay_box[2:]) <= 0):
            raise L.DatasetError(
                f"{where}: overlay_box must be (x, y, w, h) with w, h > 0, got {overlay_box}"
            )
        try:
            extra_json = json.dumps(extra or {})
        except TypeError as err:
            raise L.DatasetError(f"{where}: extra is not JSON-serialisable: {err}") from err
        return acts, {
            "tasks": [task],
            **_stat_columns("action", _action_stats(acts)),
            "game": game,
            "video_id": video_id,
            "overlay_box": list(overlay_box) if overlay_box is not None else None,
            "extra": extra_json,
        }

    def _with_image_stats(self, described: dict[str, Any], stats: dict[str, list[float]], n: int) -> dict:
        return {**described, **_stat_columns(self.image_key, {**stats, "count": [n]})}

    def _encode(
        self, frames: Iterable[np.ndarray], n: int, staging: Path, where: str
    ) -> tuple[dict[str, list[float]], tuple[int, int]]:
        """Encode to ``staging``; returns image stats (per channel, in [0, 1]) and the frame size (H, W)."""
        encoding = self.info["pixelpad"]["encoding"]
        feature = self.info["features"].get(self.image_key)
        expected = tuple(feature["shape"][:2]) if feature else None
        every = max(1, n // _IMAGE_STAT_SAMPLES)
        samples: list[np.ndarray] = []
        with video.VideoWriter(staging, self.fps, **encoding) as out:
            for i, image in enumerate(_checked_frames(frames, expected, where)):
                if i >= n:
                    raise L.DatasetError(f"{where}: more frames than the {n} actions")
                out.write(image)
                if i % every == 0:
                    samples.append(image[::4, ::4].reshape(-1, 3))
            if out.frames_written != n:
                raise L.DatasetError(f"{where}: {out.frames_written} frames but {n} actions")
        pixels = np.concatenate(samples).astype(np.float64) / 255.0
        stats = {
            "min": pixels.min(0).tolist(),
            "max": pixels.max(0).tolist(),
            "mean": pixels.mean(0).tolist(),
            "std": pixels.std(0).tolist(),
        }
        return stats, (image.shape[0], image.shape[1])

    def _target_file(self) -> tuple[int, int, list[dict[str, Any]]]:
        """(chunk, file, committed rows in it) of the file the next episode goes to."""
        if not self._rows:
            return 0, 0, []
        last = self._rows[-1]
        chunk, file = last["data/chunk_index"], last["data/file_index"]
        rows = [r for r in self._rows if (r["data/chunk_index"], r["data/file_index"]) == (chunk, file)]
        data_path, video_path, _ = L.file_paths(self.root, self.image_key, chunk, file)
        full = (
            rows[-1]["dataset_to_index"] - rows[0]["dataset_from_index"] >= self.file_frames
            or video_path.stat().st_size >= self.info["video_files_size_in_mb"] * 2**20
            or data_path.stat().st_size >= self.info["data_files_size_in_mb"] * 2**20
        )
        if not full:
            return chunk, file, rows
        file += 1
        if file >= self.info["chunks_size"]:
            chunk, file = chunk + 1, 0
        return chunk, file, []

    def _commit(
        self, index: int, acts: np.ndarray, staging: Path, size: tuple[int, int], described: dict[str, Any]
    ) -> None:
        """Splice the staged video and rewrite the current files; the meta/episodes rename commits."""
        if not self.info["features"]:
            self.info["features"] = L.features(self.image_key, self.fps, *size)
            self._write_info()  # before the first commit: readers need fps and features
        chunk, file, file_rows = self._target_file()
        data_path, video_path, meta_path = L.file_paths(self.root, self.image_key, chunk, file)
        key = f"videos/{self.image_key}"
        n = len(acts)
        first = self._rows[-1]["dataset_to_index"] if self._rows else 0

        video_tmp = video_path.with_name(video_path.name + ".tmp")
        video_path.parent.mkdir(parents=True, exist_ok=True)
        keep_until = file_rows[-1][f"{key}/to_timestamp"] if file_rows else None
        start, end = video.splice(video_path if file_rows else None, keep_until, staging, video_tmp)

        tasks = self._task_indices()
        task_index = tasks.setdefault(described["tasks"][0], len(tasks))
        new_data = pa.table(
            {
                "action": pa.FixedSizeListArray.from_arrays(pa.array(acts.reshape(-1)), A.ACTION_DIM),
                "timestamp": pa.array(np.arange(n, dtype=np.float32) / np.float32(self.fps)),
                "frame_index": pa.array(np.arange(n, dtype=np.int64)),
                "episode_index": pa.array(np.full(n, index, dtype=np.int64)),
                "index": pa.array(np.arange(first, first + n, dtype=np.int64)),
                "task_index": pa.array(np.full(n, task_index, dtype=np.int64)),
            },
            schema=L.DATA_SCHEMA,
        )
        if file_rows:  # committed rows only: drop a tail a crashed writer may have left
            old = pq.read_table(data_path, schema=L.DATA_SCHEMA)
            committed = file_rows[-1]["dataset_to_index"] - file_rows[0]["dataset_from_index"]
            new_data = pa.concat_tables([old.slice(0, committed), new_data])
        data_tmp = L.write_parquet(data_path, new_data, replace=False)

        row = {
            "episode_index": index,
            "length": n,
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": first,
            "dataset_to_index": first + n,
            f"{key}/chunk_index": chunk,
            f"{key}/file_index": file,
            f"{key}/from_timestamp": start,
            f"{key}/to_timestamp": end,
            "meta/episodes/chunk_index": chunk,
            "meta/episodes/file_index": file,
            **described,
        }
        schema = L.episode_schema(self.image_key)
        meta_tmp = L.write_parquet(
            meta_path, pa.Table.from_pylist([*file_rows, row], schema=schema), replace=False
        )

        L.replace_atomically(video_tmp, video_path)
        L.replace_atomically(data_tmp, data_path)
        L.replace_atomically(meta_tmp, meta_path)  # the commit point
        self._rows.append(row)
        self._write_derived()

    # -- derived metadata --------------------------------------------------------------------
    def _task_indices(self) -> dict[str, int]:
        tasks: dict[str, int] = {}
        for row in self._rows:
            for task in row["tasks"]:
                tasks.setdefault(task, len(tasks))
        return tasks

    def _write_info(self) -> None:
        total = self._rows[-1]["dataset_to_index"] if self._rows else 0
        self.info.update(
            total_episodes=len(self._rows),
            total_frames=total,
            total_tasks=len(self._task_indices()),
            splits={"train": f"0:{len(self._rows)}"},
        )
        L.write_json(self.root / L.INFO_PATH, self.info)

    def _write_derived(self) -> None:
        """Rewrite info.json totals, stats.json and tasks.parquet from the committed episode rows."""
        if not self._rows:
            return
        self._write_info()
        stats = L.aggregate_stats(self._rows, ("action", self.image_key))
        for name in ("min", "max", "mean", "std"):  # LeRobot keeps image stats as (3, 1, 1)
            stats[self.image_key][name] = [[[v]] for v in stats[self.image_key][name]]
        L.write_json(self.root / L.STATS_PATH, stats)
        tasks = self._task_indices()
        # LeRobot reads this with pandas and expects the task strings as the index
        frame = pd.DataFrame({"task_index": np.array(list(tasks.values()), dtype=np.int64)})
        frame.index = pd.Index(list(tasks), name="task")
        table = pa.Table.from_pandas(frame, preserve_index=True)
        L.write_parquet(self.root / L.TASKS_PATH, table)

    # -- closing -----------------------------------------------------------------------------
    def close(self) -> None:
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _checked_frames(
    frames: Iterable[np.ndarray], expected: tuple[int, ...] | None, where: str
) -> Iterator[np.ndarray]:
    for i, image in enumerate(frames):
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise L.DatasetError(
                f"{where}: frame {i} must be uint8 (H, W, 3), got {image.dtype} {image.shape}"
            )
        if expected is None:
            expected = image.shape[:2]
            if expected[0] % 2 or expected[1] % 2:
                raise L.DatasetError(
                    f"{where}: frames are {expected[1]}x{expected[0]}; H.264 needs even sizes "
                    "(resize with pixelpad.video.resize)"
                )
        if image.shape[:2] != expected:
            raise L.DatasetError(
                f"{where}: frame {i} is {image.shape[1]}x{image.shape[0]}, the dataset stores "
                f"{expected[1]}x{expected[0]} frames (resize with pixelpad.video.resize)"
            )
        yield image


def _action_stats(acts: np.ndarray) -> dict[str, list[float]]:
    a = acts.astype(np.float64)
    return {
        "min": a.min(0).tolist(),
        "max": a.max(0).tolist(),
        "mean": a.mean(0).tolist(),
        "std": a.std(0).tolist(),
        "count": [len(a)],
    }


def _stat_columns(feature: str, stats: dict[str, list[float]]) -> dict[str, list[float]]:
    return {f"stats/{feature}/{name}": value for name, value in stats.items()}
