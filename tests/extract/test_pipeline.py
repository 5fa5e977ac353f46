"""The extraction pipeline on synthetic videos of real skins over real game footage, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pixelpad.actions import AXIS_SLICE, BUTTON_SLICE
from pixelpad.extract.manifest import MANIFEST_NAME, Manifest
from pixelpad.extract.pipeline import ExtractConfig, VideoExtractor, make_task
from pixelpad.extract.run import MANIFEST_DIR, extract

pytestmark = pytest.mark.slow


def stored_frames(path) -> np.ndarray:
    """An episode file's frames, ``(N, H, W, 3)`` int16."""
    from pixelpad.video import iter_frames

    return np.stack([frame.image for frame in iter_frames(path)]).astype(np.int16)


def _scores(actions: np.ndarray, truth) -> tuple[float, float]:
    """Button frame accuracy and stick R² over the controls the skin shows."""
    shown = truth.mask()
    b = shown[BUTTON_SLICE]
    acc = float(((actions[:, BUTTON_SLICE] > 0.5) == (truth.actions[:, BUTTON_SLICE] > 0.5))[:, b].mean())
    s = shown[AXIS_SLICE]
    pred, true = actions[:, AXIS_SLICE][:, s], truth.actions[:, AXIS_SLICE][:, s]
    r2 = 1 - ((pred - true) ** 2).sum() / ((true - true.mean(0)) ** 2).sum()
    return acc, float(r2)


@pytest.fixture(scope="module")
def extractor(skin_dirs, tmp_path_factory):
    out = tmp_path_factory.mktemp("spools")
    return VideoExtractor(ExtractConfig(out=str(out), skins=skin_dirs, features=("sift",)))


@pytest.mark.parametrize("name", ["pc360", "dualsense", "portrait"])
def test_template_reader_recovers_the_ground_truth(extractor, video_batch, name):
    from pixelpad.overlay.synth import GroundTruth

    result = extractor(make_task(video_batch[name]))
    truth = GroundTruth.load(video_batch[name])
    assert result["status"] == "done", result["reason"]
    assert result["details"]["skin"] == truth.skin
    actions = np.load(Path(result["spool"]) / "actions.npy")
    assert actions.shape == truth.actions.shape
    acc, r2 = _scores(actions, truth)
    # A reader that ignores the overlay scores ~0.9 on buttons (they are mostly released) and ~0 on
    # sticks. Sticks cannot reach 1: the synthetic renderer puts the cap on whole pixels of the
    # video-sized skin (steps of ~0.15 axis units here), which alone caps R² near 0.92.
    assert acc >= 0.98, acc
    assert r2 >= 0.8, r2


def test_a_broken_batch_finishes_and_resumes(tmp_path, skin_dirs, video_batch):
    from pixelpad.dataset import EpisodeStore

    config = ExtractConfig(out=str(tmp_path / "ds"), skins=skin_dirs, features=("sift",))
    videos = [video_batch[k] for k in ("pc360", "idle", "plain", "empty", "garbage", "truncated", "audio")]
    counts = extract(videos, config, workers=2, progress=False)
    records = {Path(r.path).stem: r for r in Manifest(tmp_path / "ds" / MANIFEST_DIR).records.values()}
    status = {k: r.status for k, r in records.items()}
    assert status == {
        "pc360": "done", "idle": "too_idle", "plain": "no_overlay", "empty": "failed",
        "garbage": "failed", "truncated": "failed", "audio": "failed",
    }  # fmt: skip
    assert "empty" in records["empty"].reason and "no video stream" in records["audio"].reason
    assert counts == {"done": 1, "no_overlay": 1, "too_idle": 1, "failed": 4}
    store = EpisodeStore(tmp_path / "ds")
    first = store.num_episodes
    assert first >= 1 and {e["video_id"] for e in store.episodes} == {records["pc360"].video_id}
    assert all(e["extra"]["reader"] == "template" for e in store.episodes)

    # A rerun redoes only the failures; nothing new is written.
    extract(videos, config, workers=0, progress=False)
    assert EpisodeStore(tmp_path / "ds").num_episodes == first
    # A driver that died after committing pc360's episodes but before its manifest record: the
    # rerun processes it again and skips the segments already in the dataset.
    path = tmp_path / "ds" / MANIFEST_DIR / MANIFEST_NAME
    lines = [
        line
        for line in path.read_text().splitlines()
        if json.loads(line)["video_id"] != records["pc360"].video_id
    ]
    path.write_text("\n".join(lines) + "\n")
    extract([video_batch["pc360"]], config, workers=0, progress=False)
    assert EpisodeStore(tmp_path / "ds").num_episodes == first
    assert Manifest(tmp_path / "ds" / MANIFEST_DIR).records[records["pc360"].video_id].status == "done"


def test_ray_engine_writes_the_same_episodes_as_local(tmp_path, skin_dirs, video_batch):
    from pixelpad.dataset import EpisodeStore

    videos = [video_batch["dualsense"]]
    stores = {}
    for engine in ("local", "ray"):
        config = ExtractConfig(out=str(tmp_path / engine), skins=skin_dirs, features=("sift",))
        extract(videos, config, engine=engine, workers=1 if engine == "ray" else 0, progress=False)
        stores[engine] = EpisodeStore(tmp_path / engine)
    local, ray = stores["local"], stores["ray"]
    assert local.num_episodes == ray.num_episodes >= 1
    by_segment = {(e["video_id"], tuple(e["extra"]["segment"])): e["index"] for e in ray.episodes}
    for episode in local.episodes:
        other = by_segment[(episode["video_id"], tuple(episode["extra"]["segment"]))]
        a, b = local.actions(episode["index"]), ray.actions(other)
        np.testing.assert_array_equal(a[:, BUTTON_SLICE], b[:, BUTTON_SLICE])
        # Localisation matches features with approximate nearest neighbours (FLANN's randomised
        # trees), so the affine, and the sticks read through it, may move by a hair between processes.
        np.testing.assert_allclose(a[:, AXIS_SLICE], b[:, AXIS_SLICE], atol=0.02)
        np.testing.assert_array_equal(local.frames(episode["index"], 0, 8), ray.frames(other, 0, 8))


