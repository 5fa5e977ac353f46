"""``pixelpad sim run``: same command twice => same digest; recorded actions replay the run."""

import pytest
from sim_helpers import PROBE_SIZE

from pixelpad.cli import main
from pixelpad.sim.record import load_actions

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sim-probe")]


def _run(capsys, probe_game, out, actions: str) -> str:
    size = f"{PROBE_SIZE[0]}x{PROBE_SIZE[1]}"
    argv = ["sim", "run", "--cmd", probe_game, "--size", size, "--steps", "8", "--fps", "30"]
    assert main([*argv, "--actions", actions, "--seed", "3", "--out", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("frames sha256: ") and len(last.split()[-1]) == 64
    return last


def test_same_command_twice_same_digest_and_replay(capsys, probe_game, tmp_path):
    first = _run(capsys, probe_game, tmp_path / "a", "random")
    assert _run(capsys, probe_game, tmp_path / "b", "random") == first
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["actions.parquet", "frames", "run.mp4"]
    assert len(list((tmp_path / "a" / "frames").glob("*.png"))) == 9
    assert load_actions(tmp_path / "a" / "actions.parquet").shape == (8, 21)
    # the recorded actions replay the same frames; no-op actions draw others
    assert _run(capsys, probe_game, tmp_path / "c", str(tmp_path / "a" / "actions.parquet")) == first
    assert _run(capsys, probe_game, tmp_path / "d", "noop") != first


def test_bad_actions_file_is_a_clear_error(capsys, probe_game, tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    argv = ["sim", "run", "--cmd", probe_game, "--steps", "2", "--actions", str(bad), "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "cannot read actions" in capsys.readouterr().err
