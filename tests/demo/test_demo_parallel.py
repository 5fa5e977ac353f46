"""The demo's evaluate and play stages on a fake game: one shared pool, resuming, tasks played at once."""

import dataclasses
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pixelpad.demo import DemoConfig
from pixelpad.demo.pipeline import evaluate
from pixelpad.demo.play import record_agent
from pixelpad.eval import read_results

FAKES = str(Path(__file__).parents[1] / "eval")  # eval_fakes: a dot on a strip that the left stick moves
DOT_ENV = "eval_fakes:make_dot_env"


@pytest.fixture
def dot_tasks(monkeypatch):
    import dataclasses

    monkeypatch.syspath_prepend(FAKES)  # spawned workers inherit sys.path
    from eval_fakes import DOT_TASK

    return [DOT_TASK, dataclasses.replace(DOT_TASK, name="dot-right-again")]


def test_evaluate_replays_only_the_policies_it_did_not_finish(tmp_path, dot_tasks):
    config = DemoConfig(eval_seeds=(0, 1), noop_seeds=(0, 1), workers=1, env_factory=DOT_ENV)
    evaluate(["noop", "random"], dot_tasks, tmp_path, config)
    noop, rand = tmp_path / "noop" / "episodes.jsonl", tmp_path / "random" / "episodes.jsonl"
    finished = noop.stat().st_mtime_ns
    rand.write_text(rand.read_text().splitlines()[0] + "\n")  # interrupted after its first episode
    evaluate(["noop", "random"], dot_tasks, tmp_path, config)
    assert noop.stat().st_mtime_ns == finished, "a finished policy is not played again"
    assert len(read_results(rand)) == 4, "an interrupted one is"


def test_noop_plays_its_own_episodes_and_the_others_the_evaluation_seeds(tmp_path, dot_tasks):
    config = DemoConfig(eval_seeds=(0, 1, 2), noop_seeds=(0,), workers=1, env_factory=DOT_ENV)
    evaluate(["noop", "random"], dot_tasks[:1], tmp_path, config)
    played = {p: [r.seed for r in read_results(tmp_path / p / "episodes.jsonl")] for p in ("noop", "random")}
    assert played == {"noop": [0], "random": [0, 1, 2]}


def test_play_stage_tasks_in_parallel_play_as_they_do_one_by_one(tmp_path, dot_tasks):
    from pixelpad.policy import Policy, get_preset

    Policy(get_preset("tiny")).save_pretrained(tmp_path / "policy")
    kwargs = {"env_factory": DOT_ENV, "execute": 4}
    alone = record_agent(tmp_path / "policy", dot_tasks, tmp_path / "alone", workers=1, **kwargs)
    together = record_agent(tmp_path / "policy", dot_tasks, tmp_path / "together", workers=2, **kwargs)
    assert list(together) == [t.name for t in dot_tasks]
    for name in together:
        assert Path(together[name]).stat().st_size > 0
        tables = [pq.read_table(Path(run[name]).with_name("actions.parquet")) for run in (alone, together)]
        played = [t.drop_columns(["think_ms", "virtual_time"]) for t in tables]  # wall-clock columns
        assert played[0].num_rows > 0 and played[0].equals(played[1])


def test_recording_in_parallel_keeps_task_and_seed_order(tmp_path, dot_tasks):
    from pixelpad.demo.record import RecordConfig, record_demonstrations

    # real tasks (their demonstrators cope with any frame) on the fake game: the second task is the longer
    # one, so it is recorded first and must still be listed second
    tasks = ("neverball-coin", "chromium-score-100")
    config = RecordConfig(tasks=tasks, seeds=(0, 1), video_size=(64, 128), skins=("nintendospy",),
                          env_factory=DOT_ENV, workers=2)  # fmt: skip
    rows = record_demonstrations(config, tmp_path, progress=False)
    assert [(r["task"], r["seed"]) for r in rows] == [(t, s) for t in tasks for s in (0, 1)]
    assert all(Path(r["video"]).stat().st_size > 0 for r in rows)


def test_a_demonstration_whose_game_hangs_is_played_again_then_refused(tmp_path, dot_tasks):
    from eval_fakes import reset_calls

    from pixelpad.demo.record import RecordConfig, RecordError, record_demonstrations

    reset_calls()
    # eval_fakes:make_hanging_env hangs seed 1 on its first start only and seed 2 on every start
    config = RecordConfig(tasks=("chromium-score-100",), seeds=(0, 1), video_size=(64, 128),
                          skins=("nintendospy",), env_factory="eval_fakes:make_hanging_env")  # fmt: skip
    rows = record_demonstrations(config, tmp_path / "once", progress=False)
    assert [r["seed"] for r in rows] == [0, 1] and all(r["steps"] > 2 for r in rows)
    with pytest.raises(RecordError, match=r"seed 2 crashed twice: .*not responding"):
        record_demonstrations(dataclasses.replace(config, seeds=(2,)), tmp_path / "always", progress=False)
