"""Building blocks of the mixer and the DiT action head.

Module and parameter names follow the diffusers layout the released checkpoint uses
(``attn1.to_q``, ``attn1.to_out.0``, ``ff.net.0.proj``, ``ff.net.2``, ``norm1.linear``...), so the
official state dict maps onto ours by renaming a few prefixes only.

Shapes: B batch, S context tokens, T action tokens, D width, H heads, E head width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KV = tuple[Tensor, Tensor]  # keys and values, each (B, H, S, E)


def sinusoid_table(length: int, dim: int) -> Tensor:
    """The classic transformer position table ``(length, dim)``: sin on even, cos on odd channels."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freqs = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freqs)
    table[:, 1::2] = torch.cos(position * freqs)
    return table


def timestep_features(buckets: Tensor, channels: int = 256) -> Tensor:
    """Sinusoidal features of integer time buckets ``(N,)`` → ``(N, channels)``, cos half first.

    Frequencies exp(-ln(10000)·k / (channels/2 − 1)): diffusers' ``Timesteps`` with
    ``flip_sin_to_cos=True, downscale_freq_shift=1``, as the DiT's timestep encoder uses.
    """
    half = channels // 2
    exponent = (
        -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=buckets.device) / (half - 1)
    )
    args = buckets.float()[:, None] * torch.exp(exponent)[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def bucket_features(buckets: Tensor, dim: int) -> Tensor:
    """The action encoder's sinusoidal code of the time bucket ``(N,)`` → ``(N, dim)``: sin half first."""
    half = dim // 2
    exponent = -torch.arange(half, dtype=torch.float32, device=buckets.device) * (math.log(10000.0) / half)
    args = buckets.float()[:, None] * torch.exp(exponent)[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class Attention(nn.Module):
    """Multi-head attention; cross-attention when ``kv_dim`` is given (keys/values from a context)."""

    def __init__(
        self, dim: int, heads: int, head_dim: int, *, kv_dim: int | None = None, bias: bool, dropout: float
    ) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=bias)
        self.to_k = nn.Linear(kv_dim or dim, inner, bias=bias)
        self.to_v = nn.Linear(kv_dim or dim, inner, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(dropout)])

    def _split(self, x: Tensor) -> Tensor:
        """(B, N, H·E) → (B, H, N, E)."""
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def kv(self, context: Tensor) -> KV:
        """Keys and values of ``context`` (B, S, kv_dim): what a cross-attention layer can cache."""
        return self._split(self.to_k(context)), self._split(self.to_v(context))

    def forward(self, x: Tensor, context: Tensor | None = None, kv: KV | None = None) -> Tensor:
        """x (B, T, D) attends to ``kv`` if given, else to ``context``, else to itself → (B, T, D)."""
        k, v = kv if kv is not None else self.kv(x if context is None else context)
        out = F.scaled_dot_product_attention(self._split(self.to_q(x)), k, v)
        out = out.transpose(1, 2).flatten(2)
        return self.to_out[1](self.to_out[0](out))


class _GeluProjection(nn.Module):
    """Linear then tanh-approximated GELU (diffusers' ``GELU(approximate="tanh")``)."""

    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    """The 4× MLP: ``net.0.proj`` (D→4D) + GELU, dropout, ``net.2`` (4D→D), dropout."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _GeluProjection(dim, 4 * dim), nn.Dropout(dropout), nn.Linear(4 * dim, dim), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MixerBlock(nn.Module):
    """Pre-LN self-attention block with affine LayerNorms (the VL mixer's block)."""

    def __init__(
        self, dim: int, heads: int, head_dim: int, *, bias: bool, dropout: float, positions: Tensor | None
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, head_dim, bias=bias, dropout=dropout)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, dropout)
        self.drop = nn.Dropout(dropout)
        self.positions: Tensor | None
        self.register_buffer("positions", positions, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, S, D) → (B, S, D)."""
        h = self.norm1(x)
        if self.positions is not None:
            h = h + self.positions[: h.shape[1]]
        x = x + self.drop(self.attn1(h))
        return x + self.ff(self.norm3(x))


class AdaLayerNorm(nn.Module):
    """LayerNorm without affine, modulated by the timestep embedding: ``norm(x)·(1 + scale) + shift``.

    ``linear`` maps SiLU(temb) (N, D) to (scale, shift), in that order, (N, 2D).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim, eps=1e-5, elementwise_affine=False)

    def modulation(self, temb: Tensor) -> Tensor:
        """temb (N, D) → (N, 2D): depends only on the time step, so samplers can precompute it."""
        return self.linear(F.silu(temb))

    def forward(self, x: Tensor, modulation: Tensor) -> Tensor:
        """x (B, T, D), modulation (B or 1, 2D) → (B, T, D)."""
        scale, shift = modulation.chunk(2, dim=-1)
        return self.norm(x) * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """AdaLN-modulated attention (self, or cross to the context when ``kv_dim``) then a plain-LN MLP."""

    def __init__(
        self,
        dim: int,
        heads: int,
        head_dim: int,
        *,
        kv_dim: int | None,
        bias: bool,
        dropout: float,
        positions: Tensor | None,
    ) -> None:
        super().__init__()
        self.cross = kv_dim is not None
        self.norm1 = AdaLayerNorm(dim)
        self.attn1 = Attention(dim, heads, head_dim, kv_dim=kv_dim, bias=bias, dropout=dropout)
        self.norm3 = nn.LayerNorm(dim, eps=1e-5, elementwise_affine=False)
        self.ff = FeedForward(dim, dropout)
        self.drop = nn.Dropout(dropout)
        self.positions: Tensor | None
        self.register_buffer("positions", positions, persistent=False)

    def forward(
        self, x: Tensor, modulation: Tensor, context: Tensor | None = None, kv: KV | None = None
    ) -> Tensor:
        """x (B, T, D); modulation (B or 1, 2D); context (B, S, Dc) or its cached ``kv`` → (B, T, D)."""
        h = self.norm1(x, modulation)
        if self.positions is not None:
            h = h + self.positions[: h.shape[1]]
        if self.cross:
            if kv is None and context is None:
                raise ValueError("a cross-attention block needs a context or its cached keys/values")
            x = x + self.drop(self.attn1(h, context=context, kv=kv))
        else:
            x = x + self.drop(self.attn1(h))
        return x + self.ff(self.norm3(x))


class TimestepEmbedder(nn.Module):
    """``linear_1`` (256→D), SiLU, ``linear_2`` (D→D) over :func:`timestep_features`."""

    def __init__(self, dim: int, channels: int = 256) -> None:
        super().__init__()
        self.channels = channels
        self.linear_1 = nn.Linear(channels, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, buckets: Tensor) -> Tensor:
        """buckets (N,) integer → (N, D)."""
        features = timestep_features(buckets, self.channels).to(self.linear_1.weight.dtype)
        return self.linear_2(F.silu(self.linear_1(features)))
