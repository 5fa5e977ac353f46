"""Importing a generated NitroGen shard with a generated video; per-chunk failures; resuming."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixelpad.dataset import EpisodeStore, import_nitrogen_shard
from pixelpad.dataset.nitrogen import read_chunk
from pixelpad.errors import PixelpadError

from .factories import decoded_index, make_shard, make_video

BBOX = (36, 20, 12, 12)  # x, y, w, h in the 48x32 source video


@pytest.fixture
def shard(tmp_path: Path) -> tuple[Path, Path, list[np.ndarray]]:
    """A shard of three chunks of video ``vid1`` (frames 0-9, 10-21, 25-32) and its 40-frame video."""
    videos = tmp_path / "videos"
    make_video(videos / "vid1.mp4", 40, fps=20, gop=4)
    actions = make_shard(tmp_path / "SHARD_0000", "vid1", [(0, 10), (10, 12), (25, 8)], bbox=BBOX)
    return tmp_path / "SHARD_0000", videos, actions


def test_import_cuts_masks_and_keeps_actions(shard: tuple[Path, Path, list], tmp_path: Path) -> None:
    shard_dir, videos, actions = shard
    report = import_nitrogen_shard(shard_dir, videos, tmp_path / "out", size=(32, 48), progress=False)
    assert (report.count("imported"), report.count("failed")) == (3, 0)
    store = EpisodeStore(tmp_path / "out")
    assert store.num_episodes == 3 and store.fps == 20
    for episode, (start, acts) in enumerate(zip((0, 10, 25), actions, strict=True)):
        np.testing.assert_array_equal(store.actions(episode), acts)
        frames = store.frames(episode)
        assert frames[:, 20:32, 36:48].max() <= 8  # overlay blacked out (H.264 leaves a little ringing)
        assert [decoded_index(f) for f in frames] == list(range(start, start + len(acts)))  # the right frames
        meta = store.episodes[episode]
        assert (meta["game"], meta["video_id"], meta["overlay_box"]) == ("testgame", "vid1", BBOX)
        assert meta["extra"]["nitrogen_uuid"] == f"vid1_chunk_{episode:04d}_actions"


def test_rerun_skips_imported_chunks(shard: tuple[Path, Path, list], tmp_path: Path) -> None:
    shard_dir, videos, _ = shard
    import_nitrogen_shard(shard_dir, videos, tmp_path / "out", size=(32, 48), progress=False)
    again = import_nitrogen_shard(shard_dir, videos, tmp_path / "out", size=(32, 48), progress=False)
    assert again.count("skipped") == 3 and EpisodeStore(tmp_path / "out").num_episodes == 3


def test_failures_are_per_chunk_and_named(shard: tuple[Path, Path, list], tmp_path: Path) -> None:
    shard_dir, videos, _ = shard
    chunk = shard_dir / "vid1"
    (chunk / "vid1_chunk_0000" / "metadata.json").write_text("{broken")
    table = pq.read_table(chunk / "vid1_chunk_0001" / "actions_raw.parquet")
    pq.write_table(table.drop_columns(["south"]), chunk / "vid1_chunk_0001" / "actions_raw.parquet")
    make_shard(shard_dir, "vid2", [(0, 5)])  # no video for vid2
    make_shard(shard_dir, "vid3", [(30, 20)], seed=5)  # video too short
    make_video(videos / "vid3.mp4", 40, fps=20)
    report = import_nitrogen_shard(shard_dir, videos, tmp_path / "out", size=(32, 48), progress=False)
    messages = {Path(r.chunk).name: (r.status, r.message) for r in report.results}
    assert (
        messages["vid1_chunk_0000"][0] == "failed"
        and "metadata.json: not valid JSON" in messages["vid1_chunk_0000"][1]
    )
    assert "actions_raw.parquet: missing column(s) ['south']" in messages["vid1_chunk_0001"][1]
    assert messages["vid1_chunk_0002"] == ("imported", "")
    assert "no local video for video_id 'vid2'" in messages["vid2_chunk_0000"][1]
    assert "vid3.mp4: has 40 frames" in messages["vid3_chunk_0000"][1]
    assert EpisodeStore(tmp_path / "out").num_episodes == 1  # the batch went on; nothing half-written


def test_processed_actions_fps_resampling_and_rescaled_box(tmp_path: Path) -> None:
    make_video(tmp_path / "v" / "hd.mp4", 24, size=(32, 48), fps=20)
    # annotated on a 64x96 original: the box must be halved for the local 32x48 copy
    make_shard(tmp_path / "S", "hd", [(0, 24)], resolution=(64, 96), bbox=(72, 40, 24, 24), processed=True)
    chunk = read_chunk(tmp_path / "S" / "hd" / "hd_chunk_0000")
    assert chunk.actions_file == "actions_processed.parquet" and not chunk.actions[:, :17].any()
    raw = read_chunk(tmp_path / "S" / "hd" / "hd_chunk_0000", actions="raw")
    report = import_nitrogen_shard(
        tmp_path / "S",
        {"hd": tmp_path / "v" / "hd.mp4"},
        tmp_path / "out",
        size=(16, 24),
        fps=10,
        progress=False,
    )
    assert report.count("imported") == 1
    store = EpisodeStore(tmp_path / "out")
    assert store.fps == 10 and store.image_size == (16, 24)
    np.testing.assert_array_equal(store.actions(0), chunk.actions[::2])  # every other frame at half the fps
    assert raw.actions[:, :17].any()
    assert store.episodes[0]["overlay_box"] == (18, 10, 6, 6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("original_video"), "missing original_video.video_id"),
        (lambda m: m["original_video"].pop("start_frame"), "missing original_video.start_frame"),
        (lambda m: m.update(bbox_controller_overlay=[1, 2, 3]), r"expected \[x, y, w, h\]"),
        (lambda m: m["original_video"].update(resolution=[0, 5]), "bad original_video"),
    ],
)
def test_bad_metadata_is_named(tmp_path: Path, change, message: str) -> None:
    make_shard(tmp_path / "S", "v", [(0, 3)])
    path = tmp_path / "S" / "v" / "v_chunk_0000" / "metadata.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))
    with pytest.raises(PixelpadError, match=message) as err:
        read_chunk(path.parent)
    assert "metadata.json" in str(err.value)


def test_bad_action_values_are_named(tmp_path: Path) -> None:
    make_shard(tmp_path / "S", "v", [(0, 3)])
    path = tmp_path / "S" / "v" / "v_chunk_0000" / "actions_raw.parquet"
    table = pq.read_table(path)
    table = table.set_column(table.column_names.index("j_left"), "j_left", pa.array([[0.0, 3.0]] * 3))
    pq.write_table(table, path)
    with pytest.raises(PixelpadError, match=r"actions_raw.parquet.*left_y.*must be in \[-1, 1\]"):
        read_chunk(path.parent)


def test_local_copy_at_another_fps_is_matched_through_time(tmp_path: Path) -> None:
    """Annotated at 40 fps (frames 20..59 = 0.5 s..1.5 s), but the local copy is a 20 fps download."""
    make_video(tmp_path / "v" / "dl.mp4", 40, fps=20)
    (acts,) = make_shard(tmp_path / "S", "dl", [(20, 40)])
    path = tmp_path / "S" / "dl" / "dl_chunk_0000" / "metadata.json"
    meta = json.loads(path.read_text())
    meta["original_video"].update(start_time=0.5, end_time=1.5)
    path.write_text(json.dumps(meta))
    report = import_nitrogen_shard(
        tmp_path / "S", tmp_path / "v", tmp_path / "out", size=(32, 48), progress=False
    )
    assert report.count("imported") == 1, report.failures
    store = EpisodeStore(tmp_path / "out")
    assert store.fps == 20
    np.testing.assert_array_equal(store.actions(0), acts[::2])  # 40 fps actions, every other one
    assert [decoded_index(f) for f in store.frames(0)] == list(range(10, 30))  # local frames 0.5 s..1.5 s
