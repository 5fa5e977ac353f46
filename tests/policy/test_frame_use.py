"""The small from-scratch policy must read the frame, not only learn the actions' prior.

The case that failed: Chromium's frames are dark, and with SigLIP's (x - 0.5) / 0.5 every token of a
fresh encoder was dominated by the same constant, so frames differed by ~1% of the pooled context
and the trained ``tiny`` policy's output did not depend on the frame at all.
"""

from __future__ import annotations

import numpy as np
import torch
from policy_factories import micro_config, seeded_policy

from pixelpad.actions import INDEX
from pixelpad.policy import Policy, get_preset
from pixelpad.policy.layout import to_model_layout

LEFT, RIGHT = INDEX["dpad_left"], INDEX["dpad_right"]


def sprite_task(n: int, seed: int, size: int = 32, horizon: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Dark frames with one small sprite; the chunk holds dpad_left or dpad_right by the sprite's side."""
    rng = np.random.default_rng(seed)
    frames = np.full((n, size, size, 3), 18, np.uint8)
    right = rng.integers(0, 2, n).astype(bool)
    for i in range(n):
        x = rng.integers(size // 2 + 2, size - 3) if right[i] else rng.integers(0, size // 2 - 5)
        y = rng.integers(0, size - 3)
        frames[i, y : y + 3, x : x + 3] = (200, 60, 60)
    actions = np.zeros((n, horizon, 21), np.float32)
    actions[right, :, RIGHT] = 1.0
    actions[~right, :, LEFT] = 1.0
    return torch.from_numpy(frames), torch.from_numpy(actions)


def pooled_spread(policy: Policy, frames: torch.Tensor) -> float:
    """Std across frames of the mean-pooled context, relative to its size."""
    with torch.no_grad():
        pooled = policy.encode(frames).mean(dim=1)
    return float(pooled.std(dim=0).mean() / pooled.abs().mean())


def test_frame_standardisation_lets_a_fresh_encoder_tell_dark_frames_apart() -> None:
    frames, _ = sprite_task(16, seed=0, size=64)
    fixed = pooled_spread(seeded_policy(get_preset("tiny")), frames)
    old = pooled_spread(seeded_policy(get_preset("tiny").replace(pixel_norm="siglip")), frames)
    assert old < 0.05 and fixed > 5 * old


def test_action_prediction_trains_the_head_towards_the_clean_chunk(monkeypatch) -> None:
    frames, actions = sprite_task(4, seed=1, size=32, horizon=6)
    batch = {"frames": frames, "actions": actions[:, :6], "action_mask": torch.ones(4, 6, dtype=torch.bool)}
    for prediction, perfect in (("action", True), ("velocity", False)):
        policy = seeded_policy(micro_config(prediction=prediction))
        monkeypatch.setattr(policy, "head", lambda x, b, c: to_model_layout(batch["actions"], "pixelpad"))
        assert (policy.loss(batch).item() == 0.0) is perfect
