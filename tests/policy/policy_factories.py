"""Factories of the policy tests: micro configs (faster than ``tiny``) and seeded policies."""

from __future__ import annotations

import torch

from pixelpad.policy import Policy, PolicyConfig, get_preset


def micro_config(**changes: object) -> PolicyConfig:
    """A few-thousand-parameter config: 32×32 frames in 8×8 patches, widths 32."""
    base = get_preset("tiny").replace(
        image_size=32,
        vision_width=32,
        vision_layers=1,
        vision_heads=2,
        vision_mlp=64,
        mixer_heads=2,
        mixer_head_dim=16,
        dit_layers=2,
        dit_heads=2,
        dit_head_dim=16,
        horizon=6,
        learned_positions=8,
    )
    return base.replace(**changes)


def seeded_policy(config: PolicyConfig, seed: int = 0) -> Policy:
    torch.manual_seed(seed)
    return Policy(config).eval()
