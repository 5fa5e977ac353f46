"""Checkpoint files: written atomically, found again after a crash, pruned to the last few.

A checkpoint is a directory ``RUN/checkpoints/step_00001000/`` holding

* ``model.safetensors`` — the trained weights (full, unsharded);
* ``ema.safetensors`` — the EMA of the trainable weights (what validation and export use);
* ``optimizer.pt`` — the optimiser state (loaded with ``weights_only=True``);
* ``rng.pt`` — every rank's RNG states (torch CPU/CUDA, numpy, Python);
* any export the trainer adds (``policy/``: the EMA policy in ``save_pretrained`` layout);
* ``trainer.json`` — step, data position, schedule, configs. Written last: a directory without it
  is incomplete and never used.

The directory is assembled under a temporary name, every file fsynced, then renamed into place, and
``checkpoints/latest`` is replaced atomically to point at it — so a SIGKILL at any instant leaves
the previous checkpoint intact and discoverable.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from pixelpad.train.errors import CheckpointError

log = logging.getLogger(__name__)

STATE_FILE = "trainer.json"
LATEST = "latest"


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step:08d}"


def _fsync_tree(root: Path) -> None:
    for path in [*sorted(root.rglob("*")), root]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _plain_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors with no shared storage (what safetensors requires; tied weights are shared)."""
    out, seen = {}, set()
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        out[name] = tensor.clone() if key in seen else tensor
        seen.add(key)
    return out


def rng_state() -> dict[str, Any]:
    """This process's RNG states, as tensors/ints only (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class Checkpoint:
    """A loaded checkpoint (tensors on CPU)."""

    path: Path
    state: dict[str, Any]  # trainer.json
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    rng: list[dict[str, Any]]  # one per rank of the run that wrote it

    @property
    def step(self) -> int:
        return int(self.state["step"])


def save_checkpoint(
    run_dir: Path,
    step: int,
    *,
    state: dict[str, Any],
    model: dict[str, torch.Tensor],
    ema: dict[str, torch.Tensor],
    optimizer: dict[str, Any],
    rng: list[dict[str, Any]],
    export: Callable[[Path], None] | None = None,
    keep_last: int = 3,
) -> Path:
    """Write checkpoint ``step`` atomically, point ``latest`` at it, prune older ones; return its path."""
    final = checkpoint_dir(run_dir, step)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
    try:
        save_file(_plain_tensors(model), tmp / "model.safetensors")
        save_file(_plain_tensors(ema), tmp / "ema.safetensors")
        torch.save(optimizer, tmp / "optimizer.pt")
        torch.save(rng, tmp / "rng.pt")
        if export is not None:
            export(tmp)
        (tmp / STATE_FILE).write_text(json.dumps({**state, "step": step}, indent=2, sort_keys=True))
        _fsync_tree(tmp)
        if final.exists():  # a re-run of the same step: move the old one aside before swapping in
            trash = final.with_name(f".{final.name}.old")
            shutil.rmtree(trash, ignore_errors=True)
            final.rename(trash)
            shutil.rmtree(trash)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(final.parent / LATEST, final.name + "\n")
    prune(run_dir, keep_last)
    log.info("saved checkpoint %s", final)
    return final


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint directories of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step_*") if (p / STATE_FILE).is_file())


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint ``latest`` points at, else the newest complete one, else None."""
    root = Path(run_dir) / "checkpoints"
    pointer = root / LATEST
    if pointer.is_file():
        candidate = root / pointer.read_text().strip()
        if (candidate / STATE_FILE).is_file():
            return candidate
    done = complete_checkpoints(run_dir)
    return done[-1] if done else None


def prune(run_dir: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` complete checkpoints and any stale temporaries."""
    root = Path(run_dir) / "checkpoints"
    for stale in root.glob(".step_*.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if keep_last > 0:
        for old in complete_checkpoints(run_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)


def resolve_checkpoint(path: Path) -> Path:
    """Accept a checkpoint directory or a run directory (→ its latest checkpoint)."""
    path = Path(path)
    if (path / STATE_FILE).is_file():
        return path
    found = latest_checkpoint(path)
    if found is None:
        raise CheckpointError(f"no complete checkpoint in {path} (looked for {STATE_FILE} and checkpoints/)")
    return found


def load_checkpoint(path: Path) -> Checkpoint:
    """Load a checkpoint (or a run directory's latest one) onto the CPU."""
    path = resolve_checkpoint(path)
    try:
        return Checkpoint(
            path=path,
            state=json.loads((path / STATE_FILE).read_text()),
            model=load_file(path / "model.safetensors"),
            ema=load_file(path / "ema.safetensors"),
            optimizer=torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True),
            rng=torch.load(path / "rng.pt", map_location="cpu", weights_only=True),
        )
    except (OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {path} is unreadable: {err}") from err
