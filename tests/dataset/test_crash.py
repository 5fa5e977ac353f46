"""A writer killed (SIGKILL) mid-episode or mid-commit loses at most the episode in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from pixelpad.dataset import EpisodeStore, EpisodeWriter

from .factories import decoded_index, indexed_frames, random_actions

TESTS_DIR = Path(__file__).resolve().parents[1]

# Writes two episodes, then dies while writing the third, at the point the test names.
_SCRIPT = """
import os, signal, sys, time
sys.path.insert(0, {tests!r})
from dataset.factories import indexed_frames, random_actions
from pixelpad.dataset import EpisodeWriter, layout

root, mode = {root!r}, {mode!r}
writer = EpisodeWriter(root, fps=10, gop=4)
for i, n in enumerate((6, 9)):
    writer.add_episode(indexed_frames(n, offset=10 * i), random_actions(n, i), game="g")

def frames():
    for k, frame in enumerate(indexed_frames(12, offset=20)):
        if mode == "encoding" and k == 5:
            open(root + "/ready", "w").close()
            time.sleep(600)  # the test kills us here
        yield frame

if mode.startswith("replace"):
    calls, stop_at, real = [0], int(mode[-1]), layout.replace_atomically
    def dying_replace(tmp, final):
        if calls[0] == stop_at:
            os.kill(os.getpid(), signal.SIGKILL)
        calls[0] += 1
        real(tmp, final)
    layout.replace_atomically = dying_replace
writer.add_episode(frames(), random_actions(12, 2), game="g")
"""


def _run_until_killed(root: Path, mode: str) -> None:
    script = _SCRIPT.format(tests=str(TESTS_DIR), root=str(root), mode=mode)
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])
    try:
        if mode == "encoding":
            deadline = time.monotonic() + 120
            while not (root / "ready").exists():
                assert proc.poll() is None, "writer exited before reaching the third episode"
                assert time.monotonic() < deadline, "writer never reached the third episode"
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=120) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()


def _check(root: Path, expected_episodes: int, total: int | None = None) -> None:
    """The first ``expected_episodes`` are exactly what the script wrote; ``total`` episodes in all."""
    store = EpisodeStore(root)
    assert store.num_episodes == (total or expected_episodes)
    for i, n in enumerate((6, 9, 12)[:expected_episodes]):
        np.testing.assert_array_equal(store.actions(i), random_actions(n, i))
        assert [decoded_index(f) for f in store.frames(i)] == list(range(10 * i, 10 * i + n))


@pytest.mark.parametrize(
    ("mode", "survivors"),
    [
        ("encoding", 2),  # killed while encoding the third episode's frames
        ("replace0", 2),  # ... before any file of the commit was replaced
        ("replace1", 2),  # ... after the video file was replaced (it holds an uncommitted tail)
        ("replace2", 2),  # ... after video and data were replaced, before the metadata commit
        ("replace3", 3),  # ... after the commit, before the derived files were rewritten
    ],
)
def test_kill_during_write_keeps_finished_episodes(tmp_path: Path, mode: str, survivors: int) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    _run_until_killed(root, mode)
    _check(root, survivors)  # readable as it is, before any repair
    with EpisodeWriter(root, fps=10) as writer:  # the next writer cleans up and appends
        index = writer.add_episode(indexed_frames(4, offset=90), random_actions(4, 9), game="g")
    assert index == survivors
    _check(root, survivors, total=survivors + 1)
    store = EpisodeStore(root)
    assert [decoded_index(f) for f in store.frames(index)] == [90, 91, 92, 93]
    np.testing.assert_array_equal(store.actions(index), random_actions(4, 9))
    assert store.info["total_episodes"] == survivors + 1
    assert not (root / ".staging").exists() or not list((root / ".staging").iterdir())
