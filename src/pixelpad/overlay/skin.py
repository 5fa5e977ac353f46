"""A controller overlay skin: a picture of a gamepad that renders any pixelpad action exactly.

Every skin, whatever file format it came from (input-overlay presets, NintendoSpy ``skin.xml``, the
procedural generator), becomes the same thing: a canvas size and an ordered list of *elements*,
each a sprite drawn at a pixel position depending on the action. Rendering draws them in order with
straight-alpha "over" compositing, so a skin is a pure function ``action (21,) -> RGBA (H, W, 4)``:
synthetic videos get their ground truth for free, and the template reader (the parser stage) can
ask a skin for everything it needs:

* :attr:`Skin.controls` -- the pixelpad controls the skin shows; the others are *absent* (their
  label is "unknown", never "released");
* :meth:`Skin.regions` -- per control, the box ``(x, y, w, h)`` in skin pixels that its pictures
  cover (a stick's box spans its whole range of motion);
* :meth:`Skin.render` on one-control actions -- its pressed / released pictures (see
  :meth:`Skin.pressed`);
* :meth:`Skin.sticks` -- where each stick's cap sits at rest and how far it moves per unit axis
  (``cap = rest + axis * range``, pixel-rounded like the formats' renderers do).

Sprite positions are rounded to whole pixels (the formats' GPU renderers place them sub-pixel; whole
pixels keep renders exact and comparable).

Example:
    >>> skin = load_skin("../shared/skins/input-overlay/xbox-controller")   # doctest: +SKIP
    >>> rgba = skin.render(from_dict({"south": 1, "left_x": 1.0}))          # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pixelpad.actions import ACTION_DIM, INDEX, NAMES
from pixelpad.errors import PixelpadError

Box = tuple[int, int, int, int]  # x, y, w, h
Direction = Literal["up", "down", "left", "right"]
BUTTON_PRESSED = 0.5  # a button value at or above this draws the pressed picture


class SkinError(PixelpadError):
    """A skin file or skin definition that cannot be used: the message says which and why."""


def _as_rgba(image: np.ndarray) -> np.ndarray:
    """Validate a sprite: uint8 ``(h, w, 4)``."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 4:
        raise SkinError(f"a sprite must be uint8 (h, w, 4) RGBA, got {image.dtype} {image.shape}")
    return image


def composite(canvas: np.ndarray, sprite: np.ndarray, x: int, y: int) -> None:
    """Draw ``sprite`` (h, w, 4) uint8 over ``canvas`` (..., H, W, 4) float32 in [0, 1] at (x, y), in
    place (over every picture of a stack of canvases at once).

    Straight-alpha "over": out_a = a + A(1 - a); out_rgb = (rgb a + RGB A (1 - a)) / out_a. Parts
    outside the canvas are clipped.
    """
    h, w = sprite.shape[:2]
    big_h, big_w = canvas.shape[-3:-1]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, big_w), min(y + h, big_h)
    if x0 >= x1 or y0 >= y1:
        return
    src = sprite[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32) * (1.0 / 255.0)
    dst = canvas[..., y0:y1, x0:x1, :]
    a = src[..., 3:4]
    below = dst[..., 3:4] * (1.0 - a)
    out_a = a + below
    rgb = src[..., :3] * a + dst[..., :3] * below
    np.divide(rgb, out_a, out=rgb, where=out_a > 0)
    dst[..., :3] = rgb
    dst[..., 3:4] = out_a


@dataclass(frozen=True, eq=False)
class Static:
    """A sprite drawn whatever the action (the controller's body, labels)."""

    sprite: np.ndarray
    x: int
    y: int

    def look(self, action: np.ndarray) -> None:
        """What ``action`` makes this element draw (see :meth:`Button.look`): always the same."""
        return None

    def draw(self, canvas: np.ndarray, action: np.ndarray) -> None:
        composite(canvas, self.sprite, self.x, self.y)

    def controls(self) -> tuple[str, ...]:
        return ()

    def box(self) -> Box:
        return (self.x, self.y, self.sprite.shape[1], self.sprite.shape[0])


