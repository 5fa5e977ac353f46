"""Presets, validation and parameter counts (meta-device builds: no memory, no time)."""

from __future__ import annotations

import pytest
import torch

from pixelpad.actions import ACTION_DIM, CHECKPOINT_ACTION_DIM, CHECKPOINT_HORIZON, DEFAULT_HORIZON
from pixelpad.policy import PRESETS, Policy, PolicyConfig, PolicyConfigError, get_preset


def _count(config: PolicyConfig) -> int:
    with torch.device("meta"):
        return Policy(config).num_parameters()


def test_released_shapes_have_about_493_6m_parameters() -> None:
    cfg = get_preset("nitrogen_500m")
    assert (cfg.action_dim, cfg.horizon, cfg.hidden_size) == (CHECKPOINT_ACTION_DIM, CHECKPOINT_HORIZON, 1024)
    assert (cfg.num_image_tokens, cfg.num_context_tokens) == (256, 300)
    assert abs(_count(cfg) - 493.6e6) < 0.1e6


def test_tiny_is_small_and_speaks_pixelpad_actions() -> None:
    cfg = get_preset("tiny")
    assert (cfg.action_dim, cfg.horizon, cfg.action_layout) == (ACTION_DIM, DEFAULT_HORIZON, "pixelpad")
    assert _count(cfg) < 2_000_000
    assert _count(get_preset("tiny")) < _count(get_preset("base")) < _count(get_preset("nitrogen_500m"))


def test_tiny_motion_is_tiny_reading_the_frame_before_too() -> None:
    """Only the motion presets read two frames: the released shapes (ng.pt) and tiny load as before."""
    tiny, motion = get_preset("tiny"), get_preset("tiny_motion")
    assert motion == tiny.replace(previous_frame_gap=3)
    assert _count(motion) - _count(tiny) == 3 * 8 * 8 * 128  # 3 more input channels of the 8x8 patches
    assert [name for name, cfg in PRESETS.items() if cfg.previous_frame_gap] == [
        "tiny_motion",
        "tiny_motion_conv",
    ]


def test_tiny_motion_conv_is_tiny_motion_with_the_conv_stem() -> None:
    motion, conv = get_preset("tiny_motion"), get_preset("tiny_motion_conv")
    assert conv == motion.replace(vision_stem="conv")
    # 6 -> 32 -> 64 -> 128 channels in 3x3 kernels replace one 8x8 patch kernel of 6 -> 128
    stem = (6 * 9 + 1) * 32 + (32 * 9 + 1) * 64 + (64 * 9 + 1) * 128
    assert _count(conv) - _count(motion) == stem - (6 * 8 * 8 + 1) * 128
    assert [name for name, cfg in PRESETS.items() if cfg.vision_stem == "conv"] == ["tiny_motion_conv"]


def test_dict_round_trip_and_unknown_fields() -> None:
    for cfg in PRESETS.values():
        assert PolicyConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(PolicyConfigError, match="unknown policy config"):
        PolicyConfig.from_dict({"image_sise": 64})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image_size": 60}, "multiple of patch_size"),
        ({"mixer_head_dim": 16}, "mixer width"),
        ({"action_dim": 25}, "action_layout"),
        ({"context_length": 10}, "shorter than"),
        ({"horizon": 0}, "horizon must be positive"),
    ],
)
def test_inconsistent_configs_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        get_preset("tiny").replace(**changes)


def test_unknown_preset() -> None:
    with pytest.raises(PolicyConfigError, match="known: tiny"):
        get_preset("huge")
