"""``pixelpad train``: run, resume from the saved config, report, and one-line errors."""

from __future__ import annotations

import pandas as pd

from pixelpad.cli import main
from pixelpad.train.cli import _drop_option


def test_run_resume_and_report(tmp_path, pattern_data, capsys):
    out = tmp_path / "run"
    common = ["--num-workers", "2", "--device", "cpu", "--val-samples", "4", "--log-every", "1"]
    args = [
        "train",
        "run",
        "--data",
        str(pattern_data),
        "--out",
        str(out),
        "--steps",
        "2",
        "--batch-size",
        "4",
    ]
    assert main([*args, *common, "--val-every", "1", "--ckpt-every", "2"]) == 0
    assert "final EMA policy" in capsys.readouterr().out
    # resume with only --out and a longer --steps: everything else comes from RUN/config.json
    assert main(["train", "run", "--out", str(out), "--resume", "--steps", "3"]) == 0
    frame = pd.read_csv(out / "metrics.csv")
    assert sorted(frame[frame["name"] == "train/loss"]["step"]) == [1, 2, 3]
    assert main(["train", "report", str(out)]) == 0
    names = sorted(p.name for p in (out / "report").iterdir())
    assert names == ["loss.png", "optimiser.png", "throughput.png", "validation.png"]


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "run", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.startswith("error: give --data")
    assert main(["train", "report", str(tmp_path)]) == 2
    assert main(["train", "run", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "r")]) == 2
    assert "cannot open training data" in capsys.readouterr().err


def test_relaunch_drops_only_its_own_option():
    argv = ["--out", "run", "--nproc-per-node", "2", "--steps", "3", "--nproc-per-node=4"]
    assert _drop_option(argv, "--nproc-per-node") == ["--out", "run", "--steps", "3"]
