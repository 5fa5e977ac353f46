"""Engines and manifest with a stand-in per-video function (no video, no model)."""

import functools
import json
import os

import pytest

from pixelpad.extract.engines import EngineError, run_engine
from pixelpad.extract.manifest import DONE, FAILED, Manifest, ManifestError, VideoRecord


class StandIn:
    """Builds once per process; 'crash' kills its process, 'raise' returns a failed result."""

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.pid = os.getpid()

    def __call__(self, task):
        if task["path"] == "crash":
            os._exit(3)
        return {
            "video_id": task["video_id"],
            "path": task["path"],
            "status": DONE,
            "value": task["n"] * self.scale,
            "pid": self.pid,
        }


def _tasks(paths):
    return [{"video_id": f"v{i}", "path": p, "n": i} for i, p in enumerate(paths)]


@pytest.mark.parametrize("workers", [0, 2])
def test_local_engine_runs_every_task_once(workers):
    tasks = _tasks(["a", "b", "c", "d", "e"])
    out = dict(
        (t["video_id"], r) for t, r in run_engine("local", functools.partial(StandIn, 10), tasks, workers)
    )
    assert sorted(out) == [t["video_id"] for t in tasks]
    assert all(out[f"v{i}"]["value"] == 10 * i for i in range(5))
    # The worker is built once per process, not once per task.
    assert len({r["pid"] for r in out.values()}) <= max(1, workers)


def test_local_engine_survives_a_dying_process():
    tasks = _tasks(["a", "crash", "b", "c"])
    out = {t["video_id"]: r for t, r in run_engine("local", functools.partial(StandIn, 1), tasks, 2)}
    assert out["v1"]["status"] == FAILED and "died" in out["v1"]["reason"]
    assert [out[v]["status"] for v in ("v0", "v2", "v3")] == [DONE] * 3


def test_unknown_engine():
    with pytest.raises(EngineError):
        run_engine("spark", functools.partial(StandIn, 1), [], 1)


def test_manifest_resume_and_torn_line(tmp_path):
    m = Manifest(tmp_path)
    m.append(VideoRecord("a", "a.mp4", DONE, details={"episodes": [0]}))
    m.append(VideoRecord("b", "b.mp4", FAILED, "decode error"))
    m.append(VideoRecord("c", "c.mp4", "no_overlay", "no skin matched"))
    with (tmp_path / "manifest.jsonl").open("a") as f:
        f.write('{"video_id": "d", "pa')  # a crash mid-write
    again = Manifest(tmp_path)
    assert again.pending(["a", "b", "c", "d"]) == ["b", "d"]
    again.append(VideoRecord("b", "b.mp4", DONE))
    third = Manifest(tmp_path)
    assert third.counts()["done"] == 2 and third.records["b"].status == DONE
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["video_id"] == "b"


def test_manifest_rejects_corruption_and_bad_status(tmp_path):
    (tmp_path / "manifest.jsonl").write_text(
        "garbage\n" + json.dumps({"video_id": "a", "path": "a", "status": "done"}) + "\n"
    )
    with pytest.raises(ManifestError):
        Manifest(tmp_path)
    with pytest.raises(ManifestError):
        VideoRecord("a", "a", "maybe")
