"""The conv stem (``vision_stem="conv"``): tokens from overlapping 3x3 windows instead of lone patches."""

from __future__ import annotations

import pytest
import torch
from policy_factories import micro_config, seeded_policy

from pixelpad.policy import CheckpointError, Policy, PolicyConfigError


def _embed(policy: Policy, pixels: torch.Tensor) -> torch.Tensor:
    """The stem's tokens (B, tokens, width) before the encoder's attention mixes them."""
    with torch.no_grad():
        return policy.vision.embeddings(pixels)


@pytest.mark.parametrize("stem", ["patch", "conv"])
def test_a_pixel_on_a_patch_border_reaches_the_tokens_on_both_sides(stem: str) -> None:
    """A patch stem puts a pixel in exactly one token; the conv stem's windows overlap the border, so
    a sprite near the border reaches its neighbour token too (save and load: test_policy.py)."""
    policy = seeded_policy(micro_config(vision_stem=stem))
    pixels = torch.zeros(1, 3, 32, 32)
    moved = pixels.clone()
    moved[0, :, 12, 7] = 1.0  # in token (1, 0), one pixel left of token (1, 1) (8-px patches)
    difference = (_embed(policy, moved) - _embed(policy, pixels)).abs().amax(dim=-1)[0]
    assert difference.shape == (16,)  # the same 4x4 grid of tokens whichever the stem
    changed = {divmod(int(i), 4) for i in torch.nonzero(difference > 1e-6)}
    assert (1, 0) in changed
    assert ((1, 1) in changed) == (stem == "conv")
    assert len(changed) == (1 if stem == "patch" else 4)  # conv: 15-px windows every 8 px, 2 rows x 2 columns


def test_conv_stems_are_refused_where_they_cannot_work(tmp_path) -> None:
    with pytest.raises(PolicyConfigError, match="vision_stem must be"):
        micro_config(vision_stem="resnet")
    with pytest.raises(PolicyConfigError, match="power of 2"):
        micro_config(vision_stem="conv", image_size=36, patch_size=6)
    with pytest.raises(CheckpointError, match="conv stem trains from scratch"):  # refused before reading
        Policy(micro_config(vision_stem="conv"), vision_weights=tmp_path)
