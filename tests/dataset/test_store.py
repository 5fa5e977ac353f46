"""Writing and reading episodes: bit-exact actions, frames within codec tolerance, layout, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixelpad.actions import ACTION_DIM, ActionError
from pixelpad.dataset import DatasetError, EpisodeStore, EpisodeWriter

from .conftest import EPISODE_LENGTHS
from .factories import decoded_index, indexed_frames, random_actions


def test_roundtrip(small_dataset: tuple[Path, list]) -> None:
    root, episodes = small_dataset
    store = EpisodeStore(root)
    assert store.num_episodes == 3 and store.fps == 20 and store.image_size == (32, 48)
    assert store.num_frames == sum(EPISODE_LENGTHS)
    for i, (frames, acts) in enumerate(episodes):
        np.testing.assert_array_equal(store.actions(i), acts)  # bit-exact
        decoded = store.frames(i)
        assert decoded.shape == frames.shape
        assert float(np.abs(decoded.astype(int) - frames.astype(int)).mean()) < 1.0
    assert store.episodes[1] == {
        "index": 1,
        "length": 30,
        "game": "game1",
        "video_id": "v1",
        "overlay_box": (36, 20, 12, 12),
        "task": "t",
        "extra": {},
    }
    assert store.episodes[0]["overlay_box"] is None


def test_frame_ranges_are_exact(small_dataset: tuple[Path, list]) -> None:
    root, _ = small_dataset
    store = EpisodeStore(root)
    first = EPISODE_LENGTHS[0]  # indexed frames run on across episodes
    assert [decoded_index(f) for f in store.frames(1, 5, 9)] == list(range(first + 5, first + 9))
    assert [decoded_index(f) for f in store.iter_frames(2, 6)] == [sum(EPISODE_LENGTHS) - 1]
    assert store.frames(1, 4, 4).shape == (0, 32, 48, 3)


def test_lerobot_v3_layout(small_dataset: tuple[Path, list]) -> None:
    root, _ = small_dataset
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 49, 1)
    assert info["features"]["observation.image"]["dtype"] == "video"
    assert info["features"]["observation.image"]["shape"] == [32, 48, 3]
    assert info["features"]["action"]["shape"] == [ACTION_DIM]
    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert data.column_names == ["action", "timestamp", "frame_index", "episode_index", "index", "task_index"]
    assert data.column("index").to_pylist() == list(range(49))
    episodes = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["dataset_from_index"] for e in episodes] == [0, 12, 42]
    froms = [e["videos/observation.image/from_timestamp"] for e in episodes]
    assert froms == pytest.approx([0.0, 0.6, 2.1])  # many episodes, one video file, back to back
    assert (root / "videos/observation.image/chunk-000/file-000.mp4").exists()
    stats = json.loads((root / "meta/stats.json").read_text())
    assert stats["action"]["count"] == [49] and len(stats["action"]["mean"]) == ACTION_DIM
    assert np.array(stats["observation.image"]["mean"]).shape == (3, 1, 1)
    assert pq.read_table(root / "meta/tasks.parquet").to_pylist() == [{"task_index": 0, "task": "t"}]
    assert pd.read_parquet(root / "meta/tasks.parquet").loc["t", "task_index"] == 0  # as LeRobot reads it


def test_append_and_file_rollover(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    written = []
    sessions = [{}, {"video_file_mb": 1e-6}, {"video_file_mb": 100, "file_frames": 1}]
    for limits in sessions:  # three writer sessions append to the same dataset
        with EpisodeWriter(root, fps=10, **limits) as writer:
            for _ in range(2):
                n = 5 + len(written)
                frames, acts = indexed_frames(n, offset=20 * len(written)), random_actions(n, len(written))
                assert writer.add_episode(frames, acts, game="g") == len(written)
                written.append((frames, acts))
    store = EpisodeStore(root)
    assert store.num_episodes == 6
    files = [(r["data/file_index"], r["videos/observation.image/file_index"]) for r in store._rows]
    assert files == [(0, 0), (0, 0), (1, 1), (2, 2), (3, 3), (4, 4)]  # together, then one file each
    assert len(list((root / "videos").rglob("*.mp4"))) == 5
    for i, (_, acts) in enumerate(written):
        np.testing.assert_array_equal(store.actions(i), acts)
        assert [decoded_index(f) for f in store.frames(i)] == list(range(20 * i, 20 * i + len(acts)))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lengths=st.lists(st.integers(1, 12), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_roundtrip_property(tmp_path_factory: pytest.TempPathFactory, lengths: list[int], seed: int) -> None:
    root = tmp_path_factory.mktemp("prop")
    episodes = [random_actions(n, seed + i) for i, n in enumerate(lengths)]
    with EpisodeWriter(root, fps=30, gop=4) as writer:
        offset = 0
        for acts in episodes:
            writer.add_episode(indexed_frames(len(acts), (16, 16), offset), acts, game="g")
            offset += len(acts)
    store = EpisodeStore(root)
    offset = 0
    for i, acts in enumerate(episodes):
        np.testing.assert_array_equal(store.actions(i), acts)
        assert [decoded_index(f) for f in store.frames(i)] == list(range(offset, offset + len(acts)))
        offset += len(acts)


def test_bad_episodes_are_refused_and_leave_nothing(small_dataset: tuple[Path, list]) -> None:
    root, _ = small_dataset
    with EpisodeWriter(root, fps=20) as writer:
        good = indexed_frames(4)
        with pytest.raises(ActionError, match="episode 3"):
            writer.add_episode(good, np.zeros((4, 20)), game="g")
        nan = random_actions(4)
        nan[2, 18] = np.nan
        with pytest.raises(ActionError, match="non-finite"):
            writer.add_episode(good, nan, game="g")
        with pytest.raises(DatasetError, match="3 frames but 4 actions"):
            writer.add_episode(good[:3], random_actions(4), game="g")
        with pytest.raises(DatasetError, match="more frames than the 4 actions"):
            writer.add_episode(indexed_frames(5), random_actions(4), game="g")
        with pytest.raises(DatasetError, match="frame 0 is 16x16, the dataset stores 48x32"):
            writer.add_episode(indexed_frames(4, (16, 16)), random_actions(4), game="g")
        with pytest.raises(DatasetError, match="overlay_box"):
            writer.add_episode(good, random_actions(4), game="g", overlay_box=(0, 0, 0, 5))
        with pytest.raises(DatasetError, match="JSON"):
            writer.add_episode(good, random_actions(4), game="g", extra={"x": object()})
        assert writer.add_episode(good, random_actions(4), game="g") == 3
    assert EpisodeStore(root).num_episodes == 4
    assert not list(root.rglob("*.tmp")) and not list(root.rglob("*.partial"))


def test_pre_encoded_episodes_commit_like_encoded_ones(
    small_dataset: tuple[Path, list], tmp_path: Path
) -> None:
    from pixelpad.video import write_video

    root, _ = small_dataset
    first = sum(EPISODE_LENGTHS)
    frames, acts = indexed_frames(10, offset=first), random_actions(10, seed=7)
    encoded = write_video(tmp_path / "e.mp4", frames, 20, gop=8)
    stats = {"min": [0.1] * 3, "max": [0.9] * 3, "mean": [0.5] * 3, "std": [0.2] * 3}
    with EpisodeWriter(root, fps=20) as writer:
        index = writer.add_encoded_episode(
            encoded, acts, image_stats=stats, game="g", video_id="v", extra={"k": 1}
        )
    assert index == 3 and encoded.exists()  # the caller's file is read, not taken
    store = EpisodeStore(root)
    np.testing.assert_array_equal(store.actions(3), acts)
    assert [decoded_index(f) for f in store.frames(3)] == list(range(first, first + 10))
    assert [decoded_index(f) for f in store.frames(2)] == list(range(first - 7, first))  # earlier ones intact
    assert store.episodes[3]["extra"] == {"k": 1} and store.num_frames == first + 10
    row = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()[3]
    assert row["stats/observation.image/mean"] == [0.5] * 3 and row["stats/observation.image/count"] == [10]


def test_bad_pre_encoded_episodes_are_refused_and_leave_nothing(
    small_dataset: tuple[Path, list], tmp_path: Path
) -> None:
    from pixelpad.video import write_video

    root, _ = small_dataset
    good = write_video(tmp_path / "good.mp4", indexed_frames(4), 20)
    stats = {"min": [0.0] * 3, "max": [1.0] * 3, "mean": [0.5] * 3, "std": [0.1] * 3}
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with EpisodeWriter(root, fps=20) as writer:
        cases = [
            (tmp_path / "junk.mp4", random_actions(4), stats, "not a readable video"),
            (good, random_actions(5), stats, "4 frames but 5 actions"),
            (write_video(tmp_path / "small.mp4", indexed_frames(4, (16, 16)), 20), random_actions(4), stats,
             "16x16, the dataset stores 48x32"),
            (write_video(tmp_path / "fast.mp4", indexed_frames(4), 30), random_actions(4), stats, "30 fps"),
            (good, random_actions(4), {**stats, "std": [0.1, 2.0, 0.1]}, "std"),
            (good, random_actions(4), {k: v for k, v in stats.items() if k != "max"}, "max"),
        ]  # fmt: skip
        for path, acts, image_stats, message in cases:
            with pytest.raises(DatasetError, match=message):
                writer.add_encoded_episode(path, acts, image_stats=image_stats, game="g")
        assert writer.add_encoded_episode(good, random_actions(4), image_stats=stats, game="g") == 3
    assert EpisodeStore(root).num_episodes == 4
    assert not list(root.rglob("*.tmp")) and not list(root.rglob("*.partial"))


def test_odd_frame_sizes_are_refused_with_the_episode_named(tmp_path: Path) -> None:
    with (
        EpisodeWriter(tmp_path / "ds", fps=20) as writer,
        pytest.raises(DatasetError, match=r"episode 0 .* 15x9"),
    ):
        writer.add_episode(np.zeros((3, 9, 15, 3), np.uint8), random_actions(3), game="g")


def test_open_errors(small_dataset: tuple[Path, list], tmp_path: Path) -> None:
    root, _ = small_dataset
    with pytest.raises(DatasetError, match="20 fps, writer asked for 30"):
        EpisodeWriter(root, fps=30)
    with EpisodeWriter(root, fps=20), pytest.raises(DatasetError, match="another process is writing"):
        EpisodeWriter(root, fps=20)
    with pytest.raises(DatasetError, match="no such dataset"):
        EpisodeStore(tmp_path / "missing")
    with pytest.raises(DatasetError, match=r"info.json is missing"):
        EpisodeStore(tmp_path)
    store = EpisodeStore(root)
    with pytest.raises(DatasetError, match="no episode 7"):
        store.actions(7)


def test_damaged_files_are_named(small_dataset: tuple[Path, list]) -> None:
    root, _ = small_dataset
    info = json.loads((root / "meta/info.json").read_text())
    del info["pixelpad"]
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="not written by pixelpad"):
        EpisodeWriter(root, fps=20)
    assert EpisodeStore(root).num_episodes == 3  # still readable, as any LeRobot v3.0 dataset
    (root / "meta/info.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"info.json: unreadable JSON"):
        EpisodeStore(root)
    (root / "meta/info.json").write_text("{}")
    with pytest.raises(DatasetError, match="missing key"):
        EpisodeStore(root)


def test_missing_episode_metadata_is_detected(small_dataset: tuple[Path, list]) -> None:
    root, _ = small_dataset
    path = root / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path)  # drop episode 0's row
    with pytest.raises(DatasetError, match="episode 0 is missing"):
        EpisodeStore(root)


def _x264_settings(path: Path) -> list[bytes]:
    """The options x264 wrote into each episode's stream (its SEI message names every setting used)."""
    data = path.read_bytes()
    starts = [i for i in range(len(data)) if data.startswith(b"options: ", i)]
    return [data[i : data.index(b"\x00", i)] for i in starts]


@pytest.mark.parametrize(
    ("params", "want", "unwanted"),
    [("subme=1:me=dia", b" me=dia subme=1 ", b"me=hex"), ("", b" me=hex subme=2 ", b"me=dia")],
)
def test_x264_options_are_the_datasets_and_reach_the_encoder(
    tmp_path: Path, params: str, want: bytes, unwanted: bytes
) -> None:
    root = tmp_path / "ds"
    with EpisodeWriter(root, fps=10, preset="veryfast", x264_params=params) as writer:
        writer.add_episode(indexed_frames(6), random_actions(6, 0), game="g")
    assert json.loads((root / "meta/info.json").read_text())["pixelpad"]["encoding"]["x264_params"] == params
    with EpisodeWriter(root, fps=10, x264_params="subme=3") as writer:  # the dataset's settings win
        writer.add_episode(indexed_frames(6), random_actions(6, 1), game="g")
    (video,) = (root / "videos").rglob("*.mp4")
    settings = _x264_settings(video)
    assert len(settings) >= 2  # both episodes' (parameter sets are repeated at every key frame)
    assert all(want in s and unwanted not in s and b"subme=3" not in s for s in settings)
