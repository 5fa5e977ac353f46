"""Exponential moving average of the trainable weights (used for validation and export).

``shadow ← decay · shadow + (1 − decay) · weight`` after every optimiser step. With ``warmup`` the
decay used at update ``t`` (0-based) is ``min(decay, (1 + t) / (10 + t))``: early on the average
follows the weights closely instead of staying anchored at the random initialisation for ~10,000
steps, which matters for short fine-tuning runs and is what most diffusion trainers do.

The shadow tensors have the same type and placement as the parameters: under FSDP2 they are
DTensors holding only this rank's shard, so the EMA costs one extra shard of memory per rank and
updating it needs no communication.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from pixelpad.train.errors import CheckpointError


class EMA:
    """EMA of ``module``'s trainable parameters, keyed by parameter name.

    Example:
        >>> m = nn.Linear(1, 1, bias=False); _ = m.weight.data.fill_(0.0)
        >>> ema = EMA(m, decay=0.5, warmup=False)
        >>> _ = m.weight.data.fill_(1.0); ema.update(0)
        >>> float(ema.shadow["weight"])
        0.5
    """

    def __init__(self, module: nn.Module, decay: float = 0.9999, *, warmup: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self._params = {name: p for name, p in module.named_parameters() if p.requires_grad}
        with torch.no_grad():
            self.shadow: dict[str, torch.Tensor] = {n: p.detach().clone() for n, p in self._params.items()}

    def decay_at(self, step: int) -> float:
        """Decay applied by the update made after optimiser step ``step`` (0-based)."""
        if self.warmup:
            return min(self.decay, (1.0 + step) / (10.0 + step))
        return self.decay

    @torch.no_grad()
    def update(self, step: int) -> None:
        weight = 1.0 - self.decay_at(step)
        for name, param in self._params.items():
            self.shadow[name].lerp_(param.detach(), weight)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = sorted(set(self.shadow) - set(state))
        if missing:
            raise CheckpointError(f"EMA state lacks {len(missing)} parameters, e.g. {missing[:3]}")
        for name, tensor in self.shadow.items():
            tensor.copy_(state[name])

    @contextmanager
    def swapped(self) -> Iterator[None]:
        """Put the EMA weights into the module for the duration of the block, then restore."""
        with torch.no_grad():
            backup = {n: p.detach().clone() for n, p in self._params.items()}
            for name, param in self._params.items():
                param.copy_(self.shadow[name])
        try:
            yield
        finally:
            with torch.no_grad():
                for name, param in self._params.items():
                    param.copy_(backup[name])
