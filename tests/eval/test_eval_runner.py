import json

import numpy as np
import pytest
from eval_fakes import DOT_HOLD, DOT_TASK, reset_calls

from pixelpad.eval.errors import EvalError
from pixelpad.eval.report import write_report
from pixelpad.eval.runner import EvalConfig, read_results, run_eval


def _config(tmp_path, policy, seeds=(0, 1, 2, 3), **kw):
    return EvalConfig(policy, tuple(seeds), tmp_path, env_factory="eval_fakes:make_dot_env", **kw)


def test_demonstrator_succeeds_and_noop_fails(tmp_path):
    demo = run_eval(_config(tmp_path, "demonstrator"), [DOT_TASK], progress=False)
    noop = run_eval(_config(tmp_path, "noop"), [DOT_TASK], progress=False)
    assert [r.status for r in demo] == ["success"] * 4
    assert [r.status for r in noop] == ["failure"] * 4
    # the dot moves 2 columns per step from its seeded start: time to success is exact
    for r in demo:
        assert 0 < r.time_to_success_s <= 3.0
    actions = np.load(tmp_path / "demonstrator" / demo[0].actions)
    assert actions.shape == (demo[0].steps, 21)
    assert actions[:, 15].max() == 0  # start (a menu button) was released before the game saw it


def test_hold_task_fails_when_the_rule_breaks(tmp_path):
    (demo,) = run_eval(_config(tmp_path, "demonstrator", seeds=(0,)), [DOT_HOLD], progress=False)
    (noop,) = run_eval(_config(tmp_path, "noop", seeds=(0,)), [DOT_HOLD], progress=False)
    assert demo.status == "failure" and noop.status == "success"
    assert noop.steps == 10  # 1 s at 10 fps, all of it


def test_same_seeds_same_results_and_workers_agree(tmp_path):
    def outcome(results):
        return [(r.task, r.seed, r.status, r.steps, r.time_to_success_s) for r in results]

    first = run_eval(_config(tmp_path / "a", "random"), [DOT_TASK, DOT_HOLD], progress=False)
    again = run_eval(_config(tmp_path / "b", "random"), [DOT_TASK, DOT_HOLD], progress=False)
    parallel = run_eval(_config(tmp_path / "c", "random", workers=2), [DOT_TASK, DOT_HOLD], progress=False)
    assert outcome(first) == outcome(again) == outcome(parallel)
    for r1, r2 in zip(first, parallel, strict=True):
        np.testing.assert_array_equal(np.load(tmp_path / "a/random" / r1.actions),
                                      np.load(tmp_path / "c/random" / r2.actions))  # fmt: skip


def test_crash_is_retried_once_then_recorded(tmp_path):
    reset_calls()
    config = EvalConfig("noop", (0, 1, 2), tmp_path, env_factory="eval_fakes:make_flaky_env")
    results = run_eval(config, [DOT_TASK], progress=False)
    assert [(r.seed, r.status, r.attempts) for r in results] == [(0, "failure", 1), (1, "failure", 2),
                                                                 (2, "error", 2)]  # fmt: skip
    assert "game crashed (seed 2)" in results[2].error
    assert read_results(tmp_path / "noop" / "episodes.jsonl") == results


def test_a_hung_game_is_no_failure_but_retried_then_an_error(tmp_path):
    reset_calls()
    config = EvalConfig("demonstrator", (0, 1, 2), tmp_path, env_factory="eval_fakes:make_hanging_env")
    results = run_eval(config, [DOT_TASK], progress=False)
    assert [(r.seed, r.status, r.attempts) for r in results] == [(0, "success", 1), (1, "success", 2),
                                                                 (2, "error", 2)]  # fmt: skip
    assert "not responding" in results[2].error


def test_report_on_a_tiny_run(tmp_path):
    for policy in ("demonstrator", "noop"):
        run_eval(_config(tmp_path, policy, seeds=(0, 1)), [DOT_TASK, DOT_HOLD], progress=False)
    summary = write_report(tmp_path)
    assert summary.policies == ("demonstrator", "noop")
    assert summary.tasks["demonstrator"]["dot-right"].successes == 2
    assert summary.categories["noop"]["game-specific"].successes == 2
    text = (tmp_path / "report.md").read_text()
    assert "| dot-right (navigation) | 100% [34–100] (2/2) | 0% [0–66] (0/2) |" in text
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["overall"]["demonstrator"]["episodes"] == 4
    png = (tmp_path / "success_rates.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_config_rejects_repeated_seeds(tmp_path):
    with pytest.raises(EvalError, match="seeds repeat"):
        _config(tmp_path, "noop", seeds=(1, 1))


def test_dead_worker_process_is_retried_then_recorded(tmp_path):
    config = EvalConfig("noop", (0, 3), tmp_path, workers=2, env_factory="eval_fakes:make_killing_env")
    results = run_eval(config, [DOT_TASK], progress=False)
    assert results[0].status == "failure"  # seed 0 is unaffected (possibly replayed after the pool broke)
    assert (results[1].status, results[1].attempts) == ("error", 2)
    assert "worker process failed twice" in results[1].error


def test_video_of_each_episode(tmp_path):
    (result,) = run_eval(_config(tmp_path, "demonstrator", seeds=(0,), record_video=True), [DOT_TASK],
                         progress=False)  # fmt: skip
    from pixelpad.video import probe

    assert probe(tmp_path / "demonstrator" / result.video).num_frames == result.steps


def test_policies_sharing_one_pool_get_what_each_gets_alone(tmp_path):
    from pixelpad.eval.runner import run_evals

    def outcome(results):
        return [(r.task, r.seed, r.status, r.steps, r.time_to_success_s) for r in results]

    alone = {p: run_eval(_config(tmp_path / "alone", p), [DOT_TASK, DOT_HOLD], progress=False)
             for p in ("random", "noop")}  # fmt: skip
    shared = run_evals([_config(tmp_path / "shared", p, workers=2) for p in ("random", "noop")],
                       [DOT_TASK, DOT_HOLD], progress=False)  # fmt: skip
    assert {p: outcome(r) for p, r in shared.items()} == {p: outcome(r) for p, r in alone.items()}
    for policy in ("random", "noop"):
        rows = read_results(tmp_path / "shared" / policy / "episodes.jsonl")
        assert [(r.task, r.seed) for r in rows] == [(r.task, r.seed) for r in alone[policy]], "in order"
        assert {r.policy for r in rows} == {policy}


def test_two_policies_may_not_share_a_results_folder(tmp_path):
    from pixelpad.eval.runner import run_evals

    with pytest.raises(EvalError, match="same results folder"):
        run_evals([_config(tmp_path, "noop"), _config(tmp_path, "noop", seeds=(5,))], [DOT_TASK])
