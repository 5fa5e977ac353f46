"""Bad input and faults: each a clear error, never a hang; resets and close leave nothing behind."""

import os

import pytest
from sim_helpers import PROBE_SIZE

from pixelpad.actions import null_action
from pixelpad.sim import DisplayError, GameEnv, GameError, GameNotFoundError, SimError, virtual_display

pytestmark = pytest.mark.xdist_group("sim-probe")


def _children() -> set[int]:
    """Live (non-zombie) child processes of this test process."""
    out = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            out.add(int(name))
    return out


def _clock_pages() -> list[str]:
    """The clock pages (memfds) this process still holds."""
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return [link for link in links if "pixelpad-clock" in link]


def test_bad_arguments():
    with pytest.raises(SimError, match="exactly one"):
        GameEnv()
    with pytest.raises(SimError, match="fps"):
        GameEnv(cmd="true", fps=0)


def test_command_not_found():
    env = GameEnv(cmd="no-such-game-binary --fast")
    try:
        with pytest.raises(GameNotFoundError, match="no-such-game-binary"):
            env.reset()
    finally:
        env.close()


def test_game_that_exits_at_once():
    env = GameEnv(cmd="sh -c 'echo boom >&2; exit 3'", size=(64, 48))
    try:
        with pytest.raises(GameError, match=r"(?s)exited.*code 3.*boom"):
            env.reset()
    finally:
        env.close()


def test_game_that_never_draws():
    before = _children()  # other tests in this worker may hold processes of their own
    env = GameEnv(cmd="sleep 100000", size=(64, 48), start_timeout_s=3)
    try:
        with pytest.raises(GameError, match="drew nothing"):
            env.reset()
    finally:
        env.close()
    assert not _children() - before


def test_display_that_cannot_start(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Xvfb here
    with pytest.raises(DisplayError, match="not installed"), virtual_display((64, 48)):
        pass
    fake = tmp_path / "Xvfb"  # an X server that fails at once
    fake.write_text("#!/bin/sh\necho 'no screens found' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(DisplayError, match="no screens found"), virtual_display((64, 48)):
        pass


def test_step_before_reset_and_bad_action(probe_game):
    env = GameEnv(cmd=probe_game, size=PROBE_SIZE)
    try:
        with pytest.raises(SimError, match="reset"):
            env.step(null_action())
        env.reset()
        with pytest.raises(ValueError, match="shape"):
            env.step(null_action()[:5])
    finally:
        env.close()


@pytest.mark.slow
def test_hundred_resets_leak_nothing(probe_game):
    fds_before = len(os.listdir("/proc/self/fd"))
    children_before = _children()
    env = GameEnv(cmd=probe_game, size=PROBE_SIZE)
    for _ in range(100):
        env.reset()
    env.step(null_action())
    assert len(_children() - children_before) == 2  # the X server and the game, nothing else
    env.close()
    assert _children() == children_before
    assert not _clock_pages()
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_game_that_spins_is_reported_hung():
    before = _children()
    env = GameEnv(cmd="sh -c 'while :; do :; done'", size=(64, 48), step_timeout_s=2)
    try:
        with pytest.raises(GameError, match="not responding"):
            env.reset()
    finally:
        env.close()
    assert not _children() - before
