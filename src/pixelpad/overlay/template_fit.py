"""Fitting an overlay's renderings to what a video shows, with the overlay's own transparency.

A stream blends its overlay over the game, so a pixel of the video is

    I = o·α·S + (1 − o·α)·G

with ``S`` and ``α`` the skin's colour and opacity there, ``o`` the overlay's opacity in the stream
and ``G`` the game behind. Over one control's small patch, take the game as one unknown colour ``g``
(per channel): for a given ``o`` the model is linear in ``g``, so each rendering is scored by

    SSE(o) = min_g Σ (I − o·a − g·(1 − o·α))²,   a = α·S (the premultiplied rendering)

minimised over a small grid of opacities. Everything reduces to a few sums per rendering, computed
once (:class:`Templates`), and per frame two matrix products over the patch (``a·I`` and ``α·I``),
so hundreds of renderings are scored in well under a millisecond.

Why not compare with the renderings drawn over mid-grey (a gain and an offset): a see-through part of
the skin then has a fixed level, and the polarity of what the video shows depends on the game
behind it: a dark half-transparent stick cap over a dark game looks *lighter* than its surroundings.
The lower bound on ``o`` is what tells a flat released sprite from a pressed one: a fit may not fade
a rendering out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Templates:
    """``K`` renderings over a vector of ``Q`` pixels, with the sums :func:`residuals` needs.

    A rendering may cover only part of the pixels (``member``): then its patch is those pixels alone,
    and many small patches (all of a skin's buttons) are scored with one matrix product.

    Attributes:
        colour: ``(K, 3Q)`` premultiplied colour ``α·S`` (pixel-major, RGB interleaved), float32.
        alpha: ``(K, Q)`` opacity, float32.
        member: ``(K, Q)`` float32 0/1, the pixels of each rendering's patch; None: all of them.
        count: ``(K,)`` pixels per patch.
        colour_sum: ``(K, 3)`` Σ over pixels of ``a`` per channel.
        colour_alpha: ``(K, 3)`` Σ ``a·α`` per channel.
        colour_sq: ``(K,)`` Σ ``a²`` over pixels and channels.
        alpha_sum, alpha_sq: ``(K,)`` Σ ``α`` and Σ ``α²`` over pixels.
        contrast: ``(K,)`` each rendering's variance over its patch, drawn over mid-grey (a scale for
            turning residual margins into probabilities).
    """

    colour: np.ndarray
    alpha: np.ndarray
    member: np.ndarray | None
    count: np.ndarray
    colour_sum: np.ndarray
    colour_alpha: np.ndarray
    colour_sq: np.ndarray
    alpha_sum: np.ndarray
    alpha_sq: np.ndarray
    contrast: np.ndarray

    @classmethod
    def build(cls, colour: np.ndarray, alpha: np.ndarray, member: np.ndarray | None = None) -> Templates:
        """From premultiplied renderings ``colour (K, Q, 3)``, opacity ``alpha (K, Q)`` and optionally
        each one's pixels ``member (K, Q)`` (colour and alpha must be 0 outside them)."""
        colour = np.ascontiguousarray(colour, np.float32)
        alpha = np.ascontiguousarray(alpha, np.float32)
        k, q = alpha.shape
        inside = np.ones((k, q), np.float32) if member is None else member.astype(np.float32)
        count = inside.sum(1).astype(np.float64)
        over_grey = (colour + 0.5 * (1.0 - alpha[..., None])) * inside[..., None]
        mean = over_grey.sum((1, 2)) / (3 * count)
        contrast = (over_grey**2).sum((1, 2)) / (3 * count) - mean**2
        return cls(
            colour=colour.reshape(k, 3 * q),
            alpha=alpha,
            member=None if member is None else np.ascontiguousarray(inside),
            count=count,
            colour_sum=colour.sum(axis=1, dtype=np.float64),
            colour_alpha=np.einsum("kqc,kq->kc", colour, alpha, dtype=np.float64),
            colour_sq=np.einsum("kqc,kqc->k", colour, colour, dtype=np.float64),
            alpha_sum=alpha.sum(axis=1, dtype=np.float64),
            alpha_sq=np.einsum("kq,kq->k", alpha, alpha, dtype=np.float64),
            contrast=np.maximum(contrast, 1e-9),
        )

    def __len__(self) -> int:
        return len(self.alpha)

    def scale_of(self, rows: np.ndarray) -> float:
        """The largest contrast among ``rows``: residual margins of these renderings are relative to it."""
        return float(self.contrast[rows].max())


def residuals(templates: Templates, patches: np.ndarray, opacities: np.ndarray) -> np.ndarray:
    """Mean squared residual of each patch under each rendering, at its best opacity: ``(B, K)``.

    Args:
        templates: the renderings.
        patches: ``(B, Q, 3)`` float32, the video's pixels (in the renderings' order).
        opacities: ``(M,)`` the opacities ``o`` tried.
    """
    b, q, _ = patches.shape
    t = templates
    flat = patches.reshape(b, 3 * q)
    a_i = (flat @ t.colour.T).astype(np.float64)  # (B, K) Σ a·I
    l_i = np.matmul(t.alpha, patches).astype(np.float64)  # (B, K, 3) Σ α·I per channel
    squares = np.einsum("bqc,bqc->bq", patches, patches)
    if t.member is None:
        i_sum = patches.sum(1, dtype=np.float64)[:, None, :]  # (B, 1, 3)
        i_sq = squares.sum(1, dtype=np.float64)[:, None]  # (B, 1)
    else:
        i_sum = np.matmul(t.member, patches).astype(np.float64)  # (B, K, 3)
        i_sq = (squares @ t.member.T).astype(np.float64)  # (B, K)
    o = opacities.astype(np.float64)[:, None, None]  # (M, 1, 1)
    # For each o: SSE = Σ(I − o·a)² − Σ_c (Σ(I − o·a)(1 − o·α))² / Σ(1 − o·α)².
    direct = i_sq - 2 * o * a_i + o**2 * t.colour_sq  # (M, B, K)
    oc = o[..., None]
    cross = i_sum - oc * l_i - oc * t.colour_sum + oc**2 * t.colour_alpha  # (M, B, K, 3)
    weight = t.count - 2 * o * t.alpha_sum + o**2 * t.alpha_sq  # (M, 1, K) Σ(1 − o·α)²
    # Where o·α is 1 everywhere the game cannot show: there is no g to fit (and 0/0 numerically).
    fitted = np.where(weight > 1e-6 * t.count, (cross**2).sum(-1) / np.maximum(weight, 1e-12), 0.0)
    sse = np.maximum(direct - fitted, 0.0).min(axis=0)
    return (sse / (3 * t.count)).astype(np.float32)
