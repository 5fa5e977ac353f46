"""A policy that reads the previous frame too (``previous_frame_gap``): what one frame cannot tell.

The case: SuperTux's demonstrator holds jump for 14 frames; a policy re-planning from one frame in
mid-air cannot tell a rising Tux (keep holding) from a falling one (let go), so it let go early and
fell short of the ledge.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from policy_factories import micro_config, seeded_policy

from pixelpad.actions import INDEX
from pixelpad.policy import PolicyConfigError, PolicyInputError

SOUTH = INDEX["south"]


def motion_task(n: int, seed: int, size: int = 32, sprite: int = 6, step: int = 4):
    """A sprite anywhere on a dark frame, and the frame before it with the sprite ``step`` px lower
    (rising) or higher (falling): the current frame alone says nothing about which.

    Returns uint8 frames, previous frames (n, size, size, 3) and whether each sprite rises (n,).
    """
    rng = np.random.default_rng(seed)
    frames = np.full((n, size, size, 3), 18, np.uint8)
    previous = frames.copy()
    rising = rng.integers(0, 2, n).astype(bool)
    for i in range(n):
        y = rng.integers(step, size - sprite - step)
        x = rng.integers(0, size - sprite)
        before = y + step if rising[i] else y - step
        frames[i, y : y + sprite, x : x + sprite] = (220, 220, 90)
        previous[i, before : before + sprite, x : x + sprite] = (220, 220, 90)
    return torch.from_numpy(frames), torch.from_numpy(previous), torch.from_numpy(rising)


def test_the_motion_channels_are_the_frame_difference_scaled_like_the_frame() -> None:
    frames, previous, _ = motion_task(3, seed=0)
    pair = seeded_policy(micro_config(previous_frame_gap=3))
    single = seeded_policy(micro_config())
    pixels = pair.pixels(frames, previous)
    assert pixels.shape == (3, 6, 32, 32)
    assert torch.equal(pixels[:, :3], single.pixels(frames))  # the frame's own channels are unchanged
    assert (pixels[:, 3:].abs().amax(dim=(1, 2, 3)) > 1.0).all()  # a moved sprite is a large motion
    assert torch.equal(pair.pixels(frames, frames)[:, 3:], torch.zeros(3, 3, 32, 32))
    assert torch.equal(pair.pixels(frames)[:, 3:], torch.zeros(3, 3, 32, 32))  # no previous: no motion


def test_bad_previous_frames_are_refused() -> None:
    frames, previous, _ = motion_task(2, seed=0)
    with pytest.raises(PolicyInputError, match="reads one frame"):
        seeded_policy(micro_config()).predict(frames, previous=previous)
    with pytest.raises(PolicyInputError, match="shape"):
        seeded_policy(micro_config(previous_frame_gap=3)).predict(frames, previous=previous[:1])
    with pytest.raises(PolicyConfigError, match="previous_frame_gap"):
        micro_config(previous_frame_gap=-1)


def test_a_few_dozen_training_steps_learn_what_only_the_previous_frame_tells() -> None:
    """Hold jump while the sprite rises, release it while it falls: 60 steps with the previous frame
    get > 90 % of steps right on new frames; the same steps on the current frame alone stay at the
    image-blind rate (~50 %)."""
    frames, previous, rising = motion_task(512, seed=1)
    horizon = micro_config().horizon
    actions = torch.zeros(len(frames), horizon, 21)
    actions[rising, :, SOUTH] = 1.0
    test_frames, test_previous, test_rising = motion_task(128, seed=2)
    blind = max(test_rising.float().mean().item(), 1 - test_rising.float().mean().item())
    scores = {}
    for gap in (3, 0):
        policy = seeded_policy(micro_config(previous_frame_gap=gap)).train()
        optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-2)
        draw = torch.Generator().manual_seed(0)
        for _ in range(60):
            idx = torch.randint(0, len(frames), (32,), generator=draw)
            batch = {
                "frames": frames[idx],
                "actions": actions[idx],
                "action_mask": torch.ones(32, horizon, dtype=bool),
            }
            if gap:
                batch["previous"] = previous[idx]
            optimizer.zero_grad()
            policy.loss(batch).backward()
            optimizer.step()
        pred = policy.predict(test_frames, seed=0, previous=test_previous if gap else None)
        scores[gap] = float(((pred[..., SOUTH] > 0.5) == test_rising.numpy()[:, None]).mean())
    assert blind < 0.6 and scores[3] > 0.9 and scores[0] < 0.7, (scores, blind)
