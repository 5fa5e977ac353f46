"""Import of the released checkpoint format, pinned to a plain reference of the official sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from policy_official import (
    ACTION_DIM,
    CONTEXT,
    HEADS,
    HORIZON,
    IMAGE,
    reference_get_action,
    write_checkpoint,
)

from pixelpad import actions as A
from pixelpad.policy import CheckpointError, Policy
from pixelpad.policy.sampling import sample_reference


def _frames(batch: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, IMAGE, IMAGE, 3), dtype=torch.uint8, generator=gen)


def _pixels(frames: torch.Tensor) -> torch.Tensor:
    """SigLIP preprocessing of frames already at the model's size: [0, 255] → [-1, 1]."""
    return (frames.permute(0, 3, 1, 2).float() / 255.0 - 0.5) / 0.5


@pytest.mark.parametrize(("games", "sinusoidal"), [(0, True), (4, False)])
def test_loaded_checkpoint_reproduces_the_official_sampler(tmp_path, games: int, sinusoidal: bool) -> None:
    checkpoint = write_checkpoint(tmp_path / "ng.pt", games=games, sinusoidal=sinusoidal)
    policy = Policy.from_nitrogen_checkpoint(tmp_path / "ng.pt", vision_heads=HEADS)
    cfg = policy.config
    assert (cfg.action_dim, cfg.horizon, cfg.num_games) == (ACTION_DIM, HORIZON, games)
    assert cfg.context_length == CONTEXT
    assert (cfg.mixer_sinusoidal, cfg.dit_sinusoidal, cfg.vision_use_head) == (sinusoidal, sinusoidal, True)
    frames = _frames(2)
    noise = torch.randn(2, HORIZON, ACTION_DIM, generator=torch.Generator().manual_seed(5))
    game_id = games - 1 if games else 0
    game_ids = torch.full((2,), game_id) if games else None
    for steps in (4, 16):
        expected = reference_get_action(checkpoint, _pixels(frames), noise, steps, game_id=game_id)
        fast = policy.sample(frames, noise=noise, num_steps=steps, game_ids=game_ids)
        torch.testing.assert_close(fast, expected, atol=1e-5, rtol=0)
        tokens = policy.image_tokens(policy.pixels(frames))
        slow = sample_reference(policy, tokens, noise, steps, game_ids=game_ids)
        torch.testing.assert_close(slow, expected, atol=1e-5, rtol=0)
    if games:  # the game token changes the prediction
        other = policy.sample(frames, noise=noise, game_ids=torch.zeros(2, dtype=torch.long))
        assert (other - fast).abs().max() > 1e-4


def test_predict_decodes_the_checkpoint_layout(tmp_path) -> None:
    write_checkpoint(tmp_path / "ng.pt")
    policy = Policy.from_nitrogen_checkpoint(tmp_path / "ng.pt", vision_heads=HEADS)
    frame = _frames(1)[0].numpy()
    raw = policy.sample(frame, generator=torch.Generator().manual_seed(0))
    out = policy.predict(frame, seed=0)
    assert out.shape == (1, HORIZON, A.ACTION_DIM)
    np.testing.assert_array_equal(out, A.from_checkpoint_layout(raw.numpy()))


def test_converted_checkpoint_round_trips(tmp_path) -> None:
    write_checkpoint(tmp_path / "ng.pt", games=3)
    policy = Policy.from_nitrogen_checkpoint(tmp_path / "ng.pt", vision_heads=HEADS)
    policy.save_pretrained(tmp_path / "ours")
    loaded = Policy.from_pretrained(tmp_path / "ours")
    noise = torch.randn(1, HORIZON, ACTION_DIM)
    frames = _frames(1)
    assert torch.equal(policy.sample(frames, noise=noise), loaded.sample(frames, noise=noise))


def _rewrite(tmp_path, change) -> object:
    checkpoint = write_checkpoint(tmp_path / "ng.pt")
    change(checkpoint)
    torch.save(checkpoint, tmp_path / "bad.pt")
    return tmp_path / "bad.pt"


def test_bad_checkpoints_are_refused(tmp_path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a loadable torch checkpoint"):
        Policy.from_nitrogen_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        Policy.from_nitrogen_checkpoint(tmp_path / "missing.pt")


class _Payload:
    """An arbitrary object: a weights-only load must refuse to build it."""


def test_pickled_objects_are_not_executed(tmp_path) -> None:
    torch.save({"model": {}, "ckpt_config": _Payload()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="not a loadable torch checkpoint"):
        Policy.from_nitrogen_checkpoint(tmp_path / "evil.pt")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("ckpt_config"), "key 'ckpt_config' is missing"),
        (lambda c: c["model"].pop("model.proj_out_2.weight"), r"missing weight 'model\.proj_out_2\.weight'"),
        (
            lambda c: c["model"].__setitem__("action_encoder.W2.W", torch.zeros(1, 10, 32)),
            r"'action_encoder\.W2\.W' has shape",
        ),
        (
            lambda c: c["model"].__setitem__("model.transformer_blocks.9.norm1.linear.bias", torch.zeros(64)),
            r"unexpected weight 'model\.transformer_blocks\.9",
        ),
        (
            lambda c: c["ckpt_config"]["model_cfg"]["diffusion_model_cfg"].update(activation_fn="geglu"),
            "activation_fn=geglu",
        ),
        (lambda c: c["ckpt_config"]["modality_cfg"].__setitem__("frame_per_sample", 2), "single-frame"),
        (
            lambda c: c["ckpt_config"]["tokenizer_cfg"].__setitem__("max_sequence_length", 8),
            "shorter than",
        ),
    ],
)
def test_mismatched_checkpoints_name_the_problem(tmp_path, change, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Policy.from_nitrogen_checkpoint(_rewrite(tmp_path, change))


def test_imported_model_trains_on_pixelpad_actions(tmp_path) -> None:
    write_checkpoint(tmp_path / "ng.pt", games=2)
    policy = Policy.from_nitrogen_checkpoint(tmp_path / "ng.pt", vision_heads=HEADS).train()
    batch = {
        "frames": _frames(2),
        "actions": torch.from_numpy(A.null_action(HORIZON)).expand(2, HORIZON, A.ACTION_DIM),
        "action_mask": torch.ones(2, HORIZON, dtype=torch.bool),
    }
    policy.loss(batch).backward()
    assert not any(p.requires_grad for p in policy.vision.head.parameters())  # unused: frozen
    unused = [n for n, p in policy.named_parameters() if p.requires_grad and p.grad is None]
    assert unused == []  # what DDP needs: every trainable weight reaches the loss
