"""Stage 2 of the demo: ``pixelpad extract`` on the recorded videos, scored against the kept truth.

The extraction sees the videos and the skin directories, nothing else: it runs through the
``pixelpad extract`` command line exactly as a user would run it, one dataset per game (so the
transfer study can train on some games and not others). Scoring then pairs every extracted episode
with the true actions written beside its video (:class:`pixelpad.overlay.GroundTruth`) and measures,
on the controls the skin shows:

* stick R² (pooled over the shown axes; undefined when the true sticks never move, as with
  d-pad-only demonstrators -- then the mean absolute error is all there is to say);
* button accuracy over every (frame, shown button), and the F1 of "pressed" (accuracy alone is
  flattering when most buttons are never pressed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelpad.actions import AXIS_SLICE, BUTTON_SLICE
from pixelpad.errors import PixelpadError

log = logging.getLogger(__name__)


class ExtractionMissing(PixelpadError):
    """The ``pixelpad extract`` command is not available in this installation."""


def extract_available() -> bool:
    """True when ``pixelpad extract`` is a registered command."""
    import argparse

    from pixelpad.cli import build_parser

    commands = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return any("extract" in a.choices for a in commands)


def run_extract(
    videos: Sequence[str], skins: Sequence[str], out: Path, *, game: str, fps: float,
    frame_size: tuple[int, int], workers: int,
) -> Path:  # fmt: skip
    """``pixelpad extract VIDEOS --skins DIRS --out DATASET ...`` in this process.

    Extraction resumes by itself from its manifest, so a rerun of an interrupted stage repeats little.
    """
    from pixelpad.cli import main

    if not extract_available():
        raise ExtractionMissing("`pixelpad extract` is not registered: the extraction stage is missing")
    argv = ["extract", *videos, "--skins", *skins, "--out", str(out), "--workers", str(workers),
            "--game", game, "--fps", str(fps), "--frame-size", *map(str, frame_size)]  # fmt: skip
    code = main(argv)
    if code != 0:
        raise PixelpadError(f"`pixelpad {' '.join(argv)}` failed with exit code {code}")
    return out


def pairs(dataset: Path) -> list[tuple[dict[str, Any], np.ndarray, np.ndarray]]:
    """``(episode metadata + shown mask, extracted (N, 21), true (N, 21))`` for every episode.

    The true actions are those of the episode's source video over the frames the episode covers
    (``extra["source"]`` and ``extra["segment"] = [start, stop)``, as ``pixelpad extract`` writes them),
    taken at the dataset's rate (:func:`source_frames`).
    """
    from pixelpad.dataset import EpisodeStore
    from pixelpad.overlay import GroundTruth

    store = EpisodeStore(dataset)
    out = []
    for meta in store.episodes:
        extra = meta.get("extra") or {}
        truth = GroundTruth.load(extra["source"])
        extracted = store.actions(meta["index"])
        start = int(extra.get("segment", (0,))[0])
        index = source_frames(start, len(extracted), truth.fps, store.fps, len(truth.actions))
        out.append(({**meta, "shown": truth.mask()}, extracted[: len(index)], truth.actions[index]))
    return out


def source_frames(
    start: int, count: int, source_fps: float, dataset_fps: float, available: int
) -> np.ndarray:
    """Indices of the source video's frames behind dataset frames ``start .. start + count - 1``.

    A dataset at a higher rate than its video repeats each video frame (a 10 fps Neverball video in a
    30 fps dataset: frames 0, 0, 0, 1, 1, 1, ...); segments count dataset frames. Frames past the
    video's end are left out.
    """
    index = np.floor((start + np.arange(count)) * (source_fps / dataset_fps) + 1e-6).astype(np.int64)
    return index[index < available]


def outcomes(dataset: Path) -> dict[str, int]:
    """How many videos ``pixelpad extract`` finished with each status (done, no_overlay, too_idle,
    failed), from the manifest it keeps in ``DATASET/extract``."""
    from pixelpad.extract import Manifest

    return Manifest(Path(dataset) / "extract").counts()


def score(pairs_: Sequence[tuple[dict[str, Any], np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Extraction accuracy over ``pairs_`` (see the module docstring); None where undefined."""
    if not pairs_:
        return {"episodes": 0, "frames": 0, "stick_r2": None, "stick_mae": None, "button_accuracy": None,
                "button_f1": None}  # fmt: skip
    sticks_pred, sticks_true, buttons_pred, buttons_true = [], [], [], []
    for meta, extracted, true in pairs_:
        shown = meta["shown"]
        axes = shown[AXIS_SLICE]
        buttons = shown[BUTTON_SLICE]
        sticks_pred.append(extracted[:, AXIS_SLICE][:, axes].ravel())
        sticks_true.append(true[:, AXIS_SLICE][:, axes].ravel())
        buttons_pred.append(extracted[:, BUTTON_SLICE][:, buttons].ravel() > 0.5)
        buttons_true.append(true[:, BUTTON_SLICE][:, buttons].ravel() > 0.5)
    sp, st = np.concatenate(sticks_pred), np.concatenate(sticks_true)
    bp, bt = np.concatenate(buttons_pred), np.concatenate(buttons_true)
    variance = float(((st - st.mean()) ** 2).sum()) if len(st) else 0.0
    hits = int((bp & bt).sum())
    f1_den = int(bp.sum() + bt.sum())
    return {
        "episodes": len(pairs_),
        "frames": int(sum(len(p[1]) for p in pairs_)),
        "stick_r2": 1.0 - float(((sp - st) ** 2).sum()) / variance if variance > 1e-9 else None,
        "stick_mae": float(np.abs(sp - st).mean()) if len(st) else None,
        "button_accuracy": float((bp == bt).mean()) if len(bt) else None,
        "button_f1": 2 * hits / f1_den if f1_den else None,
    }
