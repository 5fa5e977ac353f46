"""Warmup-stable-decay learning-rate schedule.

NitroGen's recipe: a linear warmup to the peak rate, a long constant phase, then a decay to a small
fraction of the peak over the last part of training. Unlike cosine, the stable phase means a run can
be extended, or branched into a decay at any step, without re-planning the whole schedule.

The schedule is a pure function of the *optimiser step* (never of samples seen per rank), so it does
not depend on the number of ranks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pixelpad.train.errors import TrainError

DecayShape = Literal["linear", "cosine", "sqrt"]


@dataclass(frozen=True)
class WSDSchedule:
    """Multiplier of the peak learning rate at each step, in [final_ratio, 1].

    Example (peak 1e-4, 100 steps, 10 warmup, last 20% decays linearly to 0):
        >>> s = WSDSchedule(total_steps=100, warmup_steps=10, decay_fraction=0.2)
        >>> [round(s(i), 2) for i in (0, 9, 10, 79, 80, 90, 99)]
        [0.1, 1.0, 1.0, 1.0, 0.95, 0.45, 0.0]
    """

    total_steps: int
    warmup_steps: int = 0
    # fraction of total_steps spent decaying at the end (0 = never decay)
    decay_fraction: float = 0.2
    # multiplier reached after the last step of the decay
    final_ratio: float = 0.0
    shape: DecayShape = "linear"

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise TrainError(f"total_steps must be >= 1, got {self.total_steps}")
        if not 0 <= self.warmup_steps <= self.total_steps:
            raise TrainError(f"warmup_steps must be in [0, {self.total_steps}], got {self.warmup_steps}")
        if not 0.0 <= self.decay_fraction <= 1.0:
            raise TrainError(f"decay_fraction must be in [0, 1], got {self.decay_fraction}")
        if not 0.0 <= self.final_ratio <= 1.0:
            raise TrainError(f"final_ratio must be in [0, 1], got {self.final_ratio}")
        if self.shape not in ("linear", "cosine", "sqrt"):
            raise TrainError(f"decay shape must be linear, cosine or sqrt, got {self.shape!r}")

    @property
    def decay_steps(self) -> int:
        return round(self.total_steps * self.decay_fraction)

    def __call__(self, step: int) -> float:
        """Multiplier for optimiser step ``step`` (0-based: the update that makes step+1)."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        decay_start = self.total_steps - self.decay_steps
        if step < decay_start:
            return 1.0
        # progress in (0, 1]: the last step reaches final_ratio exactly
        progress = min(1.0, (step - decay_start + 1) / max(1, self.decay_steps))
        if self.shape == "linear":
            keep = 1.0 - progress
        elif self.shape == "cosine":
            keep = 0.5 * (1.0 + math.cos(math.pi * progress))
        else:  # "1 - sqrt" cooldown, which holds the rate up longer early in the decay
            keep = 1.0 - math.sqrt(progress)
        return self.final_ratio + (1.0 - self.final_ratio) * keep
