"""The runner on a real game: a demonstrator solves a short task, and the same seed replays exactly."""

import pytest

from pixelpad.eval.registry import select_tasks
from pixelpad.eval.runner import EvalConfig, run_eval

pytestmark = pytest.mark.slow


def test_demonstrator_finishes_supertux_twice_identically(tmp_path):
    (task,) = select_tasks(["supertux-finish"])
    first = run_eval(EvalConfig("demonstrator", (0,), tmp_path / "a"), [task], progress=False)
    again = run_eval(EvalConfig("demonstrator", (0,), tmp_path / "b"), [task], progress=False)
    assert first[0].status == "success", first[0].error
    assert (again[0].status, again[0].steps, again[0].time_to_success_s) == (
        first[0].status, first[0].steps, first[0].time_to_success_s,
    )  # fmt: skip
