import pytest
from eval_fakes import DOT_TASK

from pixelpad.cli import main
from pixelpad.eval.cli import parse_seeds
from pixelpad.eval.errors import EvalError
from pixelpad.eval.runner import EvalConfig, run_eval


def test_parse_seeds():
    assert parse_seeds(None, None) == tuple(range(10))
    assert parse_seeds(None, 3) == (0, 1, 2)
    assert parse_seeds(["0-2", "7"], None) == (0, 1, 2, 7)
    with pytest.raises(EvalError, match="agree"):
        parse_seeds(["0-2"], 5)
    with pytest.raises(EvalError, match="bad seed"):
        parse_seeds(["x"], None)


def test_list_covers_every_category(capsys):
    assert main(["eval", "--list"]) == 0
    out = capsys.readouterr().out
    for category in ("combat", "navigation", "game-specific"):
        assert sum(f" {category} " in line for line in out.splitlines()) >= 3
    for game in ("chromium-bsu", "supertux", "neverball"):
        assert game in out


def test_report_only_and_unknown_task(tmp_path, capsys):
    run_eval(
        EvalConfig("noop", (0,), tmp_path, env_factory="eval_fakes:make_dot_env"), [DOT_TASK], progress=False
    )
    assert main(["eval", "--report-only", "--out", str(tmp_path)]) == 0
    assert "dot-right" in capsys.readouterr().out and (tmp_path / "report.md").exists()
    assert main(["eval", "--tasks", "no-such-task", "--out", str(tmp_path)]) == 2
    assert "unknown task" in capsys.readouterr().err
