"""Test data made on the spot: frames that say their own index, random actions, NitroGen shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pixelpad.actions import ACTION_DIM, AXIS_SLICE, BUTTON_SLICE, to_nitrogen_columns
from pixelpad.video import write_video


def indexed_frames(n: int, size: tuple[int, int] = (32, 48), offset: int = 0) -> np.ndarray:
    """``(n, H, W, 3)`` frames that show their index: three horizontal bands, one decimal digit each,
    as grey levels 20 apart (far beyond H.264's error at these sizes). Indices up to 999."""
    height = size[0]
    frames = np.zeros((n, *size, 3), dtype=np.uint8)
    for i in range(n):
        value = offset + i
        for band in range(3):
            digit = value // 10**band % 10
            frames[i, band * height // 3 : (band + 1) * height // 3] = 30 + 20 * digit
    return frames


def decoded_index(frame: np.ndarray) -> int:
    """The index an ``indexed_frames`` frame shows, read back from decoded pixels."""
    height = frame.shape[0]
    value = 0
    for band in range(3):
        rows = frame[band * height // 3 + 2 : (band + 1) * height // 3 - 2]
        value += round((float(np.median(rows)) - 30) / 20) * 10**band
    return value


def random_actions(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 21)`` valid actions: random buttons, sticks on a float32 grid that parquet keeps exactly."""
    rng = np.random.default_rng(seed)
    acts = np.zeros((n, ACTION_DIM), dtype=np.float32)
    acts[:, BUTTON_SLICE] = rng.integers(0, 2, (n, 17))
    acts[:, AXIS_SLICE] = rng.uniform(-1, 1, (n, 4)).astype(np.float32)
    return acts


def make_video(path: Path, n: int, size: tuple[int, int] = (32, 48), fps: float = 20, **options) -> Path:
    """An H.264 video of ``n`` indexed frames."""
    return write_video(path, indexed_frames(n, size), fps, **options)


def make_shard(
    shard: Path,
    video_id: str,
    chunks: list[tuple[int, int]],
    *,
    resolution: tuple[int, int] = (32, 48),
    bbox: tuple[int, int, int, int] | None = (36, 20, 12, 12),
    processed: bool = False,
    seed: int = 0,
) -> list[np.ndarray]:
    """Write ``SHARD/<video_id>/<video_id>_chunk_NNNN/`` for each (start_frame, length); returns actions."""
    out = []
    for number, (start, length) in enumerate(chunks):
        chunk = shard / video_id / f"{video_id}_chunk_{number:04d}"
        chunk.mkdir(parents=True)
        acts = random_actions(length, seed + number)
        columns = to_nitrogen_columns(acts)
        table = pa.table(
            {name: (list(map(list, col)) if col.ndim == 2 else col) for name, col in columns.items()}
        )
        pq.write_table(table, chunk / "actions_raw.parquet")
        if processed:
            processed_acts = acts.copy()
            processed_acts[:, BUTTON_SLICE] = 0  # distinguishable from raw
            columns = to_nitrogen_columns(processed_acts)
            table = pa.table(
                {name: (list(map(list, col)) if col.ndim == 2 else col) for name, col in columns.items()}
            )
            pq.write_table(table, chunk / "actions_processed.parquet")
            acts = processed_acts
        metadata = {
            "uuid": f"{video_id}_chunk_{number:04d}_actions",
            "chunk_id": f"{number:04d}",
            "chunk_size": length,
            "original_video": {
                "video_id": video_id,
                "source": "youtube",
                "url": f"https://example.invalid/{video_id}",
                "resolution": list(resolution),
                "start_time": start / 20,
                "end_time": (start + length) / 20,
                "duration": length / 20,
                "start_frame": start,
                "end_frame": start + length,
            },
            "game": "testgame",
            "controller_type": "xbox",
            "bbox_controller_overlay": list(bbox) if bbox else None,
        }
        (chunk / "metadata.json").write_text(json.dumps(metadata))
        out.append(acts)
    return out
