"""Metrics CSV (with truncation on resume) and the PNG report."""

import pandas as pd
import pytest

from pixelpad.train.errors import TrainError
from pixelpad.train.metrics import MetricsLogger
from pixelpad.train.report import make_report


def test_resume_drops_rows_after_the_checkpoint_and_report_draws(tmp_path):
    logger = MetricsLogger(tmp_path)
    for step in range(1, 7):
        logger.log(step, {"train/loss": 1.0 / step, "train/lr": 1e-4})
    logger.log(6, {"val/loss": 0.3, "val/button_accuracy": 0.7})
    logger.close()
    with (tmp_path / "metrics.csv").open("a") as handle:
        handle.write("1")  # torn line of a killed process
    logger = MetricsLogger(tmp_path, resume_step=4)
    logger.log(5, {"train/loss": 0.5})
    logger.close()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    frame = pd.read_csv(tmp_path / "metrics.csv")
    assert frame["step"].max() == 5 and len(frame) == 4 * 2 + 1
    paths = make_report(tmp_path)
    assert sorted(p.name for p in paths) == ["loss.png", "optimiser.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_report_on_a_directory_without_metrics(tmp_path):
    with pytest.raises(TrainError):
        make_report(tmp_path)
