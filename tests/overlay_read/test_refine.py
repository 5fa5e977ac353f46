"""Refinement and filtering on constructed sequences with known answers."""

import numpy as np
import pytest

from pixelpad.actions import INDEX, null_action
from pixelpad.overlay.refine import (
    RefineConfig,
    calibrated_rest,
    chunk_keep,
    kept_segments,
    null_mask,
    refine,
    rest_position,
)
from pixelpad.overlay.smoothing import SmoothingError, smooth


def _stick_video(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True actions with the left stick pushed ~30% of the time, and a distorted raw read of them."""
    rng = np.random.default_rng(seed)
    true = null_action(n)
    pushed = rng.random(n) < 0.3
    true[pushed, INDEX["left_x"]] = rng.uniform(-1, 1, pushed.sum())
    true[pushed, INDEX["left_y"]] = rng.uniform(-1, 1, pushed.sum())
    true[::50, INDEX["left_x"]] = 1.0  # full deflection reached now and then
    raw = true.copy()
    # The skin's cap rests off-centre and only reaches 0.6 of the nominal range.
    raw[:, INDEX["left_x"]] = 0.12 + 0.6 * true[:, INDEX["left_x"]]
    raw[:, INDEX["left_y"]] = -0.07 + 0.6 * true[:, INDEX["left_y"]]
    return true, raw


def test_rest_position_ignores_pushes_and_nan():
    _, raw = _stick_video()
    xy = raw[:, [INDEX["left_x"], INDEX["left_y"]]].copy()
    xy[5] = np.nan
    centre = rest_position(xy, 0.08)
    np.testing.assert_allclose(centre, [0.12, -0.07], atol=0.02)


def test_refine_recovers_centred_full_range_sticks():
    true, raw = _stick_video()
    out = refine(raw)
    r2 = 1 - np.sum((out.actions - true) ** 2) / np.sum((true - true.mean(0)) ** 2)
    assert r2 > 0.97
    np.testing.assert_allclose(out.centre[0], [0.12, -0.07], atol=0.02)
    assert np.abs(out.actions).max() <= 1.0


def test_refine_leaves_a_still_stick_unscaled():
    raw = null_action(100)
    raw[:, INDEX["right_x"]] = 0.01 * np.sin(np.arange(100))
    out = refine(raw)
    assert np.abs(out.actions[:, INDEX["right_x"]]).max() < 0.05


def test_null_mask_marks_idle_and_unreadable_frames():
    a = null_action(5)
    a[1, INDEX["south"]] = 1
    a[2, INDEX["left_x"]] = 0.5
    a[3, INDEX["left_x"]] = 0.1  # inside the dead zone
    a[4] = np.nan
    np.testing.assert_array_equal(null_mask(a), [True, False, False, True, True])


def test_chunk_filter_and_segments():
    null = np.ones(64, dtype=bool)
    null[0:9] = False  # chunk 0: 9/16 non-null -> kept
    null[16:23] = False  # chunk 1: 7/16 -> dropped
    null[32:64] = False  # chunks 2, 3 -> kept
    keep = chunk_keep(null, 16, 0.5)
    np.testing.assert_array_equal(keep, [True, False, True, True])
    assert kept_segments(keep, 16, 64, 16) == [(0, 16), (32, 64)]
    assert kept_segments(keep, 16, 64, 17) == [(32, 64)]


def test_density_threshold_drops_idle_video():
    idle = null_action(200)
    idle[:10, INDEX["east"]] = 1
    busy = idle.copy()
    busy[::2, INDEX["west"]] = 1
    cfg = RefineConfig(min_density=0.1)
    assert not refine(idle, cfg).kept
    assert refine(busy, cfg).kept
    assert refine(idle, cfg).density == pytest.approx(0.05)


def test_refine_turns_unreadable_frames_into_valid_null_actions():
    raw = null_action(32)
    raw[:, INDEX["south"]] = 0.9
    raw[3] = np.nan
    out = refine(raw, RefineConfig(horizon=8))
    assert out.null[3] and not out.null[2]
    np.testing.assert_array_equal(out.actions[3], 0)
    assert set(np.unique(out.actions[:, :17])) <= {0.0, 1.0}


def test_smooth_removes_single_frame_flicker_keeps_edges():
    x = np.zeros((20, 2), dtype=np.float32)
    x[5:12, 0] = 1.0  # a real press
    x[15, 0] = 1.0  # a one-frame flicker
    x[8, 0] = 0.0  # a one-frame drop inside the press
    x[3, 1] = np.nan
    y = smooth(x, 3)
    expected = np.zeros(20)
    expected[5:12] = 1.0
    np.testing.assert_array_equal(y[:, 0], expected)
    assert np.isfinite(y[:, 1]).all()


def test_smooth_rejects_even_window():
    with pytest.raises(SmoothingError):
        smooth(np.zeros((4, 1)), 2)


def test_refine_without_scaling_only_centres():
    true, raw = _stick_video()
    out = refine(raw, RefineConfig(scale_sticks=False))
    np.testing.assert_allclose(out.scale, 1.0)
    x = out.actions[:, INDEX["left_x"]]
    np.testing.assert_allclose(x, np.clip(0.6 * true[:, INDEX["left_x"]], -1, 1), atol=0.02)


def test_rest_position_ignores_a_stick_held_far_from_centre():
    xy = np.zeros((100, 2), np.float32)
    xy[:70] = [-0.7, -0.65]  # held up-left for most of a short clip
    xy[70:] = [0.03, -0.02]
    np.testing.assert_allclose(rest_position(xy, 0.08, max_offset=0.25), [0.03, -0.02], atol=1e-6)
    np.testing.assert_allclose(rest_position(xy, 0.08), [-0.7, -0.65], atol=1e-6)


def _rest_cloud(rest, n: int = 600, seed: int = 0) -> np.ndarray:
    """``(n, 2)`` reads: 40 % at ``rest`` (jitter 0.005), 30 % gliding near it, 30 % pushed anywhere."""
    rng = np.random.default_rng(seed)
    k, g = int(0.4 * n), int(0.3 * n)
    at_rest = np.asarray(rest) + rng.normal(0, 0.005, (k, 2))
    gliding = np.asarray(rest) + rng.uniform(0, 0.2, (g, 2))  # on one side: pulls a plain mean off
    reads = np.concatenate([at_rest, gliding, rng.uniform(-1, 1, (n - k - g, 2))]).astype(np.float32)
    return reads[rng.permutation(n)]  # in time order the stick comes and goes


def test_rest_position_is_the_mode_not_the_mean_of_its_neighbourhood():
    centre = rest_position(_rest_cloud((0.0, 0.0)), 0.08, 0.25)
    assert np.abs(centre).max() < 0.01, centre  # the 3x3-cell mean alone lands ~0.04 off


def test_calibrated_rest_removes_only_what_misregistration_explains():
    reads = _rest_cloud((0.2, -0.15))
    np.testing.assert_allclose(calibrated_rest(reads, np.array([0.3, 0.3])), [0.2, -0.15], atol=0.01)
    assert not calibrated_rest(reads, np.array([0.3, 0.1])).any()  # y offset beyond its limit
    # The densest cluster is a stick held off-centre: no second-best cluster is taken instead.
    held = np.concatenate([_rest_cloud((0.4, 0.0)), _rest_cloud((0.0, 0.0))[:150]])
    assert not calibrated_rest(held, np.array([0.3, 0.3])).any()
    # A stick held in one place through most of a clip, never coming back there: a hold, not rest.
    once = np.concatenate([np.full((60, 2), 0.1), np.random.default_rng(2).uniform(-1, 1, (40, 2))])
    assert not calibrated_rest(once.astype(np.float32), np.array([0.3, 0.3])).any()
    # A stick that never rests: no cluster holds 5 % of the frames.
    moving = np.random.default_rng(1).uniform(-1, 1, (600, 2)).astype(np.float32)
    assert not calibrated_rest(moving, np.array([0.5, 0.5])).any()
