"""The commands: help, clear one-line errors, and a local checkpoint playing (env stood in)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from serve_standins import FakeGame

import pixelpad.sim
from pixelpad.cli import build_parser, main
from pixelpad.policy import Policy, get_preset


def test_commands_are_registered_with_help(capsys) -> None:
    for command in ("serve", "play"):
        with pytest.raises(SystemExit) as done:
            build_parser().parse_args([command, "--help"])
        assert done.value.code == 0
    assert "tcp://HOST:PORT" in capsys.readouterr().out


def test_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys) -> None:
    assert main(["serve", str(tmp_path / "nothing"), "--port", "0"]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_play_with_a_local_checkpoint(tmp_path, monkeypatch, capsys) -> None:
    games: list[FakeGame] = []

    def fake_env(game: str | None, **options: object) -> FakeGame:
        assert game == "some-game" and options["fps"] == 10.0
        games.append(FakeGame())
        return games[-1]

    monkeypatch.setattr(pixelpad.sim, "GameEnv", fake_env)
    checkpoint = Policy(get_preset("tiny")).save_pretrained(tmp_path / "tiny")
    argv = ["play", "--game", "some-game", "--policy", str(checkpoint), "--steps", "6", "--execute", "4"]
    assert main([*argv, "--fps", "10", "--record", str(tmp_path / "rec"), "--num-steps", "2"]) == 0
    assert "played 6 steps (1 episode(s), 2 chunks" in capsys.readouterr().out
    assert games[0].closed and len(games[0].received) == 6
    assert pq.read_table(tmp_path / "rec" / "actions.parquet").num_rows == 6


def test_load_policy_takes_a_training_checkpoint_directory(tmp_path) -> None:
    from pixelpad.serve import load_policy

    Policy(get_preset("tiny")).save_pretrained(tmp_path / "step_00000010" / "policy")
    assert load_policy(tmp_path / "step_00000010").config == get_preset("tiny")
