"""Helpers shared by the simulator tests: reading the probe game's on-screen numbers, digests."""

from __future__ import annotations

import hashlib

import numpy as np

PROBE_SIZE = (160, 120)
FRAMES, TIMER, PAD, KEYS, TICKS, RAND, MOUSE_X, MOUSE_BUTTONS = range(8)


def probe_number(frame: np.ndarray, row: int) -> int:
    """The number the probe drew as 20 black/white 8x8 cells on ``row`` (see sdl_probe.c)."""
    cells = frame[row * 8 + 4, 4:160:8, 0]
    return sum(int(c > 127) << i for i, c in enumerate(cells))


def run_digest(env, actions: np.ndarray, seed: int = 0) -> tuple[str, list[np.ndarray], list[dict]]:
    """Reset with ``seed``, take ``actions``: (sha256 over all frames, frames, infos)."""
    obs, info = env.reset(seed=seed)
    frames, infos = [obs], [info]
    for a in actions:
        obs, _, terminated, truncated, info = env.step(a)
        frames.append(obs)
        infos.append(info)
        assert not (terminated or truncated), info.get("error")
    h = hashlib.sha256()
    for f in frames:
        h.update(f.tobytes())
    return h.hexdigest(), frames, infos
