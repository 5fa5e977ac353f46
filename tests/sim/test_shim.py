"""The clock shim on plain system programs: virtual clocks, parked sleeps, fallback, build errors."""

import os
import struct
import subprocess
import time

import pytest

from pixelpad.sim import ShimBuildError, shim_path
from pixelpad.sim.clock import OFF_PID, VirtualClock
from pixelpad.sim.quiesce import ProcessTree, QuiescenceWatch


def _run_under(clock, argv, **kw):
    env = {**os.environ, "LD_PRELOAD": str(shim_path()), "PIXELPAD_SHM": clock.path}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True, **kw)


def test_clocks_read_virtual_time_from_a_fixed_start():
    with VirtualClock() as clock:
        clock.advance_to(5_250_000_000)
        out = _run_under(clock, ["date", "-u", "+%s.%N %Y"]).communicate(timeout=30)[0].split()
    assert out == ["1700000005.250000000", "2023"]


def test_without_the_controller_page_everything_passes_through():
    env = {**os.environ, "LD_PRELOAD": str(shim_path())}
    env.pop("PIXELPAD_SHM", None)
    out = subprocess.run(["date", "+%s"], env=env, capture_output=True, text=True, check=True).stdout
    assert abs(int(out) - time.time()) < 60


def test_sleep_waits_for_virtual_time_and_release():
    with VirtualClock() as clock:
        proc = _run_under(clock, ["sleep", "100"])  # 100 virtual seconds
        watch = QuiescenceWatch(ProcessTree(proc.pid), [], clock.parked_tids)
        assert watch.wait(30)
        assert clock.due() == [] and proc.poll() is None  # parked, not due yet
        clock.advance_to(99_000_000_000)
        assert watch.wait(30) and clock.due() == [] and proc.poll() is None
        clock.advance_to(100_000_000_000)
        assert watch.wait(30)
        (slot,) = clock.due()
        clock.release(slot)
        assert proc.wait(30) == 0


def test_dead_controller_falls_back_to_real_time():
    with VirtualClock() as clock:
        dead = subprocess.Popen(["true"])
        dead.wait()
        struct.pack_into("<i", clock._mm, OFF_PID, dead.pid)  # a controller that has exited
        t0 = time.monotonic()
        proc = _run_under(clock, ["sleep", "0.2"])
        assert proc.wait(30) == 0
        assert time.monotonic() - t0 >= 0.2
        assert clock.fallback


def test_missing_compiler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELPAD_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-cc")
    with pytest.raises(ShimBuildError, match="no C compiler"):
        shim_path()


def test_shim_builds_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELPAD_CACHE", str(tmp_path))
    first = shim_path()
    assert first.is_file() and str(first).startswith(str(tmp_path))
    mtime = first.stat().st_mtime_ns
    assert shim_path() == first and first.stat().st_mtime_ns == mtime


def test_a_thread_spinning_on_the_clock_is_parked_until_the_next_advance():
    spin = "import time\nn = 0\nwhile time.monotonic() < 1000.5:\n    n += 1\nprint(n)"
    with VirtualClock(busy_limit=50) as clock:
        proc = _run_under(clock, ["/usr/bin/python3", "-c", spin])
        watch = QuiescenceWatch(ProcessTree(proc.pid), [], clock.parked_tids)
        assert watch.wait(30)  # spinning, yet idle: parked in its clock read
        assert clock.due() == [] and proc.poll() is None  # nothing is due before time moves
        for step in range(1, 200):  # step time by 10 ms, releasing what is due, until it exits
            clock.advance_to(step * 10_000_000)
            while watch.wait(30) and (due := clock.due()):
                clock.release(due[0])
            if proc.poll() is not None:
                break
        assert proc.wait(30) == 0
        assert 1000.5 <= 1000 + step / 100 < 1000.6  # it left the loop as soon as the clock passed
        assert int(proc.stdout.read()) > 50
