"""The toy dataset, the drawn controller, the timeline plot and the `pixelpad dataset` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelpad import render, video
from pixelpad.actions import INDEX, ActionError, from_dict
from pixelpad.cli import main
from pixelpad.dataset import ChunkDataset, EpisodeStore, make_toy_dataset

from .factories import make_shard, make_video


def test_toy_dataset_is_deterministic_and_driven_by_actions(tmp_path: Path) -> None:
    a = make_toy_dataset(tmp_path / "a", episodes=2, length=20, size=(48, 64), seed=3)
    b = make_toy_dataset(tmp_path / "b", episodes=2, length=20, size=(48, 64), seed=3)
    sa, sb = EpisodeStore(a), EpisodeStore(b)
    assert sa.num_episodes == 2 and sa.image_size == (48, 64)
    np.testing.assert_array_equal(sa.actions(1), sb.actions(1))
    box = sa.episodes[0]["overlay_box"]
    assert box is not None
    masked = ChunkDataset(a, image_size=(48, 64))[5]["frame"].numpy()
    x, y, w, h = box
    assert masked[y : y + h, x : x + w].max() == 0
    south = sa.actions(0)[:, INDEX["south"]]
    frames = sa.frames(0)
    green = (frames[..., 1].astype(int) - frames[..., 0] > 100).reshape(20, -1).any(axis=1)
    np.testing.assert_array_equal(green, south > 0)  # the square is green exactly while south is held


def _lit(action: dict) -> np.ndarray:
    return render.draw_controller(from_dict(action)).astype(int)


def test_controller_lights_what_is_pressed() -> None:
    idle = _lit({})
    assert idle.shape == (120, 200, 3)
    south = _lit({"south": 1})
    changed = np.argwhere(np.abs(south - idle).sum(axis=2) > 60)
    ys, xs = changed[:, 0], changed[:, 1]
    assert 50 < ys.mean() < 70 and 155 < xs.mean() < 175  # the south button's spot, nothing else
    left = _lit({"left_x": 1.0, "left_y": -1.0})  # stick dot moves up-right in its box
    moved = np.argwhere(np.abs(left - idle).sum(axis=2) > 60)
    assert moved[:, 1].max() > 40 and moved[:, 0].min() < 40
    with pytest.raises(ActionError):
        render.draw_controller(np.zeros(20))
    composed = render.with_controller(np.zeros((96, 128, 3), np.uint8), from_dict({"start": 1}))
    assert composed.shape == (128, 128, 3)


def test_timeline_png(tmp_path: Path) -> None:
    acts = np.zeros((30, 21), np.float32)
    acts[10:20, INDEX["east"]] = 1
    path = render.plot_timeline(acts, tmp_path / "t.png", fps=10, title="x")
    assert Image.open(path).size == (1000, 600)


def test_cli_make_toy_info_view(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "toy"
    assert (
        main(["dataset", "make-toy", str(root), "--episodes", "2", "--length", "12", "--size", "64x48"]) == 0
    )
    assert main(["dataset", "info", str(root), "--json", "--episodes"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert summary["episodes"] == 2 and summary["image_size"] == [48, 64]
    assert len(summary["episode_list"]) == 2
    assert (
        main(["dataset", "view", str(root), "--episode", "1", "--out", str(tmp_path / "v"), "--frames", "5"])
        == 0
    )
    movie = tmp_path / "v" / "episode-000001.mp4"
    assert (
        video.probe(movie).num_frames == 5 and video.probe(movie).height == 48 + 24
    )  # 24: the smallest panel
    assert (tmp_path / "v" / "episode-000001-timeline.png").exists()
    assert main(["dataset", "info", str(tmp_path / "nope")]) == 2
    assert "nope: no such dataset directory" in capsys.readouterr().err


def test_cli_import_nitrogen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_video(tmp_path / "vid.mp4", 20, fps=20)
    make_shard(tmp_path / "S", "vid", [(0, 8), (30, 8)])
    report = tmp_path / "report.json"
    argv = ["dataset", "import-nitrogen", str(tmp_path / "S"), "--videos", f"vid={tmp_path / 'vid.mp4'}"]
    assert main([*argv, "--out", str(tmp_path / "out"), "--size", "48x32", "--report", str(report)]) == 0
    out = capsys.readouterr()
    assert "imported 1, skipped 0, failed 1" in out.out and "FAILED" in out.err
    assert json.loads(report.read_text())["failed"] == 1
    with pytest.raises(SystemExit):
        main([*argv, "--out", str(tmp_path / "out"), "--size", "47x32"])
