"""``pixelpad overlay ...`` end to end on tiny inputs."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from pixelpad.cli import main


def test_skins_list_show_render(skins_dir, tmp_path, capsys):
    pc360 = skins_dir / "nintendospy" / "pc360-default"
    assert main(["overlay", "skins", "list", "--skins", str(pc360), "--procedural", "2"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 3 and listed[0].startswith("nintendospy/pc360-default/default")
    assert main(["overlay", "skins", "show", "nintendospy/pc360", "--skins", str(pc360)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["absent"] == ["guide"] and info["sticks"]["left"]["range"] == [9.0, 9.0]
    out = tmp_path / "grid.png"
    assert main(["overlay", "skins", "render", "procedural/", "--procedural", "1", "--skins", str(pc360),
                 "--out", str(out), "--count", "4", "--max-side", "100"]) == 0  # fmt: skip
    grid = np.asarray(Image.open(out))
    assert grid.shape[2] == 4 and grid.shape[1] == 200  # 2 x 2 renders, 100 wide each
    assert main(["overlay", "skins", "show", "no-such-skin", "--skins", str(pc360)]) == 2


def test_synth_then_locate(skins_dir, tmp_path, capsys):
    pc360 = skins_dir / "nintendospy" / "pc360-default"
    video = tmp_path / "v.mp4"
    skin = "nintendospy/pc360-default/default"
    args = ["overlay", "synth", "--skin", skin, "--skins", str(pc360), "--out", str(video), "--frames", "30",
            "--width", "320", "--height", "192", "--corner", "tr"]  # fmt: skip
    assert main(args) == 0
    truth = json.loads((tmp_path / "v.mp4.json").read_text())
    assert np.load(tmp_path / "v.mp4.actions.npy").shape == (30, 21)
    capsys.readouterr()
    assert main(["overlay", "locate", str(video), "--skins", str(pc360), "--procedural", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["overlay"]["skin"] == truth["skin"]
    x, y, w, h = result["overlay"]["box"]
    tx, ty, tw, th = truth["box"]
    assert abs(x - tx) <= 3 and abs(y - ty) <= 3 and abs(w - tw) <= 4 and abs(h - th) <= 4
