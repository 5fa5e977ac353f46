"""The template reader: reads a known skin's controls by comparing with its own renderings.

Once localisation has named the skin and the affine that places it in the video, every frame's
overlay is warped back into the skin's own pixels (at about the size it has in the video), and
each control is read against pictures the skin renders exactly:

* a button: its region is compared with the released and the pressed rendering over the pixels
  where the two differ (and a few pixels of context); each rendering is fitted to the region with a
  gain in [``min_gain``, ``max_gain``] and an offset (what overlay opacity and the game behind it
  do), and the smaller residual wins. The gain's lower bound is what tells a flat released picture
  from a pressed one: correlation alone cannot confirm a uniform sprite;
* the d-pad: its four buttons are read jointly against the nine renderings (none + 8 directions),
  because a diagonal is often its own picture;
* a stick: renderings of the stick's region with the cap at a grid of offsets over its whole
  range (and clicked, when the skin shows the click) are fitted to the region at once (one matrix
  product); the best offset, refined to sub-pixel by a parabola through its neighbours, divided by
  the range is the axis value.

A frame whose static parts (the controller's body) do not correlate with the skin is unreadable:
its row is NaN. No training, and a few milliseconds per frame.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from pixelpad.actions import ACTION_DIM, INDEX, NUM_BUTTONS
from pixelpad.errors import PixelpadError
from pixelpad.overlay.skin import Box, Skin, Static, resize_skin

log = logging.getLogger(__name__)

DPAD = ("dpad_down", "dpad_left", "dpad_right", "dpad_up")
# None + 8 directions, as sets of pressed d-pad buttons.
DPAD_STATES: tuple[tuple[str, ...], ...] = (
    (),
    ("dpad_up",),
    ("dpad_down",),
    ("dpad_left",),
    ("dpad_right",),
    ("dpad_up", "dpad_left"),
    ("dpad_up", "dpad_right"),
    ("dpad_down", "dpad_left"),
    ("dpad_down", "dpad_right"),
)


class TemplateReaderError(PixelpadError):
    """A skin/affine pair the template reader cannot work with."""


@dataclass(frozen=True)
class TemplateReaderConfig:
    """Knobs of the template reader; defaults work for overlays 100-600 pixels wide."""

    max_side: int = 320  # the warped overlay is at most this many pixels on its longer side
    stick_steps: int = 21  # cap offsets tried per axis (odd: the centre is one of them)
    min_visible: float = 0.2  # correlation of the static parts below which a frame is unreadable
    sharpness: float = 0.05  # residual margin (relative to the templates' variance) for sigmoid(1)
    min_gain: float = 0.3  # overlays are drawn at opacity >= this (a fit may not fade a template out)
    max_gain: float = 1.5
    diff_threshold: float = 0.04  # a pixel belongs to a control's evidence if renderings differ by this
    context_px: int = 3  # evidence grows by this margin: a flat sprite needs its edges to correlate


def _as_rgb(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 → RGB float32 composited over mid-grey (transparent parts carry no pattern)."""
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    return rgba[..., :3].astype(np.float32) / 255.0 * a + 0.5 * (1.0 - a)


