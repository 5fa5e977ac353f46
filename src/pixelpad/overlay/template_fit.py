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
    """``K`` renderings of one patch of ``Q`` pixels, with the sums :func:`residuals` needs.

    Attributes:
        colour: ``(K, 3Q)`` premultiplied colour ``α·S`` (pixel-major, RGB interleaved), float32.
        alpha: ``(K, Q)`` opacity, float32.
        colour_sum: ``(K, 3)`` Σ over pixels of ``a`` per channel.
        colour_alpha: ``(K, 3)`` Σ ``a·α`` per channel.
        colour_sq: ``(K,)`` Σ ``a²`` over pixels and channels.
        alpha_sum, alpha_sq: ``(K,)`` Σ ``α`` and Σ ``α²`` over pixels.
        contrast: ``(K,)`` each rendering's variance, drawn over mid-grey (the scale that turns
            residual margins into probabilities).
    """

    colour: np.ndarray
    alpha: np.ndarray
    colour_sum: np.ndarray
    colour_alpha: np.ndarray
    colour_sq: np.ndarray
    alpha_sum: np.ndarray
    alpha_sq: np.ndarray
    contrast: np.ndarray

    @classmethod
    def build(cls, colour: np.ndarray, alpha: np.ndarray) -> Templates:
        """From premultiplied renderings ``colour (K, Q, 3)`` and their opacity ``alpha (K, Q)``."""
        colour = np.ascontiguousarray(colour, np.float32)
        alpha = np.ascontiguousarray(alpha, np.float32)
        k, q = alpha.shape
        colour_sum = colour.sum(axis=1, dtype=np.float64)
        colour_alpha = np.einsum("kqc,kq->kc", colour, alpha, dtype=np.float64)
        colour_sq = np.einsum("kqc,kqc->k", colour, colour, dtype=np.float64)
        alpha_sum = alpha.sum(axis=1, dtype=np.float64)
        alpha_sq = np.einsum("kq,kq->k", alpha, alpha, dtype=np.float64)
        # Variance of x = a + (1 − α)/2 (drawn over mid-grey) over pixels and channels, from the sums.
        total = colour_sum.sum(1)
        mean = (total + 1.5 * (q - alpha_sum)) / (3 * q)
        square = colour_sq + total - colour_alpha.sum(1) + 0.75 * (q - 2 * alpha_sum + alpha_sq)
        return cls(
            colour=colour.reshape(k, 3 * q), alpha=alpha, colour_sum=colour_sum, colour_alpha=colour_alpha,
            colour_sq=colour_sq, alpha_sum=alpha_sum, alpha_sq=alpha_sq,
            contrast=np.maximum(square / (3 * q) - mean**2, 1e-9),
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.alpha)

    @property
    def pixels(self) -> int:
        return self.alpha.shape[1]

    def subset(self, rows: np.ndarray) -> Templates:
        """The renderings ``rows`` only (a copy)."""
        return Templates(
            self.colour[rows], self.alpha[rows], self.colour_sum[rows], self.colour_alpha[rows],
            self.colour_sq[rows], self.alpha_sum[rows], self.alpha_sq[rows], self.contrast[rows],
        )  # fmt: skip


def residuals(templates: Templates, patches: np.ndarray, opacities: np.ndarray) -> np.ndarray:
    """Mean squared residual of each patch under each rendering, at its best opacity: ``(B, K)``.

    Args:
        templates: the renderings.
        patches: ``(Q, 3, B)`` float32, the video's pixels (in the renderings' order) of ``B`` frames;
            frames last, so that every sum over pixels below is one matrix product for all frames.
        opacities: ``(M,)`` the opacities ``o`` tried.

    For each ``o``: ``SSE = Σ(I − o·a)² − Σ_c (Σ(I − o·a)(1 − o·α))² / Σ(1 − o·α)²``; the sums over
    pixels are matrix products, and both terms are polynomials in ``o`` whose coefficients are
    computed once, so trying more opacities costs little.
    """
    q, _, b = patches.shape
    t = templates
    flat = patches.reshape(3 * q, b)
    a_i = (t.colour @ flat).T.astype(np.float64)  # (B, K) Σ a·I
    l_i = (t.alpha @ patches.reshape(q, 3 * b)).reshape(-1, 3, b).transpose(2, 0, 1).astype(np.float64)
    u = patches.sum(0, dtype=np.float64).T[:, None, :]  # (B, 1, 3) Σ I per channel
    i_sq = (flat * flat).sum(0, dtype=np.float64)[:, None]  # (B, 1)
    # cross_c(o) = u_c − o·v_c + o²·w_c, summed over channels after squaring: a quartic in o.
    v, w = l_i + t.colour_sum, t.colour_alpha  # l_i: (B, K, 3) Σ α·I per channel
    c0, c1 = (u * u).sum(-1), -2 * (u * v).sum(-1)
    c2, c3, c4 = (v * v).sum(-1) + 2 * (u * w).sum(-1), -2 * (v * w).sum(-1), (w * w).sum(-1)
    best = np.full(a_i.shape, np.inf)
    for o in np.asarray(opacities, np.float64):
        direct = i_sq - 2 * o * a_i + o * o * t.colour_sq
        cross = c0 + o * (c1 + o * (c2 + o * (c3 + o * c4)))
        weight = q - 2 * o * t.alpha_sum + o * o * t.alpha_sq  # (K,) Σ(1 − o·α)²
        # Where o·α is 1 everywhere the game cannot show: there is no g to fit (and 0/0 numerically).
        fitted = np.where(weight > 1e-6 * q, cross / np.maximum(weight, 1e-12), 0.0)
        np.minimum(best, direct - fitted, out=best)
    return (np.maximum(best, 0.0) / (3 * q)).astype(np.float32)