@dataclass(frozen=True, eq=False)
class Button:
    """A digital control: ``pressed`` drawn when its value >= 0.5, else ``released`` (either may be None)."""

    control: str
    released: np.ndarray | None
    pressed: np.ndarray | None
    x: int
    y: int

    def look(self, action: np.ndarray) -> bool:
        """What ``action`` makes this element draw, as a hashable value: two actions with the same look
        draw the same pixels (renderers use it to draw each distinct picture once)."""
        return bool(action[INDEX[self.control]] >= BUTTON_PRESSED)

    def draw(self, canvas: np.ndarray, action: np.ndarray) -> None:
        sprite = self.pressed if self.look(action) else self.released
        if sprite is not None:
            composite(canvas, sprite, self.x, self.y)

    def controls(self) -> tuple[str, ...]:
        return (self.control,)

    def box(self) -> Box:
        sprites = [s for s in (self.released, self.pressed) if s is not None]
        return (self.x, self.y, max(s.shape[1] for s in sprites), max(s.shape[0] for s in sprites))


@dataclass(frozen=True, eq=False)
class Stick:
    """A stick cap drawn at ``(x, y) + (axis_x * range_x, axis_y * range_y)`` (+y is down).

    ``click`` names the stick's button (``left_thumb``/``right_thumb``) when the skin shows it with
    ``pressed`` (None: the click is not shown).
    """

    side: Literal["left", "right"]
    released: np.ndarray
    x: int
    y: int
    range_x: float
    range_y: float
    pressed: np.ndarray | None = None

    @property
    def click(self) -> str | None:
        return f"{self.side}_thumb" if self.pressed is not None else None

    def offset(self, action: np.ndarray) -> tuple[int, int]:
        """Pixel offset of the cap for ``action``: round(axis * range), axes clipped to [-1, 1]."""
        # Plain floats: np.clip on scalars was most of the cost of rendering hundreds of stick pictures.
        ax, ay = float(action[INDEX[f"{self.side}_x"]]), float(action[INDEX[f"{self.side}_y"]])
        ax = -1.0 if ax < -1.0 else 1.0 if ax > 1.0 else ax  # NaN stays NaN: round() refuses it
        ay = -1.0 if ay < -1.0 else 1.0 if ay > 1.0 else ay
        return round(ax * self.range_x), round(ay * self.range_y)

    def look(self, action: np.ndarray) -> tuple[int, int, bool]:
        """The cap's pixel offset and whether it is drawn clicked (see :meth:`Button.look`)."""
        click = self.click
        return (*self.offset(action), bool(click and action[INDEX[click]] >= BUTTON_PRESSED))

    def sprite_for(self, look: tuple[int, int, bool]) -> np.ndarray:
        """The cap's picture for a :meth:`look`."""
        return self.pressed if look[2] else self.released

    def draw(self, canvas: np.ndarray, action: np.ndarray) -> None:
        look = self.look(action)
        composite(canvas, self.sprite_for(look), self.x + look[0], self.y + look[1])

    def controls(self) -> tuple[str, ...]:
        axes = (f"{self.side}_x", f"{self.side}_y")
        return (*axes, self.click) if self.click else axes

    def box(self) -> Box:
        h, w = self.released.shape[:2]
        rx, ry = math.ceil(abs(self.range_x)), math.ceil(abs(self.range_y))
        return (self.x - rx, self.y - ry, w + 2 * rx, h + 2 * ry)


@dataclass(frozen=True, eq=False)
class Trigger:
    """An analog trigger: a fraction ``value`` of ``sprite`` revealed from one side.

    ``direction`` is where the reveal grows towards: "up" shows the bottom ``value`` of the sprite,
    "down" the top, "left" the right part, "right" the left part (both formats' convention).
    ``reverse`` reveals ``1 - value`` (a cover that shrinks as the trigger is pressed). Values are
    clipped to [0, 1]; the revealed size is truncated to whole pixels.
    """

    control: str
    sprite: np.ndarray
    x: int
    y: int
    direction: Direction
    reverse: bool = False

    def look(self, action: np.ndarray) -> int:
        """How many rows (up/down) or columns (left/right) of the sprite are shown (see
        :meth:`Button.look`)."""
        value = float(np.clip(action[INDEX[self.control]], 0.0, 1.0))
        if self.reverse:
            value = 1.0 - value
        h, w = self.sprite.shape[:2]
        return int((h if self.direction in ("up", "down") else w) * value)

    def draw(self, canvas: np.ndarray, action: np.ndarray) -> None:
        shown = self.look(action)
        if shown <= 0:
            return
        h, w = self.sprite.shape[:2]
        if self.direction in ("up", "down"):
            if self.direction == "up":
                composite(canvas, self.sprite[h - shown :], self.x, self.y + h - shown)
            else:
                composite(canvas, self.sprite[:shown], self.x, self.y)
        else:
            if self.direction == "left":
                composite(canvas, self.sprite[:, w - shown :], self.x + w - shown, self.y)
            else:
                composite(canvas, self.sprite[:, :shown], self.x, self.y)

    def controls(self) -> tuple[str, ...]:
        return (self.control,)

    def box(self) -> Box:
        return (self.x, self.y, self.sprite.shape[1], self.sprite.shape[0])