def _centre_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows minus their mean, and each row's variance: ``(K, P)``, ``(K,)``."""
    x = x - x.mean(axis=-1, keepdims=True)
    return x, (x * x).mean(axis=-1)


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm; a constant row becomes zeros (correlation 0)."""
    x = x - x.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-6)


@dataclass(frozen=True)
class _Group:
    """Renderings of one group of controls over a shared set of pixels."""

    box: Box
    mask: np.ndarray  # (h, w) bool: the pixels that tell the states apart
    templates: np.ndarray  # (K, P) centred rows over the masked pixels
    variance: np.ndarray  # (K,) each template's variance
    states: np.ndarray  # (K, 21) the action each template shows (for the group's controls)
    controls: tuple[str, ...]


@dataclass(frozen=True)
class _StickGroup:
    side: str
    box: Box
    templates: np.ndarray  # (K, P) centred
    variance: np.ndarray  # (K,)
    offsets: np.ndarray  # (K, 2) axis values (x, y)
    clicked: np.ndarray  # (K,) bool
    steps: int
    click: str | None
    coarse: np.ndarray  # (K',) indices of every other offset of the unclicked plane, for the coarse pass


def _crop(image: np.ndarray, box: Box) -> np.ndarray:
    x, y, w, h = box
    return image[y : y + h, x : x + w]


def _clip_box(box: Box, size: tuple[int, int]) -> Box:
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(size[1], x + w), min(size[0], y + h)
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def _region_skin(skin: Skin, box: Box) -> Skin:
    """The part of ``skin`` inside ``box``: the elements that reach it, shifted, on a box-sized canvas.

    Rendering it equals cropping a full render (elements keep their order), at a fraction of the cost.
    """
    x0, y0, w, h = box
    elements = []
    for e in skin.elements:
        ex, ey, ew, eh = e.box()
        if ex < x0 + w and ey < y0 + h and ex + ew > x0 and ey + eh > y0:
            elements.append(dataclasses.replace(e, x=e.x - x0, y=e.y - y0))
    if not elements or not isinstance(elements[0], Static):
        elements.insert(0, Static(np.zeros((1, 1, 4), np.uint8), 0, 0))
    return Skin(f"{skin.name}@{box}", skin.layout, (h, w), tuple(elements))


class TemplateReader:
    """Reads one video's overlay of a known skin.

    Args:
        skin: the skin localisation found.
        affine: ``(2, 3)`` map from skin pixels to frame pixels (``frame = A @ [x, y, 1]``).
        config: knobs.

    Working pixels are skin pixels times ``factor`` (pixel centres map by ``u = factor * x``, the
    convention of ``cv2.warpAffine``, used for both the video and the templates). Templates are
    rendered from a copy of the skin at ``RENDER_OVERSAMPLE`` times the working size, blurred and
    warped down, so a stick cap's position is known to a fraction of a working pixel.

    Example:
        >>> reader = TemplateReader(skin, location.affine)        # doctest: +SKIP
        >>> raw, visible = reader.read(frames)                      # (N, 21), (N,)
    """

    RENDER_OVERSAMPLE = 2.0

    def __init__(self, skin: Skin, affine: np.ndarray, config: TemplateReaderConfig = TemplateReaderConfig()):
        affine = np.asarray(affine, dtype=np.float64)
        if affine.shape != (2, 3) or not np.isfinite(affine).all():
            raise TemplateReaderError(f"expected a finite (2, 3) affine, got {affine.shape}")
        scale = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))
        if scale <= 0:
            raise TemplateReaderError("the affine is degenerate (zero scale)")
        self.config = config
        self.skin = skin
        # Work at the overlay's size in the video, capped: finer adds nothing the video has.
        self.factor = min(scale, config.max_side / max(skin.size))
        render_factor = min(1.0, self.RENDER_OVERSAMPLE * self.factor)
        self._render_skin = resize_skin(skin, render_factor) if render_factor < 1 else skin
        self._render_factor = render_factor
        self.size = (math.ceil(skin.size[0] * self.factor), math.ceil(skin.size[1] * self.factor))
        to_skin = cv2.invertAffineTransform(affine)
        self.warp_matrix = np.diag([self.factor, self.factor]) @ to_skin  # frame -> working pixels
        self.shown = skin.mask()
        self._build()

    def warp(self, frame: np.ndarray) -> np.ndarray:
        """The overlay of ``frame`` (H, W, 3) uint8 in working pixels: ``(h, w, 3)`` float32 [0, 1]."""
        h, w = self.size
        out = cv2.warpAffine(frame, self.warp_matrix, (w, h), flags=cv2.INTER_LINEAR)
        return out.astype(np.float32) * (1.0 / 255.0)

    def _working_box(self, box: Box, margin: int = 0) -> Box:
        """A skin-pixel box as the working-pixel box that covers it, grown by ``margin``, clipped."""
        f = self.factor
        x0, y0 = math.floor(box[0] * f) - margin, math.floor(box[1] * f) - margin
        x1, y1 = math.ceil((box[0] + box[2]) * f) + margin, math.ceil((box[1] + box[3]) * f) + margin
        return _clip_box((x0, y0, x1 - x0, y1 - y0), self.size)

    def _render(self, box: Box, actions: np.ndarray) -> np.ndarray:
        """``(K, 21)`` actions → ``(K, h, w, 3)`` float32 renderings of working box ``box``."""
        ux, uy, uw, uh = box
        r = self.factor / self._render_factor  # render-skin pixels -> working pixels
        pad = math.ceil(2 / r) + 1
        bx, by = math.floor(ux / r) - pad, math.floor(uy / r) - pad
        bw, bh = math.ceil((ux + uw) / r) + pad - bx, math.ceil((uy + uh) / r) + pad - by
        region = _region_skin(self._render_skin, (bx, by, bw, bh))
        to_working = np.array([[r, 0, r * bx - ux], [0, r, r * by - uy]], np.float64)
        out = np.empty((len(actions), uh, uw, 3), np.float32)
        for k, action in enumerate(actions):
            image = _as_rgb(region.render(action))
            if r < 1:
                image = cv2.GaussianBlur(image, (0, 0), 0.4 / r)  # what area-averaging does
            out[k] = cv2.warpAffine(image, to_working, (uw, uh), flags=cv2.INTER_LINEAR)
        return out

    def _build(self) -> None:
        skin = self.skin
        regions = skin.regions()
        groups: list[_Group | None] = []
        dpad = [c for c in DPAD if c in regions]
        if dpad:
            groups.append(self._group(tuple(dpad), [s for s in DPAD_STATES if set(s) <= set(dpad)]))
        sticks = skin.sticks()
        clicks = {f"{side}_thumb" for side in sticks}
        for name in skin.controls:
            if INDEX[name] >= NUM_BUTTONS or name in DPAD or name in clicks:
                continue
            groups.append(self._group((name,), [(), (name,)]))
        self.groups = [g for g in groups if g is not None]
        # Controls whose pictures do not differ at this size cannot be read: they stay released.
        read = {c for g in self.groups for c in g.controls}
        self.unreadable = tuple(c for c in skin.controls if INDEX[c] < NUM_BUTTONS and c not in read
                                and c not in clicks)  # fmt: skip
        if self.unreadable:
            log.info("skin %s: %s look the same pressed and released", skin.name, ", ".join(self.unreadable))
        self.sticks = [self._stick(side) for side in sticks]
        # Static evidence: opaque skin pixels outside every control's region.
        whole = (0, 0, self.size[1], self.size[0])
        base = self._render(whole, np.zeros((1, ACTION_DIM), np.float32))[0]
        alpha = cv2.resize(
            skin.released()[..., 3], (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA
        )
        static = alpha > 128
        for box in regions.values():
            x, y, w, h = self._working_box(box, 1)
            static[y : y + h, x : x + w] = False
        if static.sum() < 20:
            static = alpha > 128  # a skin that is all controls: use everything it draws
        self.static_mask = static
        self.static_template = _normalise_rows(base[static].reshape(1, -1))[0]

    def _group(self, controls: tuple[str, ...], states: list[tuple[str, ...]]) -> _Group | None:
        """Templates of ``controls`` in each of ``states``; None if the states look alike here."""
        skin, margin = self.skin, self.config.context_px
        boxes = [skin.regions()[c] for c in controls]
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
        box = self._working_box((x0, y0, x1 - x0, y1 - y0), margin)
        actions = np.zeros((len(states), ACTION_DIM), np.float32)
        for k, state in enumerate(states):
            for c in state:
                actions[k, INDEX[c]] = 1.0
        renders = self._render(box, actions)  # (K, h, w, 3)
        spread = renders.max(0) - renders.min(0)
        mask = spread.max(-1) > self.config.diff_threshold
        if not mask.any():
            return None
        if margin > 0:
            kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
            mask = cv2.dilate(mask.astype(np.uint8), kernel) > 0
        templates, variance = _centre_rows(renders[:, mask].reshape(len(states), -1))
        return _Group(box, mask, templates, variance, actions, controls)

    def _stick(self, side: str) -> _StickGroup:
        skin = self.skin
        click = f"{side}_thumb" if f"{side}_thumb" in skin.controls else None
        box = self._working_box(skin.regions()[f"{side}_x"])
        n = self.config.stick_steps
        axis = np.linspace(-1.0, 1.0, n, dtype=np.float32)
        gx, gy = np.meshgrid(axis, axis)
        offsets = np.stack([gx.ravel(), gy.ravel()], -1)
        presses = (False, True) if click else (False,)
        actions = np.zeros((len(presses) * len(offsets), ACTION_DIM), np.float32)
        for p, press in enumerate(presses):
            rows = slice(p * len(offsets), (p + 1) * len(offsets))
            actions[rows, INDEX[f"{side}_x"]] = offsets[:, 0]
            actions[rows, INDEX[f"{side}_y"]] = offsets[:, 1]
            if press:
                actions[rows, INDEX[click]] = 1.0
        renders = self._render(box, actions)
        return _StickGroup(
            side, box, *_centre_rows(renders.reshape(len(actions), -1)),
            np.tile(offsets, (len(presses), 1)), np.repeat(np.array(presses), len(offsets)), n, click,
            np.flatnonzero(((np.arange(n)[:, None] % 2 == 0) & (np.arange(n) % 2 == 0)).ravel()),
        )  # fmt: skip

    def read_warped(self, overlay: np.ndarray) -> tuple[np.ndarray, float]:
        """Read one warped overlay ``(h, w, 3)`` float32.

        Returns:
            ``(21,)`` raw reads (button probabilities, sticks in [-1, 1]; controls the skin does not
            show are 0; all NaN when the overlay is not visible) and the visibility score (the
            correlation of the skin's static parts, in [-1, 1]).
        """
        out = np.zeros(ACTION_DIM, np.float32)
        visible = float(_normalise_rows(overlay[self.static_mask].reshape(1, -1))[0] @ self.static_template)
        if visible < self.config.min_visible:
            return np.full(ACTION_DIM, np.nan, np.float32), visible
        for g in self.groups:
            fit = self._fit(g.templates, g.variance, _crop(overlay, g.box)[g.mask].ravel())
            for c in g.controls:
                i = INDEX[c]
                on, off = g.states[:, i] > 0.5, g.states[:, i] < 0.5
                out[i] = self._probability(fit[off].min() - fit[on].min(), g.variance)
        for s in self.sticks:
            x, y, clicked = self._read_stick(s, _crop(overlay, s.box).ravel())
            out[INDEX[f"{s.side}_x"]], out[INDEX[f"{s.side}_y"]] = x, y
            if s.click:
                out[INDEX[s.click]] = clicked
        return out, visible

    def _read_stick(self, s: _StickGroup, patch: np.ndarray) -> tuple[float, float, float]:
        """(x, y, click probability) of one stick: coarse grid first, then the best one's neighbours.

        The coarse pass fits every other offset of the unclicked cap (the cap moves the same way when
        clicked), the fine pass the 5 x 5 offsets around the coarse winner, clicked and not; a
        parabola through the winner's neighbours gives sub-steps.
        """
        n = s.steps
        fit = np.full(len(s.templates), np.inf, np.float32)
        coarse = s.coarse
        fit[coarse] = self._fit(s.templates[coarse], s.variance[coarse], patch)
        plane_of = np.arange(len(fit)) // (n * n)
        best = int(coarse[np.argmin(fit[coarse])])
        row, col = divmod(best % (n * n), n)
        rows = np.arange(max(row - 2, 0), min(row + 3, n))
        cols = np.arange(max(col - 2, 0), min(col + 3, n))
        planes = np.arange(len(fit) // (n * n))
        fine = (planes[:, None, None] * n * n + rows[None, :, None] * n + cols[None, None, :]).ravel()
        fit[fine] = self._fit(s.templates[fine], s.variance[fine], patch)
        best = int(np.argmin(fit))
        plane = -fit[plane_of[best] * n * n : (plane_of[best] + 1) * n * n].reshape(n, n)
        row, col = divmod(best % (n * n), n)
        step = 2.0 / (n - 1)
        x = s.offsets[best, 0] + step * _parabola(*(plane[row, c] for c in (col - 1, col, col + 1)) if
                                                  0 < col < n - 1 else (0.0, 0.0, 0.0))  # fmt: skip
        y = s.offsets[best, 1] + step * _parabola(*(plane[r, col] for r in (row - 1, row, row + 1)) if
                                                  0 < row < n - 1 else (0.0, 0.0, 0.0))  # fmt: skip
        click = 0.0
        if s.click:
            released = fit[~s.clicked].min(initial=np.inf)
            margin = released - fit[s.clicked].min(initial=np.inf)
            click = self._probability(float(np.clip(margin, -1e3, 1e3)), s.variance)
        return float(np.clip(x, -1, 1)), float(np.clip(y, -1, 1)), click

    def _fit(self, templates: np.ndarray, variance: np.ndarray, patch: np.ndarray) -> np.ndarray:
        """Residual variance of ``patch (P,)`` after fitting each template ``(K, P)`` with a bounded
        gain and a free offset: ``(K,)``."""
        centred = patch - patch.mean()
        cov = templates @ centred / len(centred)
        gain = np.clip(cov / np.maximum(variance, 1e-9), self.config.min_gain, self.config.max_gain)
        return float(centred @ centred) / len(centred) - 2 * gain * cov + gain**2 * variance

    def _probability(self, margin: float, variance: np.ndarray) -> float:
        """A residual margin, relative to the templates' own variance, as a probability."""
        scale = max(float(variance.max()), 1e-9)
        return float(1.0 / (1.0 + np.exp(-margin / scale / self.config.sharpness)))

    def read(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Read frames ``(N, H, W, 3)`` uint8 → raw reads ``(N, 21)`` and visibility ``(N,)``."""
        reads = [self.read_warped(self.warp(f)) for f in frames]
        if not reads:
            return np.zeros((0, ACTION_DIM), np.float32), np.zeros(0, np.float32)
        return np.stack([r for r, _ in reads]), np.array([v for _, v in reads], np.float32)


def _parabola(left: float, centre: float, right: float) -> float:
    """Sub-step offset in [-0.5, 0.5] of the peak of the parabola through three scores."""
    denom = left - 2 * centre + right
    if denom >= 0 or not np.isfinite(denom):
        return 0.0
    return float(np.clip(0.5 * (left - right) / denom, -0.5, 0.5))