def test_auto_mode_distrusts_an_untrained_parser(skin_dirs, video_batch, tmp_path):
    from pixelpad.overlay.parser import Parser, get_preset
    from pixelpad.overlay.synth import GroundTruth

    Parser(get_preset("tiny")).save_pretrained(tmp_path / "parser")
    config = ExtractConfig(
        out=str(tmp_path), skins=skin_dirs, features=("sift",), parser=str(tmp_path / "parser")
    )
    result = VideoExtractor(config)(make_task(video_batch["pc360"]))
    assert result["status"] == "done", result["reason"]
    assert result["details"]["reader"] == "template"
    # An untrained parser is unsure the overlay is there (its reads are dropped: agreement NaN) or
    # disagrees with the template reader; either way it is not trusted.
    assert result["details"]["parser_confidence"] < 0.8 or result["details"]["agreement"] < 0.97
    acc, _ = _scores(np.load(Path(result["spool"]) / "actions.npy"), GroundTruth.load(video_batch["pc360"]))
    assert acc >= 0.98


def test_localisation_samples_as_the_extraction_settings_say(extractor, video_batch, monkeypatch):
    import pixelpad.overlay.locate as locate_module

    seen = []
    monkeypatch.setattr(locate_module, "locate", lambda path, bank, config: seen.append(config))
    result = extractor(make_task(video_batch["pc360"]))
    assert result["status"] == "no_overlay"  # what the stand-in found
    assert seen[0].keyframes_above == extractor.config.locate_keyframes_above == 720  # long: key frames
    assert (seen[0].frames, seen[0].early_frames) == (
        extractor.config.locate_frames,
        extractor.config.locate_early_frames,
    )
    assert seen[0].frames < locate_module.LocateConfig().frames  # fewer than a whole search's
    refined = (seen[0].shortlist, seen[0].proposals, seen[0].region_shortlist)
    assert refined == (extractor.config.locate_refined,) * 3
    defaults = locate_module.LocateConfig()
    assert max(refined) < min(defaults.shortlist, defaults.proposals, defaults.region_shortlist)


def test_a_video_failing_after_its_read_pass_leaves_no_spool(extractor, video_batch, monkeypatch):
    import pixelpad.extract.pipeline as pipeline_module

    task = make_task(video_batch["pc360"])
    spool = extractor.staging / task["video_id"]
    spooled = []

    def broken_refine(*args, **kwargs):
        spooled.append(spool.exists())
        raise RuntimeError("refinement broke")

    monkeypatch.setattr(pipeline_module, "refine", broken_refine)
    result = extractor(task)
    assert result["status"] == "failed" and "refinement broke" in result["reason"]
    assert spooled == [True] and not spool.exists()  # written by the read pass, removed after the failure


def test_the_read_pass_decodes_without_the_loop_filter(extractor, video_batch, monkeypatch):
    import pixelpad.video as video_module

    options, real = [], video_module.iter_frames

    def spy(*args, **kwargs):
        options.append(kwargs.get("decoder_options"))
        return real(*args, **kwargs)

    monkeypatch.setattr(video_module, "iter_frames", spy)
    assert extractor.config.skip_loop_filter
    assert extractor(make_task(video_batch["pc360"]))["status"] == "done"
    assert {"skip_loop_filter": "all"} in options


def test_stored_frames_hide_the_controls_and_keep_the_game_around_them(extractor, video_batch, game_footage,
                                                                      tmp_path):  # fmt: skip
    """The dualsense video and one with other actions, same footage and placement: where the stored
    frames are not blacked out they agree (the controls' pictures are hidden), yet most of the box
    is kept (the see-through skin's footprint, not its box)."""
    from pixelpad.overlay.composite import Placement
    from pixelpad.overlay.library import load_skin
    from pixelpad.overlay.synth import synthesize_video

    dualsense = next(s for s in load_skin(extractor.config.skins[1]) if s.name.endswith("white"))
    other = tmp_path / "other.mp4"
    synthesize_video(game_footage, dualsense, other, placement=Placement("tl", 1.2, 0.7), bitrate=2e6, seed=9)
    results = [extractor(make_task(path)) for path in (video_batch["dualsense"], other)]
    assert [r["details"]["masked"] for r in results] == ["footprint"] * 2
    x, y, w, h = results[0]["details"]["stored_box"]
    assert [r["details"]["segments"] for r in results] == [[[0, len(game_footage)]]] * 2
    a, b = (stored_frames(r["episodes"][0]["video"])[:, y : y + h, x : x + w] for r in results)
    hidden = (np.maximum(a, b).max(axis=-1) <= 8).all(axis=0)  # black in every frame (the game scrolls)
    assert 0.2 < hidden.mean() < 0.7, hidden.mean()  # a box mask would hide all of it
    differ = np.abs(a - b).max(axis=-1)[:, ~hidden]
    assert np.percentile(differ, 99.9) < 40, np.percentile(differ, 99.9)
