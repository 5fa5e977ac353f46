"""Read a dataset: episode metadata, actions (bit-exact), frames (decoded from the video files)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pixelpad import video
from pixelpad.actions import ACTION_DIM
from pixelpad.dataset import layout as L


class EpisodeStore:
    """A read-only view of the committed episodes of the dataset at ``root``.

    Attributes:
        fps: frames per second.
        image_key: the video feature's name.
        image_size: ``(height, width)`` of the stored frames.
        episodes: one dict per episode: ``index, length, game, video_id, overlay_box ((x, y, w, h) or
            None), task, extra (dict)``.

    Example:
        >>> store = EpisodeStore("out/ds")          # doctest: +SKIP
        >>> store.actions(0).shape, store.frames(0, 0, 8).shape
        ((120, 21), (8, 96, 128, 3))
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise L.DatasetError(f"{self.root}: no such dataset directory")
        self.info = L.read_info(self.root)
        self.fps = float(self.info["fps"])
        self.image_key = self.info.get("pixelpad", {}).get("image_key", L.DEFAULT_IMAGE_KEY)
        feature = self.info["features"].get(self.image_key)
        if feature is None:
            raise L.DatasetError(f"{self.root / L.INFO_PATH}: no video feature {self.image_key!r}")
        self.image_size: tuple[int, int] = (int(feature["shape"][0]), int(feature["shape"][1]))
        self._rows = L.read_episode_rows(self.root)
        self.episodes: list[dict[str, Any]] = [self._episode_dict(row) for row in self._rows]
        self._data = lru_cache(maxsize=4)(self._read_data_file)

    @staticmethod
    def _episode_dict(row: dict[str, Any]) -> dict[str, Any]:
        box = row.get("overlay_box")
        return {
            "index": row["episode_index"],
            "length": row["length"],
            "game": row.get("game") or "",
            "video_id": row.get("video_id") or "",
            "overlay_box": tuple(box) if box is not None else None,
            "task": row["tasks"][0] if row["tasks"] else "",
            "extra": json.loads(row.get("extra") or "{}"),
        }

    @property
    def num_episodes(self) -> int:
        return len(self._rows)

    @property
    def num_frames(self) -> int:
        return self._rows[-1]["dataset_to_index"] if self._rows else 0

    def _row(self, episode: int) -> dict[str, Any]:
        if not 0 <= episode < len(self._rows):
            raise L.DatasetError(f"{self.root}: no episode {episode} (it has {len(self._rows)})")
        return self._rows[episode]

    def _read_data_file(self, chunk: int, file: int) -> tuple[np.ndarray, np.ndarray]:
        """(global index column (n,), actions (n, 21) float32) of one data file."""
        path = L.file_paths(self.root, self.image_key, chunk, file)[0]
        try:
            table = pq.read_table(path, columns=["index", "action"])
        except (OSError, pa.ArrowException) as err:
            raise L.DatasetError(f"{path}: unreadable data file: {err}") from err
        action = table.column("action").combine_chunks()
        if not pa.types.is_fixed_size_list(action.type) or action.type.list_size != ACTION_DIM:
            raise L.DatasetError(
                f"{path}: column 'action' has type {action.type}, expected float32[{ACTION_DIM}]"
            )
        values = action.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        return table.column("index").to_numpy(), values.reshape(-1, ACTION_DIM)

    def actions(self, episode: int) -> np.ndarray:
        """``(length, 21)`` float32 actions of one episode, exactly as written."""
        row = self._row(episode)
        index, values = self._data(row["data/chunk_index"], row["data/file_index"])
        lo = int(np.searchsorted(index, row["dataset_from_index"]))
        out = values[lo : lo + row["length"]]
        if len(out) != row["length"] or (len(out) and index[lo] != row["dataset_from_index"]):
            path = L.file_paths(self.root, self.image_key, row["data/chunk_index"], row["data/file_index"])[0]
            raise L.DatasetError(f"{path}: rows of episode {episode} are missing")
        return out.copy()

    def video_location(self, episode: int) -> tuple[Path, float, float]:
        """(video file, start seconds, end seconds) of one episode's frames."""
        row = self._row(episode)
        key = f"videos/{self.image_key}"
        path = L.file_paths(self.root, self.image_key, row[f"{key}/chunk_index"], row[f"{key}/file_index"])[1]
        return path, row[f"{key}/from_timestamp"], row[f"{key}/to_timestamp"]

    def iter_frames(self, episode: int, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames ``start .. stop - 1`` of one episode, each ``(H, W, 3)`` uint8, decoded lazily."""
        length = self._row(episode)["length"]
        stop = length if stop is None else min(stop, length)
        if not 0 <= start <= stop:
            raise L.DatasetError(f"episode {episode}: bad frame range {start}..{stop} (length {length})")
        path, begin, _ = self.video_location(episode)
        count = 0
        for frame in video.iter_frames(path, start=begin + start / self.fps, end=begin + stop / self.fps):
            count += 1
            yield frame.image
        if count != stop - start:
            raise L.DatasetError(f"{path}: episode {episode} has {count} of its {stop - start} frames")

    def frames(self, episode: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``start .. stop - 1`` of one episode as ``(n, H, W, 3)`` uint8."""
        images = list(self.iter_frames(episode, start, stop))
        if not images:
            return np.zeros((0, *self.image_size, 3), dtype=np.uint8)
        return np.stack(images)

    def summary(self) -> dict[str, Any]:
        """Counts for ``pixelpad dataset info``."""
        games: dict[str, int] = {}
        for ep in self.episodes:
            games[ep["game"]] = games.get(ep["game"], 0) + 1
        return {
            "root": str(self.root),
            "episodes": self.num_episodes,
            "frames": self.num_frames,
            "fps": self.fps,
            "image_size": list(self.image_size),
            "hours": round(self.num_frames / self.fps / 3600, 3),
            "games": games,
        }
