"""Augmentation: identity is exact, colour ops match per-pixel formulas, seeds decide everything."""

import math

import pytest
import torch

from pixelpad.train.augment import AugmentConfig, augment


def frames(batch=3, h=24, w=32):
    return torch.randint(
        0, 256, (batch, h, w, 3), generator=torch.Generator().manual_seed(1), dtype=torch.uint8
    )


def test_identity_params_leave_frames_unchanged():
    f = frames()
    assert torch.equal(augment(f, AugmentConfig().identity_params(len(f))), f)


def test_brightness_and_saturation_match_reference_formulas():
    f = frames(batch=1)
    params = AugmentConfig().identity_params(1)
    params[0, 0] = 0.5  # brightness
    out = augment(f, params)
    torch.testing.assert_close(out.float(), (f.float() * 0.5).round(), atol=1, rtol=0)
    params = AugmentConfig().identity_params(1)
    params[0, 2] = 0.0  # saturation 0 → grey
    grey = (f.float() @ torch.tensor([0.299, 0.587, 0.114]))[..., None].expand_as(f.float())
    torch.testing.assert_close(augment(f, params).float(), grey.round().clamp(0, 255), atol=1, rtol=0)


def test_hue_rotation_keeps_greys_and_a_full_turn_is_identity():
    grey = torch.full((1, 8, 8, 3), 100, dtype=torch.uint8)
    params = AugmentConfig().identity_params(1)
    params[0, 3] = 1.0
    assert torch.equal(augment(grey, params), grey)
    f = frames(batch=1)
    params[0, 3] = 2 * math.pi
    assert (augment(f, params).int() - f.int()).abs().max() <= 1


def test_params_are_a_function_of_the_seed_and_within_bounds():
    cfg = AugmentConfig()
    a = cfg.sample_params([7, 8, 9])
    assert torch.equal(a, cfg.sample_params([7, 8, 9]))
    assert torch.equal(a[1], cfg.sample_params([8])[0])  # independent of batch position
    many = cfg.sample_params(range(500))
    assert many[:, 0].min() >= 0.8 and many[:, 0].max() <= 1.2
    assert many[:, 4].abs().max() <= math.radians(5.0) + 1e-6
    area = many[:, 5] ** 2
    assert area.min() >= 0.9 - 1e-6 and area.max() <= 1.0 and area.mean() == pytest.approx(0.95, abs=0.01)


def test_augmented_batch_equals_per_sample_augmentation():
    cfg = AugmentConfig()
    f = frames(batch=4)
    params = cfg.sample_params([1, 2, 3, 4])
    whole = augment(f, params)
    for i in range(4):
        assert torch.equal(whole[i : i + 1], augment(f[i : i + 1], params[i : i + 1]))
    assert whole.dtype == torch.uint8 and not torch.equal(whole, f)


def test_rejects_float_frames():
    with pytest.raises(ValueError):
        augment(torch.zeros(1, 4, 4, 3), AugmentConfig().identity_params(1))
