"""The action head: action encoder, DiT over the action tokens, action decoder.

A noisy chunk x (B, T, A) at time bucket b becomes tokens ``W3(swish(W2([W1 x, sin(b)])))``, plus a
learned position embedding (in :class:`pixelpad.policy.Policy`); the DiT refines them while
cross-attending to the image context; the decoder maps each token back to a velocity (B, T, A).

Everything that depends on the time bucket only (the timestep embedding, each block's AdaLN
scale/shift, the output modulation, the bucket's share of ``W2``) is split out so that a sampler
with fixed buckets can compute it once per step instead of once per block and request.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixelpad.policy.config import PolicyConfig
from pixelpad.policy.layers import KV, DiTBlock, TimestepEmbedder, bucket_features, sinusoid_table


class DiT(nn.Module):
    """Blocks of AdaLN attention + MLP over the action tokens, then a modulated output projection."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        dim = config.hidden_size
        positions = sinusoid_table(config.max_sinusoidal_positions, dim) if config.dit_sinusoidal else None
        self.timestep_embedder = TimestepEmbedder(dim)
        self.transformer_blocks = nn.ModuleList(
            DiTBlock(
                dim,
                config.dit_heads,
                config.dit_head_dim,
                kv_dim=None if (config.interleave_self_attention and i % 2 == 1) else config.vision_width,
                bias=config.attention_bias,
                dropout=config.dropout,
                positions=positions,
            )
            for i in range(config.dit_layers)
        )
        self.norm_out = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=False)
        self.proj_out_1 = nn.Linear(dim, 2 * dim)
        self.proj_out_2 = nn.Linear(dim, dim)

    def modulations(self, buckets: Tensor, condition: Tensor | None = None) -> tuple[list[Tensor], Tensor]:
        """Each block's AdaLN (N, 2D) and the output's (N, 2D) for buckets (N,).

        ``condition`` (N, D), the policy's image condition (see ``PolicyConfig.image_condition``), is
        added to the timestep embedding; without it the terms depend on the time only.
        """
        temb = self.timestep_embedder(buckets)
        if condition is not None:
            temb = temb + condition.to(temb.dtype)
        blocks = [block.norm1.modulation(temb) for block in self.transformer_blocks]
        return blocks, self.proj_out_1(F.silu(temb))

    def cross_kv(self, context: Tensor) -> list[KV | None]:
        """Each cross-attention block's keys/values of the context (B, S, Dc); None for self-attention."""
        return [block.attn1.kv(context) if block.cross else None for block in self.transformer_blocks]

    def forward(
        self,
        x: Tensor,
        modulations: list[Tensor],
        out_modulation: Tensor,
        context: Tensor | None = None,
        kvs: list[KV | None] | None = None,
    ) -> Tensor:
        """x (B, T, D) with modulations from :meth:`modulations` (rows B or 1) → (B, T, D).

        Cross-attention blocks use ``kvs`` (from :meth:`cross_kv`) when given, else ``context``.
        """
        for i, block in enumerate(self.transformer_blocks):
            x = block(x, modulations[i], context=context, kv=None if kvs is None else kvs[i])
        shift, scale = out_modulation.chunk(2, dim=-1)  # shift first here, unlike AdaLayerNorm
        return self.proj_out_2(self.norm_out(x) * (1 + scale[:, None]) + shift[:, None])


class ActionEncoder(nn.Module):
    """Noisy actions (B, T, A) and their time bucket → action tokens (B, T, D)."""

    def __init__(self, action_dim: int, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.W1 = nn.Linear(action_dim, dim)
        self.W2 = nn.Linear(2 * dim, dim)
        self.W3 = nn.Linear(dim, dim)

    def time_term(self, buckets: Tensor) -> Tensor:
        """The bucket's share of ``W2`` (N, D): W2 applied to [0, sin(bucket)] without bias."""
        features = bucket_features(buckets, self.dim).to(self.W2.weight.dtype)
        return F.linear(features, self.W2.weight[:, self.dim :])

    def forward(
        self, actions: Tensor, buckets: Tensor | None = None, time_term: Tensor | None = None
    ) -> Tensor:
        """actions (B, T, A) with buckets (B,), or a precomputed ``time_term`` (B or 1, D) → (B, T, D)."""
        if time_term is None:
            if buckets is None:
                raise ValueError("ActionEncoder needs the time buckets or their precomputed time term")
            time_term = self.time_term(buckets)
        hidden = F.linear(self.W1(actions), self.W2.weight[:, : self.dim], self.W2.bias)
        return self.W3(F.silu(hidden + time_term[:, None]))


class ActionDecoder(nn.Module):
    """Tokens (B, T, D) → velocities (B, T, A): ``layer1`` (D→D), ReLU, ``layer2`` (D→A)."""

    def __init__(self, dim: int, action_dim: int) -> None:
        super().__init__()
        self.layer1 = nn.Linear(dim, dim)
        self.layer2 = nn.Linear(dim, action_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.layer2(torch.relu(self.layer1(x)))