DPAD_STATES = ("left", "right", "up", "down", "up_left", "up_right", "down_left", "down_right")


@dataclass(frozen=True, eq=False)
class DPad:
    """A d-pad drawn as one picture per direction (input-overlay's d-pad element).

    ``sprites`` maps a state of :data:`DPAD_STATES` to its picture; ``released`` is drawn when no
    direction is held. Up/down win over left/right the way input-overlay resolves them.
    """

    released: np.ndarray
    sprites: dict[str, np.ndarray]
    x: int
    y: int

    @staticmethod
    def state(action: np.ndarray) -> str | None:
        up, down = action[INDEX["dpad_up"]] >= BUTTON_PRESSED, action[INDEX["dpad_down"]] >= BUTTON_PRESSED
        left, right = (
            action[INDEX["dpad_left"]] >= BUTTON_PRESSED,
            action[INDEX["dpad_right"]] >= BUTTON_PRESSED,
        )
        vertical = "up" if up else "down" if down else None
        horizontal = "left" if left else "right" if right else None
        if vertical and horizontal:
            return f"{vertical}_{horizontal}"
        return vertical or horizontal

    def look(self, action: np.ndarray) -> str | None:
        """The direction drawn (see :meth:`Button.look`)."""
        return self.state(action)

    def draw(self, canvas: np.ndarray, action: np.ndarray) -> None:
        state = self.state(action)
        composite(canvas, self.sprites[state] if state else self.released, self.x, self.y)

    def controls(self) -> tuple[str, ...]:
        return ("dpad_down", "dpad_left", "dpad_right", "dpad_up")

    def box(self) -> Box:
        return (self.x, self.y, self.released.shape[1], self.released.shape[0])


Element = Static | Button | Stick | Trigger | DPad


@dataclass(frozen=True)
class StickGeometry:
    """Where a stick's cap is: ``rest`` box ``(x, y, w, h)`` at (0, 0); ``range`` pixels per unit axis."""

    rest: Box
    range: tuple[float, float]


