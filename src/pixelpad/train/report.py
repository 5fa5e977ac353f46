"""``pixelpad train report RUN``: PNG plots of a run's metrics (loss, learning rate, validation)."""

from __future__ import annotations

import logging
from pathlib import Path

from pixelpad.train.errors import TrainError
from pixelpad.train.metrics import CSV_NAME

log = logging.getLogger(__name__)

# figure file → metric names drawn in it (each in its own panel when the figure has several)
FIGURES: dict[str, tuple[str, ...]] = {
    "loss.png": ("train/loss", "val/loss"),
    "optimiser.png": ("train/lr", "train/grad_norm"),
    "throughput.png": ("train/samples_per_s",),
    "validation.png": ("val/button_accuracy", "val/button_f1", "val/stick_mse"),
}


def make_report(run_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """Draw the run's figures; returns the PNG paths written (figures with no data are skipped)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    csv_path = Path(run_dir) / CSV_NAME
    if not csv_path.is_file():
        raise TrainError(f"{run_dir} has no {CSV_NAME}: is it a pixelpad training run directory?")
    frame = pd.read_csv(csv_path)
    if frame.empty:
        raise TrainError(f"{csv_path} has no metrics yet")
    out_dir = Path(out_dir) if out_dir else Path(run_dir) / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, names in FIGURES.items():
        present = [n for n in names if (frame["name"] == n).any()]
        if not present:
            continue
        panels = [[n] for n in present] if filename != "loss.png" else [present]
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
        for ax, group in zip(axes[0], panels, strict=True):
            for name in group:
                rows = frame[frame["name"] == name].sort_values("step")
                ax.plot(rows["step"], rows["value"], marker="o" if len(rows) < 30 else None, label=name)
            ax.set_xlabel("step")
            ax.set_title(", ".join(group))
            if group[0].endswith("loss"):
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / filename, dpi=100)
        plt.close(fig)
        written.append(out_dir / filename)
    log.info("wrote %d figures to %s", len(written), out_dir)
    return written
