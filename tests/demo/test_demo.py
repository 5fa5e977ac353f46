"""The demo chain at toy size on a real game, the stage cache that lets it resume, and its scoring."""

import json

import numpy as np
import pytest

from pixelpad.actions import INDEX
from pixelpad.demo import DemoConfig, Stage, run_demo, run_stages
from pixelpad.demo.extraction import extract_available, score, source_frames
from pixelpad.demo.report import goal_rows
from pixelpad.demo.study import StudyConfig, relative_improvement, run_study

pytestmark = pytest.mark.xdist_group("demo")  # one toy run, shared by the chain and the study tests


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """The whole demo at toy size on real games (SuperTux and Neverball), once for this module."""
    root = tmp_path_factory.mktemp("demo")
    return root, run_demo(root, DemoConfig.toy(), echo=lambda _: None)


# The toy run starts ten game processes: about two minutes on two idle cores, far more on a shared one.
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_demo_chain_at_toy_size(toy_run):
    root, summaries = toy_run
    videos = {v["task"]: v for v in summaries["record"]["videos"]}
    assert set(videos) == {"supertux-finish", "neverball-coin"}
    assert videos["supertux-finish"]["status"] == "success", "the demonstrator must solve its task"
    assert (root / "01-record" / "videos" / "supertux-finish-seed100.mp4").stat().st_size > 1000
    report = (root / "REPORT.md").read_text()
    rates = summaries["evaluate"]["summary"]["tasks"]
    assert rates["demonstrator"]["supertux-finish"]["episodes"] == 1
    assert rates["noop"]["supertux-finish"]["successes"] == 0, "standing still cannot finish a level"
    if extract_available():
        assert set(summaries["extract"]["datasets"]) == {"supertux", "neverball"}
        accuracy = summaries["extract"]["accuracy"]
        assert accuracy["episodes"] >= 1 and accuracy["button_accuracy"] > 0.5
        assert (root / "03-train" / "run" / "policy" / "config.json").is_file()
        assert summaries["train"]["policy"] in rates
        assert (root / "05-play" / "supertux-finish" / "play.mp4").stat().st_size > 1000
        assert "Not run" not in report and "policy (trained)" in report
    else:
        assert "**extract**: `pixelpad extract` is not installed" in report
        assert "missing" in summaries["train"] and "missing" in summaries["play"]
    assert "| supertux-finish |" in report


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_transfer_study_on_the_toy_run(toy_run, tmp_path):
    root, _ = toy_run
    result = run_study(tmp_path, StudyConfig.toy(str(root)), echo=lambda _: None)
    text = (tmp_path / "STUDY.md").read_text()
    if extract_available():
        arms = result["evaluate"]["results"]["arms"]
        assert {a: arms[a]["episodes"] for a in arms} == {"finetune": 1, "scratch": 1}
        finetuned = tmp_path / "04-budget" / "finetune-seed0" / "run" / "config.json"
        assert json.loads(finetuned.read_text())["init_from"] == result["pretrain"]["run"]
        assert "| finetune |" in text
    else:
        assert "Stages that could not run" in text


def test_stages_resume_after_an_interruption(tmp_path):
    calls: list[str] = []

    def ok(name):
        def fn(folder, done):
            calls.append(name)
            return {"saw": sorted(done)}

        return fn

    def crash(folder, done):
        raise RuntimeError("interrupted")

    stages = [Stage("a", ok("a")), Stage("b", crash)]
    with pytest.raises(RuntimeError, match="interrupted"):
        run_stages(tmp_path, stages, echo=lambda _: None)
    assert calls == ["a"] and not (tmp_path / "02-b" / "stage.json").exists()
    summaries = run_stages(tmp_path, [Stage("a", ok("a")), Stage("b", ok("b"))], echo=lambda _: None)
    assert calls == ["a", "b"], "the finished stage must not run again"
    assert summaries["b"] == {"saw": ["a"]}
    assert json.loads((tmp_path / "01-a" / "stage.json").read_text())["summary"] == {"saw": []}
    run_stages(tmp_path, [Stage("a", ok("a")), Stage("b", ok("b"))], force=("a",), echo=lambda _: None)
    assert calls == ["a", "b", "a", "b"], "forcing a stage reruns it and every later stage"


def test_extraction_score_against_a_plain_count():
    true = np.zeros((4, 21), np.float32)
    true[:2, INDEX["south"]] = 1.0
    true[:, INDEX["left_x"]] = [-1.0, 0.0, 0.5, 1.0]
    got = true.copy()
    got[0, INDEX["south"]] = 0.0  # one press missed
    got[3, INDEX["dpad_up"]] = 1.0  # one false press
    got[:, INDEX["left_x"]] += 0.1
    shown = np.zeros(21, bool)
    shown[[INDEX["south"], INDEX["dpad_up"], INDEX["left_x"]]] = True
    result = score([({"shown": shown}, got, true)])
    assert result["button_accuracy"] == pytest.approx(6 / 8)  # 2 shown buttons x 4 frames, 2 wrong
    assert result["button_f1"] == pytest.approx(2 * 1 / (2 + 2))
    ss_tot = float(((true[:, INDEX["left_x"]] - true[:, INDEX["left_x"]].mean()) ** 2).sum())
    assert result["stick_r2"] == pytest.approx(1 - 4 * 0.01 / ss_tot)
    assert result["stick_mae"] == pytest.approx(0.1)
    still = true.copy()
    still[:, INDEX["left_x"]] = 0.0
    assert score([({"shown": shown}, still, still)])["stick_r2"] is None, "R² is undefined for still sticks"


