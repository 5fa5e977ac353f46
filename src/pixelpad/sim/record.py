"""Run an env with a sequence of actions and keep everything: PNG frames, actions, video, digest.

The digest is one SHA-256 over every raw observation in order (the reset observation first), so
two runs can be compared bit for bit with one line.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pixelpad.actions import (
    ACTION_DIM,
    BUTTONS,
    INDEX,
    MENU_BUTTONS,
    NAMES,
    NUM_BUTTONS,
    ActionError,
    from_nitrogen_columns,
    null_action,
    to_nitrogen_columns,
    validate,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What :func:`record_run` wrote and saw."""

    digest: str  # SHA-256 hex over all raw frames
    frames: int  # observations written (steps + 1)
    steps: int  # steps actually taken (fewer if the game ended)
    error: str | None  # why the run ended early, if it did
    video: Path | None


def random_actions(n: int, seed: int, *, press_p: float = 0.2) -> np.ndarray:
    """``(n, 21)`` random actions: buttons pressed with probability ``press_p`` (menu buttons never,
    so a random run does not quit the game), sticks uniform in [-1, 1]."""
    rng = np.random.default_rng(seed)
    actions = np.zeros((n, ACTION_DIM), dtype=np.float32)
    actions[:, :NUM_BUTTONS] = rng.random((n, NUM_BUTTONS)) < press_p
    actions[:, NUM_BUTTONS:] = rng.uniform(-1.0, 1.0, (n, ACTION_DIM - NUM_BUTTONS))
    for name in MENU_BUTTONS:
        actions[:, INDEX[name]] = 0.0
    return actions


def load_actions(path: str | Path) -> np.ndarray:
    """``(N, 21)`` actions from a parquet file: NitroGen columns (17 buttons + ``j_left``/``j_right``)
    as written by :func:`record_run`, or one float column per control name."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as err:
        raise ActionError(f"{path}: cannot read actions parquet: {err}") from err
    cols = set(table.column_names)
    if {"j_left", "j_right", *BUTTONS} <= cols:
        return from_nitrogen_columns(
            {c: table.column(c).to_numpy(zero_copy_only=False) for c in cols}, where=str(path)
        )
    if set(NAMES) <= cols:
        return validate(np.stack([table.column(n).to_numpy() for n in NAMES], axis=1).astype(np.float32))
    raise ActionError(
        f"{path}: expected NitroGen action columns or one column per control ({', '.join(NAMES)})"
    )


def _write_actions(path: Path, actions: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = to_nitrogen_columns(actions) if len(actions) else to_nitrogen_columns(null_action(1))[:0]
    table = pa.table(
        {
            "step": pa.array(np.arange(len(actions), dtype=np.int64)),
            **{k: pa.array(v) if v.ndim == 1 else pa.array(list(v.tolist())) for k, v in cols.items()},
        }
    )
    pq.write_table(table, path)


def _write_video(path: Path, frames_dir: Path, count: int, fps: float) -> Path:
    from PIL import Image

    from pixelpad.video import VideoWriter

    with VideoWriter(path, fps) as writer:
        for i in range(count):
            with Image.open(frames_dir / f"{i:06d}.png") as im:
                writer.write(np.asarray(im.convert("RGB")))
    return writer.path


def record_run(env, actions: np.ndarray, out: str | Path, *, seed: int, video: bool = True) -> RunResult:
    """Reset ``env`` with ``seed``, take ``actions`` ``(N, 21)``, write ``out/frames/*.png``,
    ``out/actions.parquet`` (the actions taken) and ``out/run.mp4``."""
    from PIL import Image

    actions = validate(np.asarray(actions, dtype=np.float32))
    out = Path(out)
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()

    def keep(i: int, obs: np.ndarray) -> None:
        digest.update(np.ascontiguousarray(obs).tobytes())
        Image.fromarray(obs).save(frames_dir / f"{i:06d}.png", compress_level=1)

    obs, _ = env.reset(seed=seed)
    keep(0, obs)
    error, taken = None, 0
    for i in tqdm(range(len(actions)), desc="steps", unit="step", leave=False):
        obs, _, terminated, truncated, info = env.step(actions[i])
        taken += 1
        keep(i + 1, obs)
        if terminated or truncated:
            error = info.get("error", "episode ended")
            log.warning("run ended after %d steps: %s", taken, error)
            break
    _write_actions(out / "actions.parquet", actions[:taken])
    fps = float(env.metadata.get("render_fps", 30))
    mp4 = _write_video(out / "run.mp4", frames_dir, taken + 1, fps) if video else None
    return RunResult(digest=digest.hexdigest(), frames=taken + 1, steps=taken, error=error, video=mp4)
