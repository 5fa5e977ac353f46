"""What the template reader compares a video with: one skin's renderings at one working size.

Building them is the reader's whole set-up cost (hundreds of renders of each stick), and they depend
only on the skin, the working scale and the knobs, never on where the overlay sits in the frame
(the reader warps the video into the skin's pixels). So :func:`reader_assets` memoises them: a
worker that extracts many videos of one streamer's overlay renders them once.

Working pixels are skin pixels times ``factor`` (pixel centres map by ``u = factor * x``, the
convention of ``cv2.warpAffine``). Renderings are drawn from a copy of the skin at
``RENDER_OVERSAMPLE`` times the working size, blurred and warped down, so a stick cap's position is
known to a fraction of a working pixel.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from pixelpad.actions import ACTION_DIM, INDEX, NUM_BUTTONS
from pixelpad.overlay.skin import Box, Skin, Static, Stick, resize_skin
from pixelpad.overlay.template_fit import Templates

log = logging.getLogger(__name__)

RENDER_OVERSAMPLE = 2.0
STATIC_PIXELS = 4096  # at most this many pixels of the static parts are compared per frame
DPAD = ("dpad_down", "dpad_left", "dpad_right", "dpad_up")
# None + 8 directions, as sets of pressed d-pad buttons.
DPAD_STATES: tuple[tuple[str, ...], ...] = (
    (), ("dpad_up",), ("dpad_down",), ("dpad_left",), ("dpad_right",),
    ("dpad_up", "dpad_left"), ("dpad_up", "dpad_right"),
    ("dpad_down", "dpad_left"), ("dpad_down", "dpad_right"),
)  # fmt: skip


@dataclass(frozen=True)
class AssetConfig:
    """The knobs that change the renderings (part of the memo key)."""

    stick_steps: int = 21  # cap offsets tried per axis (odd: the centre is one of them)
    diff_threshold: float = 0.04  # a pixel belongs to a control's evidence if renderings differ by this
    context_px: int = 3  # evidence grows by this margin: a flat sprite needs its surroundings


@dataclass(frozen=True)
class ButtonGroup:
    """Buttons read together (one, or the d-pad's four) against their renderings in each state.

    ``pixels`` indexes the flattened working image (the group's pixels that tell the states apart,
    and their context); ``states[k]`` is the action rendering ``k`` shows.
    """

    controls: tuple[str, ...]
    pixels: np.ndarray  # (Q,) int64 flat pixel indices
    templates: Templates
    states: np.ndarray  # (K, 21)

    @property
    def scale(self) -> float:
        return float(self.templates.contrast.max())


@dataclass(frozen=True)
class StickAssets:
    """One stick's renderings at a grid of cap offsets (and clicked, when the skin shows the click)."""

    side: str
    box: Box  # working pixels
    pixels: np.ndarray  # (Q,) flat indices of the box's pixels in the working image
    templates: Templates  # (K = planes x steps², box pixels)
    offsets: np.ndarray  # (K, 2) axis values (x, y)
    clicked: np.ndarray  # (K,) bool
    steps: int
    click: str | None
    coarse: np.ndarray  # (K',) every other offset of the unclicked plane: the first pass
    coarse_templates: Templates  # those rows, copied once

    def neighbourhood(self, cells: np.ndarray, radius: int = 2) -> np.ndarray:
        """Rows of every plane within ``radius`` steps of any of ``cells`` (flat grid indices)."""
        n = self.steps
        near = np.zeros((n + 2 * radius, n + 2 * radius), bool)
        rows, cols = np.divmod(np.unique(cells), n)
        for dy in range(2 * radius + 1):
            for dx in range(2 * radius + 1):
                near[rows + dy, cols + dx] = True
        flat = np.flatnonzero(near[radius : radius + n, radius : radius + n])
        planes = len(self.offsets) // (n * n)
        return (np.arange(planes)[:, None] * n * n + flat[None, :]).ravel()


@dataclass(frozen=True)
class ReaderAssets:
    size: tuple[int, int]  # (h, w) of the working image
    static_pixels: np.ndarray  # (S,) flat indices of the skin's static parts and their margin
    static_template: np.ndarray  # (3S,) their rendering, centred, unit norm
    buttons: tuple[ButtonGroup, ...]
    sticks: tuple[StickAssets, ...]
    unreadable: tuple[str, ...]  # buttons whose pictures do not differ at this size


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` (h, w) bool grown by ``radius`` pixels (a square neighbourhood)."""
    if radius <= 0:
        return mask.copy()
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


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


def _over(canvas: np.ndarray, layer: np.ndarray) -> None:
    """Straight-alpha ``layer`` (h, w, 4) float32 over ``canvas`` (same shape), in place."""
    a = layer[..., 3:]
    below = canvas[..., 3:] * (1.0 - a)
    out_a = a + below
    rgb = layer[..., :3] * a + canvas[..., :3] * below
    np.divide(rgb, out_a, out=rgb, where=out_a > 0)
    canvas[..., :3], canvas[..., 3:] = rgb, out_a


class _Layers:
    """One region's renderings for many actions, as a shared base picture plus, per action, the tile
    its moving parts touch.

    The elements whose controls differ between the actions are *dynamic*; those below them are
    drawn once, and those above once into a layer put over each picture. Outside a dynamic element's
    sprite a picture equals the base (every element but the dynamic ones drawn), so only the tile
    around the sprites differs: hundreds of stick renderings differ by one cap a fraction of the
    stick's box in size.
    """

    def __init__(self, region: Skin, actions: np.ndarray) -> None:
        varying = {name for name, i in INDEX.items() if np.ptp(actions[:, i]) > 0}
        elements = region.elements
        dynamic = [i for i, e in enumerate(elements) if varying & set(e.controls())]
        first, last = (dynamic[0], dynamic[-1]) if dynamic else (len(elements), len(elements) - 1)
        self.size = region.size
        self.below = np.zeros((*region.size, 4), np.float32)
        self.above = np.zeros((*region.size, 4), np.float32)
        for e in elements[:first]:
            e.draw(self.below, actions[0])
        for e in elements[last + 1 :]:
            e.draw(self.above, actions[0])
        self.covered = bool(self.above[..., 3].any())
        self.middle = elements[first : last + 1]
        self.dynamic = [elements[i] for i in dynamic]
        base = self.below.copy()
        for e in self.middle:
            if e not in self.dynamic:
                e.draw(base, actions[0])
        self.base = self._finish(base)

    def _finish(self, canvas: np.ndarray, above: np.ndarray | None = None) -> np.ndarray:
        """``canvas`` (straight alpha, changed in place) with the above layer over it, premultiplied."""
        if self.covered:
            _over(canvas, self.above if above is None else above)
        canvas[..., :3] *= canvas[..., 3:]  # premultiplied: blurring and warping stay exact
        return canvas

    def tile(self, action: np.ndarray, margin: int) -> Box:
        """The box the dynamic elements draw into for ``action``, grown by ``margin``, clipped."""
        boxes = []
        for e in self.dynamic:
            if isinstance(e, Stick):
                look = e.look(action)
                sprite = e.sprite_for(look)
                boxes.append((e.x + look[0], e.y + look[1], sprite.shape[1], sprite.shape[0]))
            else:
                boxes.append(e.box())
        if not boxes:
            return (0, 0, 0, 0)
        x0, y0 = min(b[0] for b in boxes) - margin, min(b[1] for b in boxes) - margin
        x1 = max(b[0] + b[2] for b in boxes) + margin
        y1 = max(b[1] + b[3] for b in boxes) + margin
        return _clip_box((x0, y0, x1 - x0, y1 - y0), self.size)

    def delta(self, action: np.ndarray, tile: Box) -> np.ndarray:
        """The premultiplied picture for ``action`` minus the base, inside ``tile`` (zero outside it)."""
        x, y, w, h = tile
        canvas = self.below.copy()
        for e in self.middle:
            e.draw(canvas, action)
        part = self._finish(canvas[y : y + h, x : x + w], self.above[y : y + h, x : x + w])
        return part - self.base[y : y + h, x : x + w]

    def deltas(self, actions: np.ndarray, margin: int) -> list[tuple[Box, np.ndarray]]:
        """Per action, its :meth:`tile` (grown by ``margin``) and :meth:`delta` there.

        When a lone stick cap is all that moves (a stick's renderings), a picture differs from the base
        only under the cap: the caps of all actions are put over a stack of the layers' pixels there at
        once, in premultiplied alpha (the same pictures to float rounding), so hundreds of renderings
        cost a few array operations instead of a few hundred small ones.
        """
        tiles = [self.tile(a, margin) for a in actions]
        stick = self.dynamic[0] if len(self.dynamic) == 1 else None
        if not isinstance(stick, Stick) or list(self.middle) != self.dynamic:
            return [(t, self.delta(a, t)) for a, t in zip(actions, tiles, strict=True)]
        looks = [stick.look(a) for a in actions]
        sprites = {
            clicked: _premultiplied(
                stick.sprite_for((0, 0, clicked)).astype(np.float32) * np.float32(1 / 255)
            )
            for clicked in {look[2] for look in looks}
        }
        caps = [(stick.x + look[0], stick.y + look[1], *sprites[look[2]].shape[1::-1]) for look in looks]
        if any(_clip_box(cap, self.size) != cap for cap in caps):  # a cap off the canvas: draw one by one
            return [(t, self.delta(a, t)) for a, t in zip(actions, tiles, strict=True)]
        below, above = _premultiplied(self.below), _premultiplied(self.above)
        groups: dict[tuple[bool, int, int, int, int], list[int]] = {}  # one sprite, tile size, place in it
        for k, (look, cap, tile) in enumerate(zip(looks, caps, tiles, strict=True)):
            groups.setdefault((look[2], tile[2], tile[3], cap[0] - tile[0], cap[1] - tile[1]), []).append(k)
        out: list[tuple[Box, np.ndarray] | None] = [None] * len(actions)
        for (clicked, w, h, sx, sy), members in groups.items():
            sprite = sprites[clicked]
            sh, sw = sprite.shape[:2]
            under = [
                (slice(caps[k][1], caps[k][1] + sh), slice(caps[k][0], caps[k][0] + sw)) for k in members
            ]
            picture = sprite + np.stack([below[u] for u in under]) * (1.0 - sprite[..., 3:])
            if self.covered:
                top = np.stack([above[u] for u in under])
                picture = top + picture * (1.0 - top[..., 3:])
            stack = np.zeros((len(members), h, w, 4), np.float32)
            stack[:, sy : sy + sh, sx : sx + sw] = picture - np.stack([self.base[u] for u in under])
            for k, delta in zip(members, stack, strict=True):
                out[k] = (tiles[k], delta)
        return out  # type: ignore[return-value]


def _premultiplied(rgba: np.ndarray) -> np.ndarray:
    """A copy of straight-alpha ``rgba`` (..., 4) float32 with its colour multiplied by its opacity."""
    out = rgba.copy()
    out[..., :3] *= out[..., 3:]
    return out


class _Renderer:
    """Renders working-pixel boxes of one skin at one working factor."""

    def __init__(self, skin: Skin, factor: float) -> None:
        self.skin, self.factor = skin, factor
        self.render_factor = min(1.0, RENDER_OVERSAMPLE * factor)
        self.render_skin = resize_skin(skin, self.render_factor) if self.render_factor < 1 else skin
        self.size = (math.ceil(skin.size[0] * factor), math.ceil(skin.size[1] * factor))

    def working_box(self, box: Box, margin: int = 0) -> Box:
        """A skin-pixel box as the working-pixel box that covers it, grown by ``margin``, clipped."""
        f = self.factor
        x0, y0 = math.floor(box[0] * f) - margin, math.floor(box[1] * f) - margin
        x1, y1 = math.ceil((box[0] + box[2]) * f) + margin, math.ceil((box[1] + box[3]) * f) + margin
        return _clip_box((x0, y0, x1 - x0, y1 - y0), self.size)

    def render(self, box: Box, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(K, 21)`` actions → premultiplied colour ``(K, h, w, 3)`` and opacity ``(K, h, w)``, float32
        in [0, 1], of working box ``box``."""
        ux, uy, uw, uh = box
        r = self.factor / self.render_factor  # render-skin pixels -> working pixels
        pad = math.ceil(2 / r) + 1
        bx, by = math.floor(ux / r) - pad, math.floor(uy / r) - pad
        bw, bh = math.ceil((ux + uw) / r) + pad - bx, math.ceil((uy + uh) / r) + pad - by
        region = _region_skin(self.render_skin, (bx, by, bw, bh))
        layers = _Layers(region, actions)
        sigma = 0.4 / r if r < 1 else 0.0  # what area-averaging does
        # Blurring and warping are linear: each picture is the base's result plus its tile's. The
        # region's padding keeps the border rule of the blur away from every pixel the warp samples.
        base = cv2.GaussianBlur(layers.base, (0, 0), sigma) if sigma else layers.base
        to_working = np.array([[r, 0, r * bx - ux], [0, r, r * by - uy]], np.float64)
        out = np.empty((len(actions), uh, uw, 4), np.float32)
        out[:] = cv2.warpAffine(base, to_working, (uw, uh), flags=cv2.INTER_LINEAR)
        spread = math.ceil(4 * sigma) + 1  # OpenCV's Gaussian kernel reaches about 4 sigma
        # Actions that draw the same pixels (a small stick's cap moves by whole render pixels: many of
        # a grid's offsets round to one position) are drawn once and copied.
        looks = [tuple(e.look(action) for e in layers.dynamic) for action in actions]
        drawn: dict[tuple, int] = {}
        for k, look in enumerate(looks):
            drawn.setdefault(look, k)
        firsts = list(drawn.values())
        tiles = layers.deltas(actions[firsts], spread)
        if sigma:  # zero outside each tile, as the whole region's difference is
            tiles = list(zip((t for t, _ in tiles), _blur_tiles([d for _, d in tiles], sigma), strict=True))
        for k, (tile, delta) in zip(firsts, tiles, strict=True):
            tx, ty, tw, th = tile
            if tw == 0 or th == 0:
                continue
            # The working pixels whose bilinear taps reach the tile.
            shift = to_working[:, 2] + r * np.array([tx, ty])
            ox, oy = max(0, math.floor(shift[0] - r) - 1), max(0, math.floor(shift[1] - r) - 1)
            ox1 = min(uw, math.ceil(shift[0] + r * tw) + 2)
            oy1 = min(uh, math.ceil(shift[1] + r * th) + 2)
            if ox1 <= ox or oy1 <= oy:
                continue
            matrix = np.array([[r, 0, shift[0] - ox], [0, r, shift[1] - oy]], np.float64)
            out[k, oy:oy1, ox:ox1] += cv2.warpAffine(
                delta, matrix, (ox1 - ox, oy1 - oy), flags=cv2.INTER_LINEAR
            )
        for k, look in enumerate(looks):
            if drawn[look] != k:
                out[k] = out[drawn[look]]
        return out[..., :3], out[..., 3]


def _blur_tiles(tiles: list[np.ndarray], sigma: float) -> list[np.ndarray]:
    """Each ``(h, w, 4)`` tile Gaussian-blurred on its own (zero beyond its edges), in few calls:
    tiles of one size are stacked with zero rows between them as wide as the kernel reaches."""
    gap = math.ceil(4 * sigma) + 1  # at least the reach of OpenCV's kernel for float images
    out: list[np.ndarray | None] = [None] * len(tiles)
    shapes: dict[tuple[int, ...], list[int]] = {}
    for k, tile in enumerate(tiles):
        shapes.setdefault(tile.shape, []).append(k)
    for (h, w, c), members in shapes.items():
        if h == 0 or w == 0:
            for k in members:
                out[k] = tiles[k]
            continue
        stack = np.zeros((len(members), h + gap, w, c), np.float32)
        stack[:, :h] = [tiles[k] for k in members]
        blurred = cv2.GaussianBlur(stack.reshape(-1, w, c), (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
        for k, tile in zip(members, blurred.reshape(stack.shape)[:, :h], strict=True):
            out[k] = tile
    return out  # type: ignore[return-value]


def _buttons(skin: Skin, renderer: _Renderer, config: AssetConfig) -> tuple[ButtonGroup, ...]:
    """The groups of buttons whose pictures differ at this size (others cannot be read)."""
    regions = skin.regions()
    clicks = {f"{side}_thumb" for side in skin.sticks()}
    dpad = tuple(c for c in DPAD if c in regions)
    groups = [(dpad, [s for s in DPAD_STATES if set(s) <= set(dpad)])] if dpad else []
    for name in skin.controls:
        if INDEX[name] < NUM_BUTTONS and name not in DPAD and name not in clicks:
            groups.append(((name,), [(), (name,)]))
    out = []
    for controls, states in groups:
        boxes = [regions[c] for c in controls]
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
        box = renderer.working_box((x0, y0, x1 - x0, y1 - y0), config.context_px)
        actions = np.zeros((len(states), ACTION_DIM), np.float32)
        for k, state in enumerate(states):
            actions[k, [INDEX[c] for c in state]] = 1.0
        colour, alpha = renderer.render(box, actions)
        over_grey = colour + 0.5 * (1.0 - alpha[..., None])
        differs = (over_grey.max(0) - over_grey.min(0)).max(-1) > config.diff_threshold
        if not differs.any():
            continue
        # Context: a flat sprite's level against its surroundings (the fit models the game behind).
        mask = _dilate(differs, config.context_px)
        ys, xs = np.nonzero(mask)
        pixels = (ys + box[1]) * renderer.size[1] + xs + box[0]
        out.append(ButtonGroup(controls, pixels, Templates.build(colour[:, mask], alpha[:, mask]), actions))
    return tuple(out)


def _stick(skin: Skin, renderer: _Renderer, side: str, steps: int) -> StickAssets:
    click = f"{side}_thumb" if f"{side}_thumb" in skin.controls else None
    box = renderer.working_box(skin.regions()[f"{side}_x"])
    axis = np.linspace(-1.0, 1.0, steps, dtype=np.float32)
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
    # One plane at a time: with the click fixed only the cap moves (whether the skin draws the click on
    # the cap or as a button of its own), which the renderer draws for all offsets at once.
    planes = [
        renderer.render(box, actions[p * len(offsets) : (p + 1) * len(offsets)]) for p in range(len(presses))
    ]
    colour, alpha = (np.concatenate(parts) for parts in zip(*planes, strict=True))
    k = len(actions)
    templates = Templates.build(colour.reshape(k, -1, 3), alpha.reshape(k, -1))
    even = np.arange(steps) % 2 == 0
    coarse = np.flatnonzero((even[:, None] & even[None, :]).ravel())
    ys, xs = np.mgrid[box[1] : box[1] + box[3], box[0] : box[0] + box[2]]
    return StickAssets(
        side, box, (ys * renderer.size[1] + xs).ravel(), templates, np.tile(offsets, (len(presses), 1)),
        np.repeat(np.array(presses), len(offsets)), steps, click, coarse, templates.subset(coarse),
    )  # fmt: skip


def _static(skin: Skin, renderer: _Renderer, config: AssetConfig) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices and centred unit-norm rendering of the skin's static parts plus a margin.

    The margin matters for line-art skins: an outline is one colour, so only its contrast with its
    surroundings says whether it is there.
    """
    h, w = renderer.size
    colour, alpha = (a[0] for a in renderer.render((0, 0, w, h), np.zeros((1, ACTION_DIM), np.float32)))
    static = _dilate(alpha > 0.5, config.context_px)
    controls = np.zeros_like(static)
    for box in skin.regions().values():
        x, y, bw, bh = renderer.working_box(box, 1)
        controls[y : y + bh, x : x + bw] = True
    if (static & ~controls).sum() >= 20:
        static &= ~controls  # else a skin that is all controls: use everything it draws
    pixels = np.flatnonzero(static)
    if len(pixels) > STATIC_PIXELS:  # enough to tell the overlay is there; more only costs time
        pixels = pixels[np.linspace(0, len(pixels) - 1, STATIC_PIXELS).astype(np.int64)]
    template = (colour + 0.5 * (1.0 - alpha[..., None])).reshape(-1, 3)[pixels].ravel()
    template = template - template.mean()
    return pixels, template / max(float(np.linalg.norm(template)), 1e-6)


@functools.lru_cache(maxsize=16)
def reader_assets(skin: Skin, factor: float, config: AssetConfig = AssetConfig()) -> ReaderAssets:
    """The renderings the reader needs for ``skin`` at working ``factor`` (memoised per process:
    skins hash by identity, so one loaded skin set shares its entries)."""
    renderer = _Renderer(skin, factor)
    buttons = _buttons(skin, renderer, config)
    read = {c for g in buttons for c in g.controls}
    clicks = {f"{side}_thumb" for side in skin.sticks()}
    unreadable = tuple(
        c for c in skin.controls if INDEX[c] < NUM_BUTTONS and c not in read and c not in clicks
    )
    if unreadable:
        log.info("skin %s: %s look the same pressed and released", skin.name, ", ".join(unreadable))
    sticks = tuple(_stick(skin, renderer, side, config.stick_steps) for side in skin.sticks())
    pixels, template = _static(skin, renderer, config)
    return ReaderAssets(renderer.size, pixels, template, buttons, sticks, unreadable)
