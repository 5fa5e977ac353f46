"""Metrics of a run: a long-format CSV (``step,name,value,time``) and TensorBoard events.

The CSV is the source of truth for ``pixelpad train report``; it is append-only during a run. On
resume, rows after the resumed step (written by the killed process after its last checkpoint) are
dropped, so the file reads as one uninterrupted run; TensorBoard gets the same ``purge_step``.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from pixelpad.train.checkpoint import atomic_write_text

CSV_NAME = "metrics.csv"
FIELDS = ("step", "name", "value", "time")


def truncate_after(path: Path, step: int) -> None:
    """Drop CSV rows whose step is greater than ``step`` (atomically)."""
    if not path.is_file():
        return
    with path.open(newline="") as handle:
        # a process killed mid-write can leave a torn last line: drop any incomplete row
        rows = [
            row
            for row in csv.DictReader(handle)
            if all(row.get(f) for f in FIELDS) and row["step"].isdigit() and int(row["step"]) <= step
        ]
    lines = [",".join(FIELDS)] + [",".join(row[f] for f in FIELDS) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


class MetricsLogger:
    """Writes scalars to ``RUN/metrics.csv`` and ``RUN/tensorboard/`` (rank 0 only; others no-op)."""

    def __init__(self, run_dir: Path, *, enabled: bool = True, resume_step: int | None = None) -> None:
        self.enabled = enabled
        self._writer = None
        self._handle = None
        if not enabled:
            return
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / CSV_NAME
        if resume_step is None:
            self.path.unlink(missing_ok=True)
        else:
            truncate_after(self.path, resume_step)
        new = not self.path.is_file()
        self._handle = self.path.open("a", newline="")
        self._csv = csv.writer(self._handle)
        if new:
            self._csv.writerow(FIELDS)
        from torch.utils.tensorboard import SummaryWriter  # heavy: import only when logging

        purge = None if resume_step is None else resume_step + 1
        self._writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)

    def log(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        now = time.time()
        for name, value in values.items():
            self._csv.writerow((step, name, repr(float(value)), f"{now:.3f}"))
            self._writer.add_scalar(name, float(value), step, walltime=now)
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._writer.close()
            self._handle = self._writer = None
