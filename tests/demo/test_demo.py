"""The demo chain at toy size, and the stage cache that lets it resume."""

import json

import pytest

from pixelpad.demo import DemoConfig, Stage, run_demo, run_stages


def test_demo_chain_runs_and_produces_its_outputs(tmp_path):
    summaries = run_demo(tmp_path, DemoConfig(episodes=2, length=20, size=(48, 64)), echo=lambda _: None)
    assert summaries["read-back"]["episodes"] == 2
    assert summaries["read-back"]["frames"] == 40
    assert summaries["read-back"]["frame_shape"] == [48, 64, 3]
    assert (tmp_path / "03-view" / "episode-000000.mp4").stat().st_size > 1000
    assert (tmp_path / "03-view" / "episode-000000-timeline.png").stat().st_size > 1000


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
