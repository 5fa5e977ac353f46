"""EMA arithmetic against a plain loop, warmup of the decay, swapping weights in and out."""

import pytest
import torch
from torch import nn

from pixelpad.train.ema import EMA


def test_ema_matches_reference_recursion():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    ema = EMA(model, decay=0.9, warmup=False)
    reference = {n: p.detach().clone() for n, p in model.named_parameters()}
    for step in range(5):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        ema.update(step)
        for n, p in model.named_parameters():
            reference[n] = 0.9 * reference[n] + 0.1 * p.detach()
    for n, value in reference.items():
        torch.testing.assert_close(ema.shadow[n], value)


def test_warmup_decay_and_frozen_params_skipped():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[0].weight.requires_grad_(False)
    ema = EMA(model, decay=0.9999, warmup=True)
    assert "0.weight" not in ema.shadow and "1.weight" in ema.shadow
    assert ema.decay_at(0) == pytest.approx(1 / 10)
    assert ema.decay_at(90) == pytest.approx(91 / 100)
    assert ema.decay_at(10**6) == 0.9999


def test_swapped_restores_training_weights():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.5, warmup=False)
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema.update(0)  # shadow = 1.0
    with ema.swapped():
        assert torch.all(model.weight == 1.0)
    assert torch.all(model.weight == 2.0)
    state = ema.state_dict()
    other = EMA(model, decay=0.5, warmup=False)
    other.load_state_dict(state)
    assert torch.all(other.shadow["weight"] == 1.0)
