"""Validation on held-out episodes: flow loss, and the quality of chunks the policy samples.

* ``val/loss`` — the training objective (flow-matching MSE) with fixed noise;
* ``val/button_accuracy`` — share of (timestep, button) pairs of sampled chunks that match;
* ``val/button_f1`` — F1 of "pressed" over all buttons and timesteps (accuracy alone rewards a
  policy that never presses anything, since most buttons are up most of the time);
* ``val/stick_mse`` — mean squared error of the four stick axes.

Only valid timesteps (``action_mask``) count. Each rank scores its share of the samples; sums are
all-reduced. Samples are scored in fixed chunks of ``batch_size`` with one seed per chunk, dealt to
ranks round-robin, so the numbers do not depend on the number of ranks. Under FSDP2 every rank must
run the same number of forward passes: ranks past the last chunk score a zero-weight one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from pixelpad.actions import AXIS_SLICE, BUTTON_SLICE
from pixelpad.train.data import Collate
from pixelpad.train.distributed import Dist, all_reduce_sum
from pixelpad.train.sampling import derive_seed

# sums gathered per batch, in this order
_SUMS = ("loss", "loss_weight", "correct", "button_total", "tp", "fp", "fn", "stick_se", "stick_total")


def chunk_metrics(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Sums for the sampled-chunk metrics.

    Args:
        pred, target: (B, T, 21) pixelpad actions (pred already decoded: buttons 0/1).
        mask: (B, T) bool, valid timesteps.
    """
    valid = mask.astype(bool)
    pb, tb = pred[..., BUTTON_SLICE][valid] > 0.5, target[..., BUTTON_SLICE][valid] > 0.5
    diff = pred[..., AXIS_SLICE][valid] - target[..., AXIS_SLICE][valid]
    return {
        "correct": float((pb == tb).sum()),
        "button_total": float(pb.size),
        "tp": float((pb & tb).sum()),
        "fp": float((pb & ~tb).sum()),
        "fn": float((~pb & tb).sum()),
        "stick_se": float((diff**2).sum()),
        "stick_total": float(diff.size),
    }


def summarise(sums: dict[str, float]) -> dict[str, float]:
    """Sums → the reported metrics (NaN where a denominator is zero)."""

    def ratio(a: float, b: float) -> float:
        return a / b if b else math.nan

    precision_recall = 2 * sums["tp"] + sums["fp"] + sums["fn"]
    return {
        "val/loss": ratio(sums["loss"], sums["loss_weight"]),
        "val/button_accuracy": ratio(sums["correct"], sums["button_total"]),
        # no positives anywhere and none predicted: a perfect score
        "val/button_f1": ratio(2 * sums["tp"], precision_recall) if precision_recall else 1.0,
        "val/stick_mse": ratio(sums["stick_se"], sums["stick_total"]),
    }


@torch.no_grad()
def validate(
    policy: nn.Module,
    dataset: Dataset,
    d: Dist,
    *,
    batch_size: int,
    seed: int,
    num_steps: int | None,
    autocast: Callable[[], AbstractContextManager] | None = None,
) -> dict[str, float]:
    """Score ``policy`` (holding the weights to evaluate) on ``dataset``; the same result on every rank.

    ``autocast`` makes the context to run the model under (bf16 on GPU), or None for fp32.
    """
    n = len(dataset)
    chunks = math.ceil(n / batch_size)  # chunk c = samples [c·b, (c+1)·b): the same on any world size
    collate = Collate(None, seed)
    was_training = policy.training
    policy.eval()
    sums = dict.fromkeys(_SUMS, 0.0)
    context = autocast or nullcontext
    try:
        for k in range(math.ceil(chunks / d.world_size)):
            c = k * d.world_size + d.rank
            real = c < chunks  # ranks past the end run a zero-weight chunk to keep FSDP2 in step
            first = c * batch_size if real else 0
            batch = collate([dataset[i] for i in range(first, min(n, first + batch_size))])
            if not real:
                batch["action_mask"][:] = False
            torch.manual_seed(derive_seed(seed, 0x7A1, c))
            with context():
                loss = float(policy.loss(batch))
            valid = float(batch["action_mask"].sum())  # the loss is a mean over valid timesteps
            sums["loss"] += loss * valid
            sums["loss_weight"] += valid
            generator = torch.Generator(device=policy.device).manual_seed(derive_seed(seed, 0x5A3, c))
            with context():
                pred = policy.predict(
                    batch["frames"], num_steps=num_steps, generator=generator, previous=batch.get("previous")
                )
            if real:
                target, mask = batch["actions"].numpy(), batch["action_mask"].numpy()
                for key, value in chunk_metrics(pred, target, mask).items():
                    sums[key] += value
    finally:
        policy.train(was_training)
    total = all_reduce_sum(torch.tensor([sums[k] for k in _SUMS], dtype=torch.float64), d)
    return summarise(dict(zip(_SUMS, total.tolist(), strict=True)))
