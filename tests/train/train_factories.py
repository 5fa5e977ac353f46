"""Factories for the training tests: tiny datasets, configs and launchers (offline, CPU, seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from pixelpad.actions import ACTION_DIM, INDEX, NUM_BUTTONS
from pixelpad.train.config import TrainConfig

PATTERN_COLOURS = ((220, 40, 40), (40, 200, 40), (40, 60, 220), (230, 220, 40))


def pattern_actions(k: int, length: int) -> np.ndarray:
    """Episode k's constant action: buttons 2k and 2k+1 held, left stick at a pattern-specific spot."""
    act = np.zeros(ACTION_DIM, dtype=np.float32)
    act[[2 * k % NUM_BUTTONS, (2 * k + 1) % NUM_BUTTONS]] = 1.0
    act[INDEX["left_x"]] = 0.6 if k % 2 else -0.6
    act[INDEX["left_y"]] = 0.6 if k // 2 else -0.6
    return np.repeat(act[None], length, axis=0)


def make_pattern_dataset(root: Path, *, episodes: int = 4, length: int = 24, size=(32, 32), fps=10.0) -> Path:
    """Episodes whose frame colour says which constant action is held: learnable from pixels only."""
    from pixelpad.dataset import EpisodeWriter

    rng = np.random.default_rng(0)
    with EpisodeWriter(root, fps=fps) as writer:
        for e in range(episodes):
            k = e % len(PATTERN_COLOURS)
            frames = []
            for _ in range(length):
                frame = np.empty((*size, 3), dtype=np.uint8)
                frame[:] = PATTERN_COLOURS[k]
                frame[: size[0] // 4, : size[1] // 4] = rng.integers(0, 255, 3)  # a little clutter
                frames.append(frame)
            writer.add_episode(frames, pattern_actions(k, length), game=f"pattern-{k}")
    return root


def tiny_config(data: Path, out: Path, **overrides) -> TrainConfig:
    """A run that takes seconds: tiny preset, small batches, no loader processes."""
    values = dict(
        data=(str(data),),
        out=str(out),
        preset="tiny",
        steps=6,
        batch_size=4,
        micro_batch_size=2,
        warmup_steps=2,
        lr=1e-3,
        val_fraction=0.25,
        val_every=0,
        val_samples=8,
        val_sample_steps=4,
        ckpt_every=3,
        log_every=1,
        num_workers=0,
        device="cpu",
    )
    values.update(overrides)
    return TrainConfig(**values)


def cli_args(config: TrainConfig) -> list[str]:
    """The ``python -m pixelpad.train`` options that rebuild ``config`` (the fields the tests vary)."""
    args = ["--data", *config.data, "--out", config.out]
    for name in (
        "preset",
        "steps",
        "batch_size",
        "micro_batch_size",
        "warmup_steps",
        "lr",
        "val_fraction",
        "val_every",
        "val_samples",
        "ckpt_every",
        "keep_last",
        "log_every",
        "num_workers",
        "device",
        "strategy",
        "seed",
    ):
        args += [f"--{name.replace('_', '-')}", str(getattr(config, name))]
    if config.augment is None:
        args.append("--no-augment")
    return args


def launch(args: list[str], *, nproc: int = 1, **popen) -> subprocess.Popen:
    """Start a training process (under torchrun when nproc > 1) with one thread per process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    else:
        cmd = [sys.executable]
    return subprocess.Popen([*cmd, "-m", "pixelpad.train", *args], env=env, **popen)


def run_to_end(args: list[str], *, nproc: int = 1, timeout: float = 300) -> None:
    proc = launch(args, nproc=nproc, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"training exited with {proc.returncode}:\n{out[-4000:]}")
