"""The controller's cheap looks: kept-open thread files, the skipped /proc scan, the colour shuffle."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pixelpad.sim import quiesce
from pixelpad.sim.display import bgra_to_rgb
from pixelpad.sim.quiesce import ProcessTree, ThreadReader


def thread_states(pids):
    """The plain reading the kept-open reader must agree with: each /proc file opened, read, closed."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                sched = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text()
            except OSError:
                continue
            out[int(tid)] = (stat[stat.rindex(")") + 2], int(sched.split()[0]))
    return out


# Starts three sleeping threads, then on each line of input: "exit" ends one, "more" starts another.
THREADS = """
import sys, threading
stops = []
def start():
    stop = threading.Event(); stops.append(stop); threading.Thread(target=stop.wait).start()
for _ in range(3):
    start()
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "exit":
        stops.pop().set()
    else:
        start()
    print("done", flush=True)
"""


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _command(proc: subprocess.Popen, line: str) -> None:
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "done"
    time.sleep(0.2)  # the thread has exited or gone to sleep


def test_thread_reader_matches_the_plain_reads_as_threads_come_and_go():
    proc = subprocess.Popen(
        [sys.executable, "-c", THREADS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    fds = _open_fds()
    reader = ThreadReader()
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        for change in ("", "exit", "more", "more"):
            if change:
                _command(proc, change)
            kept, plain = reader.states([proc.pid]), thread_states([proc.pid])
            assert kept == plain  # every thread asleep: states and CPU times do not move
            assert all(state == "S" for state, _ in kept.values()) and not reader.running()
            assert _open_fds() == fds + 2 * len(kept)  # two files per thread, none of the exited ones
        assert len(kept) == 1 + 3 - 1 + 2
    finally:
        proc.kill()
        proc.wait()
    assert reader.states([proc.pid]) == {}
    assert _open_fds() == fds  # a gone process leaves no file open
    reader.states([os.getpid()])
    reader.close()
    assert _open_fds() == fds


def test_a_busy_thread_reads_running_and_its_cpu_time_grows():
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    reader = ThreadReader()
    try:
        time.sleep(0.3)
        first = reader.states([proc.pid])[proc.pid]
        time.sleep(0.3)
        second = reader.states([proc.pid])[proc.pid]
        assert second[1] > first[1] and "R" in (first[0], second[0])
        assert sum(reader.running() for _ in range(20)) >= 5  # busy most of the time (the machine is shared)
    finally:
        reader.close()
        proc.kill()
        proc.wait()


def test_refresh_scans_proc_only_after_a_new_process_or_thread(monkeypatch):
    tree = ProcessTree(os.getpid())
    scans = []
    listdir = os.listdir
    monkeypatch.setattr(quiesce.os, "listdir", lambda path: scans.append(path) or listdir(path))
    monkeypatch.setattr(quiesce, "last_pid", lambda: 12345)
    tree.refresh()  # the id moved since the tree was made: a scan
    assert scans == ["/proc"]
    assert tree.refresh() is False and scans == ["/proc"]  # nothing started since: no scan
    child = subprocess.Popen(["sh", "-c", "sleep 5 & wait"])
    try:
        time.sleep(0.3)
        children = Path(f"/proc/{child.pid}/task/{child.pid}/children").read_text()
        (grandchild,) = (int(p) for p in children.split())
        monkeypatch.setattr(quiesce, "last_pid", lambda: 12346)
        assert tree.refresh() is True and {child.pid, grandchild} <= set(tree.pids())
    finally:
        child.kill()
        child.wait()


def test_last_pid_moves_when_a_process_starts():
    before = quiesce.last_pid()
    subprocess.run(["true"], check=True)
    assert before is not None and quiesce.last_pid() != before


def test_bgra_to_rgb_is_the_reversed_channels():
    bgra = np.random.default_rng(0).integers(0, 256, (48, 64, 4), dtype=np.uint8)
    rgb = bgra_to_rgb(bgra)
    assert rgb.shape == (48, 64, 3) and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, bgra[:, :, 2::-1])
