"""Action sequences, placements, synthetic videos and training pairs."""

from __future__ import annotations

import numpy as np
import pytest

from pixelpad.actions import INDEX, NUM_BUTTONS, validate
from pixelpad.overlay.composite import Placement, PlacementError, place
from pixelpad.overlay.footage import procedural_footage
from pixelpad.overlay.pairs import PairGenerator
from pixelpad.overlay.procedural import procedural_skins
from pixelpad.overlay.sequences import random_actions
from pixelpad.overlay.synth import GroundTruth, composite_frames, synthesize_video
from pixelpad.video import read_frames


def run_lengths(column: np.ndarray) -> list[int]:
    edges = np.flatnonzero(np.diff(np.r_[0, column, 0]))
    return list(edges[1::2] - edges[::2])


def test_random_actions_look_like_play():
    a = random_actions(3000, 7)
    validate(a)
    assert a.shape == (3000, 21)
    assert np.array_equal(a, random_actions(3000, 7))
    holds = run_lengths(a[:, INDEX["south"]])
    assert len(holds) > 10 and np.median(holds) >= 3  # held for several frames, not flickering
    assert a[:, INDEX["south"]].mean() > a[:, INDEX["guide"]].mean()  # menu buttons are rare
    idle = (np.abs(a[:, :NUM_BUTTONS]).sum(axis=1) == 0).mean()
    assert 0.05 < idle < 0.6
    stick = a[:, [INDEX["left_x"], INDEX["left_y"]]]
    assert np.abs(np.diff(stick, axis=0)).max() <= 0.7 + 1e-6  # glides (35% of the way per frame)
    assert np.linalg.norm(stick, axis=1).max() > 0.95  # reaches the rim


def test_placement_puts_overlay_in_its_corner():
    skin = procedural_skins(1, seed=1)[0]
    for corner in ("tl", "tr", "bl", "br"):
        _, (x, y, w, _) = place(skin, (360, 640), Placement(corner, scale=1.0))
        assert abs(w - 0.3 * 640) <= 1
        assert (x < 320) == (corner[1] == "l") and (y < 180) == (corner[0] == "t")
    with pytest.raises(PlacementError):
        Placement("middle")
    with pytest.raises(PlacementError):
        place(skin, (100, 120), Placement(scale=5.0))


def test_synthetic_video_decodes_with_the_truth_it_claims(tmp_path):
    skin = procedural_skins(1, seed=2)[0]
    footage = procedural_footage(40, (144, 256), seed=2)
    truth = synthesize_video(
        footage, skin, tmp_path / "v.mp4", placement=Placement("tl", 1.2, 0.8), bitrate=4e6
    )
    loaded = GroundTruth.load(tmp_path / "v.mp4")
    assert (
        loaded.box == truth.box and loaded.skin == skin.name and np.array_equal(loaded.actions, truth.actions)
    )
    assert loaded.shown == skin.controls and loaded.mask()[INDEX["south"]]
    decoded = read_frames(tmp_path / "v.mp4")
    assert decoded.shape == footage.shape
    x, y, w, h = truth.box
    expected, _ = composite_frames(footage, skin, truth.actions, truth.placement)
    shifted, _ = composite_frames(footage, skin, np.roll(truth.actions, 7, axis=0), truth.placement)
    for i, (want, other) in enumerate(zip(expected, shifted, strict=True)):
        got = decoded[i, y : y + h, x : x + w].astype(np.float32)
        err = np.abs(got - want[y : y + h, x : x + w]).mean()
        assert err < 6, (i, err)
        box_want, box_other = want[y : y + h, x : x + w], other[y : y + h, x : x + w]
        if np.abs(box_want.astype(np.float32) - box_other).mean() > 1:  # the two actions look different
            assert err < np.abs(got - box_other).mean()


def test_pairs_show_two_consecutive_frames_with_their_labels():
    skins = procedural_skins(4, seed=3)
    gen = PairGenerator(skins, seed=0)
    batch = gen.batch(8)
    assert batch["images"].shape == (8, 96, 320, 3) and batch["images"].dtype == np.uint8
    assert batch["actions"].shape == (8, 2, 21) and batch["mask"].shape == (8, 21)
    for actions, skin_name, mask in zip(batch["actions"], batch["skin"], batch["mask"], strict=True):
        bank = gen.actions
        starts = np.flatnonzero((bank[:-1] == actions[0]).all(axis=1) & (bank[1:] == actions[1]).all(axis=1))
        assert len(starts) >= 1  # two consecutive frames of one sequence
        skin = next(s for s in skins if s.name == skin_name)
        assert np.array_equal(mask, skin.mask())
    again = PairGenerator(skins, seed=0).batch(8)
    assert np.array_equal(again["images"], batch["images"])


def test_pair_halves_change_where_the_action_changes():
    skin = procedural_skins(1, seed=4)[0]
    gen = PairGenerator([skin], seed=1)
    gen.config = gen.config.__class__(
        jpeg_quality=(95, 96), blur_probability=0.0, jitter=0.0, opacity=(1.0, 1.0)
    )
    for _ in range(20):
        pair = gen.sample()
        left, right = np.split(pair.image.astype(np.int16), 2, axis=1)
        if not np.array_equal(pair.actions[0], pair.actions[1]):
            assert np.abs(left - right).max() > 30
            return
    pytest.fail("no pair with a changing action in 20 samples")


def test_procedural_families_reach_hundreds_of_distinct_templates():
    skins = procedural_skins(12, seed=0)
    assert len({s.name for s in skins}) == 12
    assert len({s.layout for s in skins}) == 4  # three colourways per layout
    assert [s.name for s in procedural_skins(12, seed=0)] == [s.name for s in skins]
    for skin in skins[:5]:
        base = skin.released()
        for control in skin.controls:
            value = -1.0 if control.endswith(("_x", "_y")) else 1.0
            assert not np.array_equal(skin.pressed(control, value), base), (skin.name, control)
        assert skin.mask()[:NUM_BUTTONS].sum() >= 8


def test_synthetic_video_is_the_same_file_every_time(tmp_path):
    """Benchmarks rerun failures by remaking their videos: a multi-threaded x264 encode of this clip
    made a different file each time (CBR rate control across threads)."""
    skin = procedural_skins(1, seed=3)[0]
    footage = procedural_footage(20, (144, 256), seed=3)
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    for path in (first, second):
        synthesize_video(footage, skin, path, placement=Placement("br", 0.8, 0.7), bitrate=2e6, seed=3)
    assert first.read_bytes() == second.read_bytes()
