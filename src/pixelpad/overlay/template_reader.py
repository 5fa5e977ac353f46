"""The template reader: reads a known skin's controls by comparing with its own renderings.

Once localisation has named the skin and the affine that places it in the video, every frame's
overlay is warped back into the skin's own pixels (at about the size it has in the video; only the
pixels some comparison uses are sampled), and
each control is read against pictures the skin renders exactly (:mod:`template_assets`), scored
with a model of how a stream blends an overlay over the game (:mod:`template_fit`):

* a button: its region and a few pixels of context are scored under its released and pressed
  renderings; the better one wins (the margin, relative to the renderings' contrast, is the
  probability). The d-pad's four buttons are read jointly against its nine renderings (none + 8
  directions), because a diagonal is often its own picture;
* a stick: renderings of the stick's region with the cap at a grid of offsets over its whole range
  (and clicked, when the skin shows the click) are all scored; the best offset, refined to sub-step
  by a parabola through its neighbours, is the axis value (already in [-1, 1]: the skin says what
  full deflection looks like, so no per-video normalisation is needed).

A frame whose static parts (the controller's body) do not correlate with the skin is unreadable:
its row is NaN. Frames are read in batches: every score of a batch is a few matrix products, so the
per-frame cost is sampling the overlay and a fraction of a millisecond of arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pixelpad.actions import ACTION_DIM, INDEX
from pixelpad.errors import PixelpadError
from pixelpad.overlay.skin import Skin
from pixelpad.overlay.template_assets import AssetConfig, ReaderAssets, StickAssets, reader_assets
from pixelpad.overlay.template_fit import residuals

_TAP_BITS = 5  # cv2.remap's bilinear taps: 1/32 pixel (its INTER_BITS, as cv2.warpAffine uses)
_TAPS = 1 << _TAP_BITS


class TemplateReaderError(PixelpadError):
    """A skin/affine pair the template reader cannot work with."""


@dataclass(frozen=True)
class TemplateReaderConfig:
    """Knobs of the template reader; defaults work for overlays 100-600 pixels wide."""

    # The warped overlay is at most this many pixels on its longer side: bigger overlays are read at
    # this size (measured on the four largest of the benchmark's overlays, 250-260 px: 224 instead of 320
    # read 8% faster with the same stick R², 0.987 -> 0.990).
    max_side: int = 224
    # Working scales are rounded to this relative step so that videos of one overlay at about the
    # same size share their renderings (the warp uses the rounded scale: nothing is misaligned).
    scale_step: float = 0.01
    stick_steps: int = 21  # cap offsets tried per axis (odd: the centre is one of them)
    min_visible: float = 0.2  # correlation of the static parts below which a frame is unreadable
    sharpness: float = 0.05  # residual margin (relative to the renderings' contrast) for sigmoid(1)
    min_gain: float = 0.3  # overlays are drawn at opacity >= this (a fit may not fade a rendering out)
    max_gain: float = 1.2  # a little above 1: encoders and colour conversion stretch contrast
    gain_steps: int = 8  # opacities tried between min_gain and max_gain
    diff_threshold: float = 0.04  # a pixel belongs to a control's evidence if renderings differ by this
    context_px: int = 3  # evidence grows by this margin: a flat sprite needs its surroundings
    batch: int = 64  # frames read together (per-call costs amortised; 0.26 -> 0.2 ms a frame from 32)

    @property
    def assets(self) -> AssetConfig:
        return AssetConfig(self.stick_steps, self.diff_threshold, self.context_px)


class TemplateReader:
    """Reads one video's overlay of a known skin.

    Args:
        skin: the skin localisation found.
        affine: ``(2, 3)`` map from skin pixels to frame pixels (``frame = A @ [x, y, 1]``).
        config: knobs.

    Example:
        >>> reader = TemplateReader(skin, native_affine)            # doctest: +SKIP
        >>> raw, visible = reader.read(frames)                      # (N, 21), (N,)
    """

    def __init__(self, skin: Skin, affine: np.ndarray, config: TemplateReaderConfig = TemplateReaderConfig()):
        affine = np.asarray(affine, dtype=np.float64)
        if affine.shape != (2, 3) or not np.isfinite(affine).all():
            raise TemplateReaderError(f"expected a finite (2, 3) affine, got {affine.shape}")
        scale = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))
        if scale <= 0:
            raise TemplateReaderError("the affine is degenerate (zero scale)")
        self.config, self.skin = config, skin
        # Work at the overlay's size in the video, capped: finer adds nothing the video has.
        factor = min(scale, config.max_side / max(skin.size))
        step = math.log1p(config.scale_step)
        self.factor = float(math.exp(round(math.log(factor) / step) * step))
        self.assets: ReaderAssets = reader_assets(skin, self.factor, config.assets)
        self.size = self.assets.size
        self.warp_matrix = np.diag([self.factor, self.factor]) @ cv2.invertAffineTransform(affine)
        self.shown = skin.mask()
        self.unreadable = self.assets.unreadable
        self._opacities = np.linspace(config.min_gain, config.max_gain, config.gain_steps)
        # The working pixels any comparison uses (flat indices, sorted), and each comparison's rows
        # among them: frames are sampled at these pixels only (:meth:`sample`).
        a = self.assets
        parts = [a.static_pixels, *(g.pixels for g in a.buttons), *(s.pixels for s in a.sticks)]
        self.pixels = np.unique(np.concatenate(parts))
        self._static, *rows = (np.searchsorted(self.pixels, p) for p in parts)
        self._buttons, self._sticks = rows[: len(a.buttons)], rows[len(a.buttons) :]
        self._taps: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None

    def source_box(self) -> tuple[int, int, int, int]:
        """``(x, y, w, h)``: the frame pixels :meth:`sample` reads (a crop holding them is enough)."""
        h, w = self.size
        inverse = cv2.invertAffineTransform(self.warp_matrix)
        corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [-0.5, h - 0.5], [w - 0.5, h - 0.5]])
        corners = corners @ inverse[:, :2].T + inverse[:, 2]
        (x0, y0), (x1, y1) = np.floor(corners.min(0)) - 2, np.ceil(corners.max(0)) + 2  # bilinear taps
        return int(x0), int(y0), int(x1 - x0), int(y1 - y0)

    def sample(self, frame: np.ndarray, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
        """The working pixels the reader compares (:attr:`pixels`) of the overlay of ``frame`` (H, W, 3)
        uint8: ``(U, 3)`` uint8, bilinear like ``cv2.warpAffine``.

        ``frame`` may be a crop of the video's frame whose top-left corner is at ``origin`` (x, y): it
        must hold :meth:`source_box` (clipped to the frame), then the result is the same. Those
        pixels are 30-50 % of the working image, so sampling just them (one ``cv2.remap`` with the
        taps worked out once per origin) costs a fifth of warping the whole overlay (0.05 vs 0.26 ms
        at 224 x 150) and spares gathering them after.
        """
        if self._taps is None or self._taps[0] != origin:
            self._taps = (origin, *self._remap_taps(origin))
        _, whole, fraction = self._taps
        return cv2.remap(frame, whole, fraction, cv2.INTER_LINEAR).reshape(-1, 3)

    def _remap_taps(self, origin: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """``cv2.remap``'s fixed-point map of :attr:`pixels` in a frame (crop) at ``origin``: whole
        source pixels ``(1, U, 2)`` int16 and 1/32-pixel fractions ``(1, U)`` uint16, in 1/32 pixels
        like ``cv2.warpAffine``. Rounded in the frame's coordinates, so a crop samples exactly like
        the whole frame."""
        rows, cols = np.divmod(self.pixels, self.size[1])
        inverse = cv2.invertAffineTransform(self.warp_matrix)  # working -> frame pixels
        points = np.stack([cols, rows], -1) @ inverse[:, :2].T + inverse[:, 2]
        fixed = np.round(points * _TAPS).astype(np.int64) - np.asarray(origin, np.int64) * _TAPS
        whole = (fixed >> _TAP_BITS).astype(np.int16).reshape(1, -1, 2)
        fraction = ((fixed[:, 1] & (_TAPS - 1)) * _TAPS + (fixed[:, 0] & (_TAPS - 1))).astype(np.uint16)
        return whole, fraction.reshape(1, -1)

    def read_samples(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Read sampled overlays ``(B, U, 3)`` uint8 (:meth:`sample`).

        Returns:
            ``(B, 21)`` raw reads (button probabilities, sticks in [-1, 1]; controls the skin does not
            show are 0; rows all NaN where the overlay is not visible) and ``(B,)`` visibility scores
            (the correlation of the skin's static parts, in [-1, 1]).
        """
        a = self.assets
        b = len(samples)
        # Pixels first, frames last: every gather below copies whole rows, every sum is one product.
        pixels = np.ascontiguousarray(samples.transpose(1, 2, 0))  # (U, 3, B)
        static = np.take(pixels, self._static, axis=0).astype(np.float32).reshape(-1, b)
        static -= static.mean(0)
        norm = np.linalg.norm(static, axis=0)
        visible = np.where(norm > 1e-6, a.static_template @ static / np.maximum(norm, 1e-6), 0.0)
        out = np.zeros((b, ACTION_DIM), np.float32)
        for g, rows in zip(a.buttons, self._buttons, strict=True):
            fit = residuals(g.templates, self._patch(pixels, rows), self._opacities)  # (B, K)
            for c in g.controls:
                on = g.states[:, INDEX[c]] > 0.5
                margin = fit[:, ~on].min(1) - fit[:, on].min(1)
                out[:, INDEX[c]] = self._probability(margin, g.scale)
        for s, rows in zip(a.sticks, self._sticks, strict=True):
            self._read_stick(s, self._patch(pixels, rows), out)
        out[visible < self.config.min_visible] = np.nan
        return out, visible.astype(np.float32)

    @staticmethod
    def _patch(pixels: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Pixels ``rows`` of a batch ``(h·w, 3, B)`` uint8 as float32 in [0, 1]: ``(Q, 3, B)``."""
        return np.take(pixels, rows, axis=0).astype(np.float32) * np.float32(1.0 / 255.0)

    def _read_stick(self, s: StickAssets, patch: np.ndarray, out: np.ndarray) -> None:
        """Write the stick's (x, y, click) reads of ``patch (Q, 3, B)`` into ``out (B, 21)``."""
        n, b = s.steps, patch.shape[-1]
        # Coarse pass: every other offset, unclicked; fine pass: the offsets next to any frame's coarse
        # winner (and the clicked cap there): a fraction of scoring every rendering. The fine winner's
        # neighbours are then scored too (those two steps away are coarse offsets) for the parabola.
        coarse = residuals(s.coarse_templates, patch, self._opacities)
        fine = s.neighbourhood(s.coarse[np.argmin(coarse, axis=1)], radius=1)
        fit = np.full((b, len(s.offsets)), np.inf, np.float32)
        fit[:, s.coarse] = coarse
        fit[:, fine] = residuals(s.templates.subset(fine), patch, self._opacities)
        best = np.argmin(fit, axis=1)
        plane, cell = np.divmod(best, n * n)
        row, col = np.divmod(cell, n)
        grid = -fit.reshape(b, -1, n, n)[np.arange(b), plane]  # (B, n, n) scores (-inf: not scored)
        step = 2.0 / (n - 1)
        frames = np.arange(b)
        x = s.offsets[best, 0] + step * _parabola(grid, frames, row, col, axis=1)
        y = s.offsets[best, 1] + step * _parabola(grid, frames, row, col, axis=0)
        out[:, INDEX[f"{s.side}_x"]] = np.clip(x, -1, 1)
        out[:, INDEX[f"{s.side}_y"]] = np.clip(y, -1, 1)
        if s.click:
            margin = np.clip(fit[:, ~s.clicked].min(1) - fit[:, s.clicked].min(1), -1e3, 1e3)
            out[:, INDEX[s.click]] = self._probability(margin, float(s.templates.contrast.max()))

    def _probability(self, margin: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
        """Residual margins, relative to the renderings' own contrast, as probabilities."""
        z = np.clip(margin / scale / self.config.sharpness, -50, 50)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def read(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Read frames ``(N, H, W, 3)`` uint8 → raw reads ``(N, 21)`` and visibility ``(N,)``."""
        if len(frames) == 0:
            return np.zeros((0, ACTION_DIM), np.float32), np.zeros(0, np.float32)
        reads, visible = [], []
        for start in range(0, len(frames), self.config.batch):
            r, v = self.read_samples(
                np.stack([self.sample(f) for f in frames[start : start + self.config.batch]])
            )
            reads.append(r)
            visible.append(v)
        return np.concatenate(reads), np.concatenate(visible)


def _parabola(
    grid: np.ndarray, frames: np.ndarray, row: np.ndarray, col: np.ndarray, axis: int
) -> np.ndarray:
    """Sub-step offsets ``(B,)`` in [-0.5, 0.5] of the peak of the parabola through each frame's best
    score on ``grid (B, n, n)`` and its two neighbours along ``axis`` (1: columns, x; 0: rows, y)."""
    n = grid.shape[1]
    pos = col if axis == 1 else row
    inner = (pos > 0) & (pos < n - 1)
    lo, hi = np.clip(pos - 1, 0, n - 1), np.clip(pos + 1, 0, n - 1)
    if axis == 1:
        left, centre, right = grid[frames, row, lo], grid[frames, row, col], grid[frames, row, hi]
    else:
        left, centre, right = grid[frames, lo, col], grid[frames, row, col], grid[frames, hi, col]
    denom = left - 2 * centre + right
    ok = inner & (denom < 0) & np.isfinite(denom)
    shift = np.where(ok, 0.5 * (left - right) / np.where(ok, denom, -1.0), 0.0)
    return np.clip(shift, -0.5, 0.5)
