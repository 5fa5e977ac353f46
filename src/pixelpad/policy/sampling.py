"""Flow matching: the training target, and two Euler samplers that compute the same thing.

Time runs from t = 0 (pure noise ε) to t = 1 (the action chunk a): x_t = (1 − t)·ε + t·a, and the
network predicts the velocity v = a − ε from x_t and the time bucket ⌊1000·t⌋. Sampling takes N
Euler steps from noise, step i at bucket ⌊1000·i/N⌋, x ← x + v/N.

* :func:`sample_reference` is the released code's loop, kept as the obvious baseline: at each of the
  N steps it runs the mixer over the image context again, recomputes every cross-attention K/V and
  the timestep embedding.
* :func:`sample_fast` notices that none of those depend on the actions: it mixes the context once
  per frame, caches each cross-attention layer's K/V, and precomputes every time-only term (the
  timestep embedding, the AdaLN modulations, the output modulation, the bucket's share of the
  action encoder) for the N fixed buckets. Both agree to float rounding (tests pin it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from pixelpad.policy.model import Policy


def step_buckets(num_steps: int, num_buckets: int, device: torch.device | None = None) -> Tensor:
    """The time bucket of each Euler step (num_steps,): ⌊num_buckets · i / num_steps⌋, as officially."""
    return torch.tensor([int(i / float(num_steps) * num_buckets) for i in range(num_steps)], device=device)


def training_targets(
    actions: Tensor, noise: Tensor, u: Tensor, noise_s: float, num_buckets: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Noisy input, velocity target and buckets for actions/noise (B, T, A) and u ~ Beta (B,).

    t = (1 − u)·noise_s, so t is mostly close to 0 (noisy) and never reaches 1.
    Returns x_t (B, T, A), v (B, T, A), buckets (B,) long.
    """
    t = ((1.0 - u) * noise_s).to(actions.dtype)
    x_t = (1.0 - t[:, None, None]) * noise + t[:, None, None] * actions
    return x_t, actions - noise, (t * num_buckets).long()


@torch.no_grad()
def sample_reference(
    policy: Policy, image_tokens: Tensor, noise: Tensor, num_steps: int, game_ids: Tensor | None = None
) -> Tensor:
    """The official algorithm: image tokens (B, N, Dv), noise (B, T, A) → actions (B, T, A)."""
    x = noise
    buckets = step_buckets(num_steps, policy.config.num_timestep_buckets, noise.device)
    for i in range(num_steps):
        context = policy.context(image_tokens, game_ids)
        bucket = buckets[i].expand(x.shape[0])
        x = x + policy.velocity(x, bucket, context) / num_steps
    return x


@torch.no_grad()
def sample_fast(policy: Policy, context: Tensor, noise: Tensor, num_steps: int) -> Tensor:
    """Cached Euler sampling: mixed context (B, S, Dv), noise (B, T, A) → actions (B, T, A)."""
    buckets = step_buckets(num_steps, policy.config.num_timestep_buckets, noise.device)
    condition = policy.condition(context)
    if condition is None:  # time-only modulations: one row per step
        rows = 1
        modulations, out_modulations = policy.dit.modulations(buckets)
    else:  # one row per (step, frame), step-major
        rows = context.shape[0]
        modulations, out_modulations = policy.dit.modulations(
            buckets.repeat_interleave(rows), condition.repeat(num_steps, 1)
        )
    time_terms = policy.action_encoder.time_term(buckets)
    kvs = policy.dit.cross_kv(context)
    positions = policy.action_positions(noise.shape[1])
    x = noise
    for i in range(num_steps):
        tokens = policy.action_encoder(x.to(time_terms.dtype), time_term=time_terms[i : i + 1])
        if positions is not None:
            tokens = tokens + positions
        step = slice(i * rows, (i + 1) * rows)
        hidden = policy.dit(tokens, [m[step] for m in modulations], out_modulations[step], kvs=kvs)
        out = policy.to_velocity(policy.action_decoder(hidden), x, buckets[i : i + 1])
        x = x + out.to(x.dtype) / num_steps
    return x
