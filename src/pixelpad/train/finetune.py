"""Which policy a run starts from, what of it trains, and whether it fits the hardware.

* fresh: ``Policy(get_preset(preset))``;
* fine-tuning (``init_from``): the official ``ng.pt`` (a file), a saved policy directory
  (``config.json`` + ``model.safetensors``), or a pixelpad training checkpoint / run directory —
  whose EMA export (``policy/``) is loaded, since EMA weights are what a run hands on;
* resuming: the policy config stored in the checkpoint (weights are loaded by the loop).

Freezing takes parameter-name prefixes; ``vision`` is the SigLIP tower, ``mixer`` the VL mixer,
``dit`` the action transformer, ``action_encoder``/``action_decoder`` its input/output layers.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from pixelpad.train.checkpoint import resolve_checkpoint
from pixelpad.train.errors import CheckpointError, TrainError

log = logging.getLogger(__name__)

POLICY_EXPORT = "policy"  # the EMA policy inside each checkpoint, in save_pretrained layout


def initial_policy(preset: str, init_from: str | None) -> nn.Module:
    """A fresh policy of ``preset``, or the weights at ``init_from`` (see the module docstring)."""
    from pixelpad.policy import Policy, PolicyError, get_preset

    try:
        if init_from is None:
            return Policy(get_preset(preset))
        path = Path(init_from)
        if path.is_file():
            return Policy.from_nitrogen_checkpoint(path)
        if (path / "config.json").is_file() and (path / "model.safetensors").is_file():
            return Policy.from_pretrained(path)
        if path.is_dir():
            return Policy.from_pretrained(resolve_checkpoint(path) / POLICY_EXPORT)
    except PolicyError as err:
        raise TrainError(f"cannot start from {init_from or preset}: {err}") from err
    raise CheckpointError(
        f"--init-from {init_from}: not found; give the official ng.pt, a saved policy directory, or a "
        "pixelpad run/checkpoint directory"
    )


def freeze(policy: nn.Module, prefixes: tuple[str, ...]) -> int:
    """Turn off gradients of parameters whose name starts with any prefix; returns how many tensors.

    Raises:
        TrainError: a prefix matches no parameter (a typo would otherwise silently train everything).
    """
    names = [name for name, _ in policy.named_parameters()]
    for prefix in prefixes:
        if not any(n == prefix or n.startswith(prefix.rstrip(".") + ".") for n in names):
            tops = sorted({n.split(".")[0] for n in names})
            raise TrainError(f"--freeze {prefix!r} matches no parameter; top-level parts: {', '.join(tops)}")
    count = 0
    for name, param in policy.named_parameters():
        if any(name == p or name.startswith(p.rstrip(".") + ".") for p in prefixes):
            param.requires_grad_(False)
            count += 1
    if prefixes:
        trainable = sum(p.numel() for p in policy.parameters() if p.requires_grad)
        log.info("froze %d tensors (%s); %d parameters train", count, ", ".join(prefixes), trainable)
    if not any(p.requires_grad for p in policy.parameters()):
        raise TrainError("every parameter is frozen: nothing to train")
    return count


def training_bytes(policy: nn.Module, *, shards: int = 1) -> int:
    """Bytes for fp32 weights, plus grads, two AdamW moments and the EMA of trainable ones, per rank."""
    total = sum(p.numel() for p in policy.parameters())
    trainable = sum(p.numel() for p in policy.parameters() if p.requires_grad)
    return (4 * total + 16 * trainable) // shards


def check_fits(policy: nn.Module, device: torch.device, *, shards: int, preset: str) -> None:
    """Refuse a model whose weights and optimiser state alone exceed the device's memory.

    Activations come on top, so passing this check is necessary, not sufficient.
    """
    need = training_bytes(policy, shards=shards)
    if device.type == "cuda":
        have = torch.cuda.get_device_properties(device).total_memory
    else:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > 0.9 * have:
        raise TrainError(
            f"preset {preset!r} needs {need / 2**30:.1f} GiB per rank for weights, gradients, AdamW and EMA "
            f"alone, but {device} has {have / 2**30:.1f} GiB; use --strategy fsdp over more ranks, "
            "--freeze vision, or a smaller preset"
        )
