"""End to end: a tiny policy served on loopback plays a real game through ``pixelpad play``."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from pixelpad.actions import MENU_BUTTONS
from pixelpad.cli import main
from pixelpad.policy import Policy, get_preset
from pixelpad.video import probe, read_frames

STEPS, EXECUTE, FPS = 24, 8, 30


def _start_server(checkpoint: str) -> tuple[subprocess.Popen, str]:
    """``pixelpad serve`` in a subprocess on a free loopback port; returns it and its address."""
    server = subprocess.Popen(
        [sys.executable, "-m", "pixelpad.cli", "serve", checkpoint, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True).start()
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            if server.poll() is not None:
                break
            continue
        seen.append(line)
        if line.startswith("serving on "):
            return server, line.split()[2]
    server.kill()
    raise AssertionError(f"pixelpad serve did not start: {''.join(seen)}")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_served_tiny_policy_plays_a_real_game(tmp_path) -> None:
    checkpoint = Policy(get_preset("tiny")).save_pretrained(tmp_path / "tiny")
    server, address = _start_server(str(checkpoint))
    record = tmp_path / "record"
    try:
        argv = ["play", "--game", "chromium-bsu", "--policy", address, "--steps", str(STEPS)]
        code = main([*argv, "--execute", str(EXECUTE), "--fps", str(FPS), "--record", str(record)])
    finally:
        server.terminate()
        server.wait(30)
    assert code == 0
    video = probe(record / "play.mp4")
    assert video.num_frames == STEPS and video.height == 480 and video.width > 640  # game | panel
    frames = read_frames(record / "play.mp4")
    game = frames[:, :, :640]
    assert game.std() > 5 and np.abs(np.diff(game.astype(np.int16), axis=0)).mean() > 0.1  # the game moves
    table = pq.read_table(record / "actions.parquet").to_pandas()
    assert len(table) == STEPS and table["chunk"].nunique() == STEPS // EXECUTE
    assert (table[list(MENU_BUTTONS)].to_numpy() == 0).all()
    # The game's clock advanced exactly one frame per step, however long the policy thought.
    np.testing.assert_allclose(np.diff(table["virtual_time"]), 1 / FPS, rtol=1e-9)
