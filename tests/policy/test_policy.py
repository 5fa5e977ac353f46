"""The Policy object: layouts, loss, training, sampling, predict, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from policy_factories import micro_config, seeded_policy

from pixelpad import actions as A
from pixelpad.policy import CheckpointError, Policy, PolicyInputError, get_preset
from pixelpad.policy.layout import decode, to_model_layout
from pixelpad.policy.sampling import sample_reference


def _random_actions(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros((*shape, A.ACTION_DIM), np.float32)
    out[..., A.BUTTON_SLICE] = rng.integers(0, 2, (*shape, A.NUM_BUTTONS))
    out[..., A.AXIS_SLICE] = rng.uniform(-1, 1, (*shape, 4))
    return out


def test_checkpoint_layout_in_torch_matches_actions_module() -> None:
    acts = _random_actions((5, 7))
    ours = to_model_layout(torch.from_numpy(acts), "checkpoint").numpy()
    np.testing.assert_allclose(ours, A.to_checkpoint_layout(acts), atol=1e-7)
    np.testing.assert_allclose(decode(ours, "checkpoint"), A.from_checkpoint_layout(ours))


def test_pixelpad_layout_is_centred_and_decodes_back() -> None:
    acts = _random_actions((4, 3))
    model = to_model_layout(torch.from_numpy(acts), "pixelpad")
    assert set(np.unique(model[..., A.BUTTON_SLICE].numpy())) <= {-1.0, 1.0}
    np.testing.assert_allclose(decode(model, "pixelpad"), acts, atol=1e-6)


def test_tiny_loss_decreases_on_a_small_batch() -> None:
    torch.manual_seed(0)
    policy = Policy(get_preset("tiny").replace(image_size=32)).train()
    frames = torch.randint(0, 256, (4, 48, 40, 3), dtype=torch.uint8)
    step = torch.from_numpy(_random_actions(()))  # one action held for the whole chunk
    batch = {
        "frames": frames,
        "actions": step.expand(4, 16, 21),
        "action_mask": torch.ones(4, 16, dtype=bool),
    }
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = policy.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_loss_is_the_mean_over_unmasked_steps(micro_policy: Policy) -> None:
    frames = torch.zeros(2, 32, 32, 3, dtype=torch.uint8)
    acts = torch.from_numpy(_random_actions((2, 6)))
    first = torch.zeros(2, 6, dtype=torch.bool)
    first[:, :2] = True

    def loss(mask: torch.Tensor) -> float:
        torch.manual_seed(1)  # same noise and times each call
        return micro_policy.loss({"frames": frames, "actions": acts, "action_mask": mask}).item()

    whole = loss(torch.ones(2, 6, dtype=torch.bool))
    assert (2 * loss(first) + 4 * loss(~first)) / 6 == pytest.approx(whole, rel=1e-5)
    assert loss(torch.zeros(2, 6, dtype=torch.bool)) == 0.0


def test_loss_refuses_wrong_horizon(micro_policy: Policy) -> None:
    batch = {
        "frames": torch.zeros(1, 32, 32, 3, dtype=torch.uint8),
        "actions": torch.zeros(1, 16, 21),
        "action_mask": torch.ones(1, 16, dtype=torch.bool),
    }
    with pytest.raises(PolicyInputError, match="actions must be"):
        micro_policy.loss(batch)


def test_predict_shapes_values_and_seed(micro_policy: Policy) -> None:
    frame = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    one = micro_policy.predict(frame, seed=3)
    assert one.shape == (1, 6, A.ACTION_DIM) and one.dtype == np.float32
    A.validate(one)
    np.testing.assert_array_equal(one, micro_policy.predict(frame, seed=3))
    batch = micro_policy.predict(np.stack([frame, frame[::-1]]), num_steps=4, seed=0)
    assert batch.shape == (2, 6, A.ACTION_DIM)
    with pytest.raises(PolicyInputError, match="uint8"):
        micro_policy.predict(frame.astype(np.float32))
    with pytest.raises(PolicyInputError, match="shape"):
        micro_policy.predict(frame[..., :2])


@pytest.mark.parametrize(
    "changes",
    [{}, {"context_length": 20, "num_games": 3, "dit_sinusoidal": True}, {"image_condition": True}],
)
def test_fast_sampler_matches_reference(changes: dict) -> None:
    policy = seeded_policy(micro_config(**changes))
    frames = torch.randint(
        0, 256, (3, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    noise = torch.randn(3, 6, 21, generator=torch.Generator().manual_seed(1))
    for steps in (1, 4, 16):
        fast = policy.sample(frames, noise=noise, num_steps=steps)
        ref = sample_reference(policy, policy.image_tokens(policy.pixels(frames)), noise, steps)
        torch.testing.assert_close(fast, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("changes", [{}, {"vision_stem": "conv", "previous_frame_gap": 3}])
def test_save_load_round_trip_is_bit_exact(tmp_path, changes: dict) -> None:
    policy = seeded_policy(micro_config(**changes))
    policy.save_pretrained(tmp_path / "p")
    loaded = Policy.from_pretrained(tmp_path / "p").eval()
    assert loaded.config == policy.config
    for (name, a), (_, b) in zip(policy.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    frames = torch.randint(
        0, 256, (2, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    noise = torch.randn(2, 6, 21)
    assert torch.equal(policy.sample(frames, noise=noise), loaded.sample(frames, noise=noise))


def test_bad_saved_policies_are_refused(tmp_path, micro_policy: Policy) -> None:
    with pytest.raises(CheckpointError, match=r"config\.json is missing"):
        Policy.from_pretrained(tmp_path)
    micro_policy.save_pretrained(tmp_path / "p")
    other = seeded_policy(micro_config(dit_layers=3))
    other.save_pretrained(tmp_path / "q")
    (tmp_path / "q" / "config.json").write_text((tmp_path / "p" / "config.json").read_text())
    with pytest.raises(CheckpointError, match=r"unexpected weight 'dit\.transformer_blocks\.2"):
        Policy.from_pretrained(tmp_path / "q")


def test_preprocessing_resizes_like_pil() -> None:
    from PIL import Image

    from pixelpad.policy.vision import preprocess

    frame = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    ours = preprocess(torch.from_numpy(frame)[None], 32)[0].permute(1, 2, 0).numpy()
    pil = np.asarray(Image.fromarray(frame).resize((32, 32), Image.BICUBIC), np.float32) / 127.5 - 1.0
    assert np.abs(ours - pil).max() <= 1.01 / 127.5  # within one grey level
    same = preprocess(torch.from_numpy(frame[:32, :32])[None], 32)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(same, frame[:32, :32] / 127.5 - 1.0, atol=1e-6)  # no resize: exact