def _cell(successes, episodes, low, high):
    return {"successes": successes, "episodes": episodes, "rate": successes / episodes, "low": low,
            "high": high}  # fmt: skip


def test_goal_needs_70_percent_of_the_demonstrator_and_intervals_apart():
    summary = {
        "tasks": {
            "demonstrator": {"a": _cell(10, 10, 0.72, 1.0), "b": _cell(10, 10, 0.72, 1.0)},
            "noop": {"a": _cell(0, 10, 0.0, 0.28), "b": _cell(0, 10, 0.0, 0.28)},
            "random": {"a": _cell(1, 10, 0.02, 0.40), "b": _cell(5, 10, 0.24, 0.76)},
            "policy": {"a": _cell(8, 10, 0.49, 0.94), "b": _cell(8, 10, 0.49, 0.94)},
        }
    }
    rows = {task: (share, apart, met) for task, share, apart, met in goal_rows(summary, "policy")}
    assert rows["a"] == ("80%", "yes", "**yes**")
    assert rows["b"] == ("80%", "no", "no"), "random's interval overlaps the policy's"


def test_relative_improvement_and_its_interval():
    finetune = [np.array([1, 1, 1, 0.0]), np.array([1, 1, 0, 0.0])]
    scratch = [np.array([1, 0, 0, 0.0]), np.array([1, 1, 0, 0.0])]
    result = relative_improvement(finetune, scratch, reps=500)
    assert result["relative_improvement"] == pytest.approx(5 / 3 - 1)
    assert result["difference"] == pytest.approx(5 / 8 - 3 / 8)
    low, high = result["relative_ci"]
    assert low < result["relative_improvement"] < high
    never = relative_improvement(finetune, [np.zeros(4), np.zeros(4)], reps=50)
    assert never["relative_improvement"] is None and never["undefined_share"] == 1.0


def test_strided_policy_keeps_every_kth_action_of_each_chunk():
    from pixelpad.demo.play import Strided

    class Counting:
        def predict(self, frames, **kwargs):
            chunk = np.zeros((len(frames), 16, 21), np.float32)
            chunk[..., INDEX["left_x"]] = np.arange(16) / 16
            return chunk

    chunks = Strided(Counting(), 3).predict(np.zeros((2, 4, 4, 3), np.uint8))
    assert chunks.shape == (2, 6, 21)
    np.testing.assert_allclose(chunks[1, :, INDEX["left_x"]] * 16, [0, 3, 6, 9, 12, 15])


def test_truth_is_taken_at_the_dataset_rate():
    # a 10 fps video in a 30 fps dataset: each video frame stands for three dataset frames
    np.testing.assert_array_equal(source_frames(3, 7, 10.0, 30.0, 100), [1, 1, 1, 2, 2, 2, 3])
    np.testing.assert_array_equal(source_frames(5, 4, 30.0, 30.0, 100), [5, 6, 7, 8])
    np.testing.assert_array_equal(source_frames(0, 9, 10.0, 30.0, 2), [0, 0, 0, 1, 1, 1])


def test_games_weighted_by_the_frames_they_drew():
    from pixelpad.demo.pipeline import distinct_frame_weights

    # Neverball plays at 10 fps: its 3,000 dataset frames at 30 fps are 1,000 pictures, each three times
    weights = distinct_frame_weights({"chromium-bsu": 2000, "neverball": 3000}, {"chromium-bsu": 30.0,
                                     "neverball": 10.0}, 30.0)  # fmt: skip
    assert weights == pytest.approx((2000.0, 1000.0))


def test_stage_times_with_the_load_they_ran_under(tmp_path):
    from pixelpad.demo.report import _timing_section

    run_stages(tmp_path, [Stage("a", lambda f, d: {}), Stage("b", lambda f, d: {})], echo=lambda _: None)
    marker = json.loads((tmp_path / "02-b" / "stage.json").read_text())
    assert len(marker["load_avg"]) == 3 and marker["cpus"] >= 1 and marker["seconds"] >= 0
    lines = _timing_section(tmp_path, ["a", "b", "report"])  # the report stage has not finished yet
    assert lines[0] == "## Stage times\n"
    firsts = [line.split(" | ")[0] for line in lines if line.startswith("| ")]
    assert firsts == ["| stage", "| a", "| b", "| **total**"]


def test_demo_config_names_its_weighting():
    from pixelpad.demo.pipeline import DemoError

    assert DemoConfig().weighting == "size"
    with pytest.raises(DemoError, match="unknown weighting"):
        DemoConfig(weighting="by-feel")
