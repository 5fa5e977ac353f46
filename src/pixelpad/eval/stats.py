"""Confidence intervals for success rates.

Evaluations here run tens of episodes per task, where the normal approximation ``p ± 1.96 sqrt(p(1-p)/n)``
collapses to a zero-width interval at 0 % or 100 %. The Wilson score interval stays inside [0, 1] and
keeps a sensible width at the extremes, which is why every report uses it.
"""

from __future__ import annotations

import math

from pixelpad.eval.errors import EvalError

Z_95 = 1.959963984540054  # two-sided 95 % quantile of the standard normal


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` for ``successes`` out of ``trials``.

    Example:
        >>> low, high = wilson_interval(0, 10)
        >>> round(low, 3), round(high, 3)
        (0.0, 0.278)

    Raises:
        EvalError: when the counts are negative or ``successes > trials``.
    """
    if trials < 0 or successes < 0 or successes > trials:
        raise EvalError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0  # nothing observed: every rate is possible
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    # The bounds at 0 and n successes are exactly 0 and 1; rounding would leave them a hair off.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high