@dataclass(frozen=True, eq=False)
class Skin:
    """A controller overlay: ``size`` (height, width) canvas and ``elements`` drawn in order.

    Attributes:
        name: unique id, ``<format>/<preset>[/<colourway>]`` (e.g. ``input-overlay/dualsense/black``).
        layout: id shared by the colourways of one layout (same geometry, other pictures).
        size: (height, width) of the rendered picture.
        elements: the drawing steps, bottom first.
        source: where it was loaded from ("" for procedural skins).
    """

    name: str
    layout: str
    size: tuple[int, int]
    elements: tuple[Element, ...]
    source: str = ""
    _base: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        unknown = [c for e in self.elements for c in e.controls() if c not in INDEX]
        if unknown:
            raise SkinError(f"skin {self.name}: controls {unknown} are not pixelpad controls")
        for element in self.elements:
            for sprite in (getattr(element, a, None) for a in ("sprite", "released", "pressed")):
                if sprite is not None:
                    _as_rgba(sprite)
        # The leading static elements never change: render them once.
        base = np.zeros((*self.size, 4), np.float32)
        for element in self.elements[: self._first_dynamic()]:
            element.draw(base, np.zeros(ACTION_DIM, np.float32))
        object.__setattr__(self, "_base", base)

    def _first_dynamic(self) -> int:
        for i, element in enumerate(self.elements):
            if not isinstance(element, Static):
                return i
        return len(self.elements)

    @property
    def controls(self) -> tuple[str, ...]:
        """The pixelpad controls this skin shows, in :data:`pixelpad.actions.NAMES` order."""
        shown = {c for e in self.elements for c in e.controls()}
        return tuple(n for n in NAMES if n in shown)

    @property
    def absent(self) -> tuple[str, ...]:
        """The pixelpad controls this skin does not show: a reader must label them "unknown"."""
        shown = set(self.controls)
        return tuple(n for n in NAMES if n not in shown)

    def mask(self) -> np.ndarray:
        """``(21,)`` bool: True where the skin shows the control (buttons and axes)."""
        shown = set(self.controls)
        return np.array([n in shown for n in NAMES])

    def render(self, action: np.ndarray | Sequence[float], *, as_float: bool = False) -> np.ndarray:
        """The overlay for one action ``(21,)``: RGBA ``(H, W, 4)`` uint8 (float32 in [0, 1] if as_float).

        Buttons count as pressed at >= 0.5; trigger values in [0, 1] reveal their sprite partially
        where the skin has an analog trigger; axes are clipped to [-1, 1].
        """
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (ACTION_DIM,):
            raise SkinError(f"skin {self.name}: an action is ({ACTION_DIM},), got {action.shape}")
        canvas = self._base.copy()
        for element in self.elements[self._first_dynamic() :]:
            element.draw(canvas, action)
        if as_float:
            return canvas
        return (canvas * 255.0 + 0.5).astype(np.uint8)

    def released(self) -> np.ndarray:
        """The overlay with nothing pressed and sticks centred: RGBA (H, W, 4) uint8 (the template)."""
        return self.render(np.zeros(ACTION_DIM, np.float32))

    def pressed(self, control: str, value: float = 1.0) -> np.ndarray:
        """The overlay with only ``control`` at ``value`` (a button, or an axis in [-1, 1])."""
        if control not in INDEX:
            raise SkinError(f"unknown control {control!r}; controls are {', '.join(NAMES)}")
        action = np.zeros(ACTION_DIM, np.float32)
        action[INDEX[control]] = value
        return self.render(action)

    def regions(self) -> dict[str, Box]:
        """Per shown control, the box (x, y, w, h) in skin pixels its pictures can cover."""
        boxes: dict[str, list[Box]] = {}
        for element in self.elements:
            for control in element.controls():
                boxes.setdefault(control, []).append(element.box())
        out: dict[str, Box] = {}
        for control in self.controls:
            x0 = min(b[0] for b in boxes[control])
            y0 = min(b[1] for b in boxes[control])
            x1 = max(b[0] + b[2] for b in boxes[control])
            y1 = max(b[1] + b[3] for b in boxes[control])
            out[control] = (x0, y0, x1 - x0, y1 - y0)
        return out

    def sticks(self) -> dict[str, StickGeometry]:
        """``{"left"|"right": StickGeometry}`` for the sticks this skin shows."""
        out = {}
        for element in self.elements:
            if isinstance(element, Stick):
                h, w = element.released.shape[:2]
                out[element.side] = StickGeometry(
                    (element.x, element.y, w, h), (element.range_x, element.range_y)
                )
        return out


def _resize_sprite(sprite: np.ndarray, factor: float) -> np.ndarray:
    import cv2

    h, w = sprite.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return cv2.resize(sprite, size, interpolation=interpolation)


def resize_skin(skin: Skin, factor: float) -> Skin:
    """The same skin drawn ``factor`` times as large: sprites resampled, positions and ranges scaled.

    Real skins come at 1-2 kilopixels wide; overlays in videos are a few hundred, and renders cost
    in proportion to pixels, so synthesis and training work on a resized copy.
    """
    if factor <= 0:
        raise SkinError(f"skin {skin.name}: resize factor must be positive, got {factor}")

    def sprite(s: np.ndarray | None) -> np.ndarray | None:
        return None if s is None else _resize_sprite(s, factor)

    def pos(v: int) -> int:
        return round(v * factor)

    elements: list[Element] = []
    for e in skin.elements:
        if isinstance(e, Static):
            elements.append(Static(sprite(e.sprite), pos(e.x), pos(e.y)))
        elif isinstance(e, Button):
            elements.append(Button(e.control, sprite(e.released), sprite(e.pressed), pos(e.x), pos(e.y)))
        elif isinstance(e, Stick):
            elements.append(
                Stick(
                    e.side, sprite(e.released), pos(e.x), pos(e.y),
                    e.range_x * factor, e.range_y * factor, sprite(e.pressed),
                )
            )  # fmt: skip
        elif isinstance(e, Trigger):
            elements.append(Trigger(e.control, sprite(e.sprite), pos(e.x), pos(e.y), e.direction, e.reverse))
        else:
            sprites = {k: sprite(v) for k, v in e.sprites.items()}
            elements.append(DPad(sprite(e.released), sprites, pos(e.x), pos(e.y)))
    size = (max(1, round(skin.size[0] * factor)), max(1, round(skin.size[1] * factor)))
    return Skin(skin.name, skin.layout, size, tuple(elements), skin.source)


def fit_skin(skin: Skin, max_side: int) -> Skin:
    """``skin`` resized so that its longer side is at most ``max_side`` pixels (unchanged if smaller)."""
    factor = max_side / max(skin.size)
    return skin if factor >= 1 else resize_skin(skin, factor)
