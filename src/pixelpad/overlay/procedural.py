"""Procedural skin families: hundreds of controller overlays drawn by our own code.

Real skins are few (a few dozen); the localiser and the parser must not overfit them. A *layout*
fixes the geometry of one family member (Xbox-, PlayStation-, Switch-, SNES- or generic-style
placement of sticks, d-pad, face buttons, shoulders, triggers and menu buttons, each jittered); a
*style* fixes how it looks (body colour and opacity, outline, button colours and labels, how a
pressed control is shown: filled, glowing, darkened or inverted). ``procedural_skins(n, seed)``
draws ``n`` skins as layouts × a few colourways each, like real presets ship several colourways of
one layout. Everything is deterministic in ``seed``.

Shapes are drawn with OpenCV at 4× and downsampled, so edges are anti-aliased with real alpha.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np

from pixelpad.overlay.skin import Button, Element, Skin, SkinError, Static, Stick, Trigger

FAMILIES = ("xbox", "playstation", "switch", "snes", "generic")
COLOURWAYS_PER_LAYOUT = 3
SUPERSAMPLE = 4
FACE_LABELS = {
    "xbox": {"south": "A", "east": "B", "west": "X", "north": "Y"},
    "switch": {"south": "B", "east": "A", "west": "Y", "north": "X"},
    "snes": {"south": "B", "east": "A", "west": "Y", "north": "X"},
    "generic": {"south": "1", "east": "2", "west": "3", "north": "4"},
    "playstation": {"south": "cross", "east": "circle", "west": "square", "north": "triangle"},
}
# Centre (x, y) of each group as fractions of the canvas, per family.
PLACES: dict[str, dict[str, tuple[float, float]]] = {
    "xbox": {"lstick": (0.24, 0.40), "dpad": (0.37, 0.66), "face": (0.76, 0.40), "rstick": (0.63, 0.66)},
    "playstation": {
        "lstick": (0.37, 0.68),
        "dpad": (0.22, 0.40),
        "face": (0.78, 0.40),
        "rstick": (0.63, 0.68),
    },
    "switch": {"lstick": (0.24, 0.38), "dpad": (0.36, 0.67), "face": (0.76, 0.38), "rstick": (0.64, 0.67)},
    "snes": {"dpad": (0.24, 0.52), "face": (0.76, 0.52)},
    "generic": {"lstick": (0.34, 0.70), "dpad": (0.20, 0.42), "face": (0.80, 0.42), "rstick": (0.66, 0.70)},
}


@dataclass(frozen=True)
class Style:
    """How a skin looks: colours are RGB uint8 triples, alphas in [0, 1]."""

    body: tuple[int, int, int]
    body_alpha: float
    outline: tuple[int, int, int]
    outline_px: int
    button: tuple[int, int, int]
    label: tuple[int, int, int]
    accent: tuple[int, int, int]
    pressed: str  # "fill" | "glow" | "dark" | "invert"


def _colour(rng: np.random.Generator, value: tuple[float, float] = (0.2, 1.0)) -> tuple[int, int, int]:
    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0, 1), rng.uniform(*value))
    return tuple(int(c * 255) for c in rgb)  # type: ignore[return-value]


def random_style(rng: np.random.Generator) -> Style:
    body = _colour(rng)
    dark = sum(body) < 384
    return Style(
        body=body,
        body_alpha=float(rng.choice([1.0, 1.0, 0.85, 0.6, 0.0])),  # 0: outline-only skins
        outline=(255, 255, 255) if dark else (20, 20, 20),
        outline_px=int(rng.integers(1, 4)),
        button=_colour(rng),
        label=(255, 255, 255) if rng.random() < 0.5 else (10, 10, 10),
        accent=_colour(rng, (0.8, 1.0)),
        pressed=str(rng.choice(["fill", "glow", "dark", "invert"])),
    )


def _canvas(w: int, h: int) -> np.ndarray:
    return np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE, 4), np.uint8)


def _finish(big: np.ndarray) -> np.ndarray:
    """Downsample a 4× drawing to its size with alpha-weighted (premultiplied) averaging."""
    h, w = big.shape[0] // SUPERSAMPLE, big.shape[1] // SUPERSAMPLE
    f = big.astype(np.float32)
    f[..., :3] *= f[..., 3:4] / 255.0
    small = cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
    alpha = small[..., 3:4]
    small[..., :3] = np.where(alpha > 0, small[..., :3] * 255.0 / np.maximum(alpha, 1e-6), 0)
    return np.clip(small + 0.5, 0, 255).astype(np.uint8)


def _rgba(colour: tuple[int, int, int], alpha: float = 1.0) -> tuple[int, int, int, int]:
    return (*colour, round(alpha * 255))


def _glyph(big: np.ndarray, label: str, colour: tuple[int, int, int]) -> None:
    """Draw a face-button label (letter, digit or PlayStation shape) centred on ``big``."""
    h, w = big.shape[:2]
    c, r = (w // 2, h // 2), min(w, h) // 4
    thick = max(2, r // 3)
    ink = _rgba(colour)
    if label == "cross":
        cv2.line(big, (c[0] - r, c[1] - r), (c[0] + r, c[1] + r), ink, thick, cv2.LINE_AA)
        cv2.line(big, (c[0] - r, c[1] + r), (c[0] + r, c[1] - r), ink, thick, cv2.LINE_AA)
    elif label == "circle":
        cv2.circle(big, c, r, ink, thick, cv2.LINE_AA)
    elif label == "square":
        cv2.rectangle(big, (c[0] - r, c[1] - r), (c[0] + r, c[1] + r), ink, thick, cv2.LINE_AA)
    elif label == "triangle":
        pts = np.array([(c[0], c[1] - r), (c[0] - r, c[1] + r * 3 // 4), (c[0] + r, c[1] + r * 3 // 4)])
        cv2.polylines(big, [pts.astype(np.int32)], True, ink, thick, cv2.LINE_AA)
    elif label:
        scale = r / 11.0
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        cv2.putText(
            big,
            label,
            (c[0] - tw // 2, c[1] + th // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            ink,
            thick,
            cv2.LINE_AA,
        )


def _shape(
    w: int, h: int, kind: str, fill: tuple[int, int, int, int], style: Style, label: str = ""
) -> np.ndarray:
    """A control's sprite ``(h, w, 4)``: ``kind`` "circle" | "rect" | "pill", filled, outlined, labelled."""
    big = _canvas(w, h)
    bh, bw = big.shape[:2]
    line = style.outline_px * SUPERSAMPLE
    outline = _rgba(style.outline)
    if kind == "circle":
        centre, radius = (bw // 2, bh // 2), min(bw, bh) // 2 - line
        cv2.circle(big, centre, radius, fill, -1, cv2.LINE_AA)
        cv2.circle(big, centre, radius, outline, line, cv2.LINE_AA)
    else:
        radius = min(bw, bh) // (2 if kind == "pill" else 5)
        x0, y0, x1, y1 = line, line, bw - line - 1, bh - line - 1
        for fill_or_line, thick in ((fill, -1), (outline, line)):
            cv2.rectangle(big, (x0 + radius, y0), (x1 - radius, y1), fill_or_line, thick, cv2.LINE_AA)
            cv2.rectangle(big, (x0, y0 + radius), (x1, y1 - radius), fill_or_line, thick, cv2.LINE_AA)
            for cx, cy in (
                (x0 + radius, y0 + radius),
                (x1 - radius, y0 + radius),
                (x0 + radius, y1 - radius),
                (x1 - radius, y1 - radius),
            ):
                cv2.circle(big, (cx, cy), radius, fill_or_line, thick, cv2.LINE_AA)
        if fill[3] > 0:  # repaint the inside over the inner outline strokes
            cv2.rectangle(big, (x0 + radius, y0 + line), (x1 - radius, y1 - line), fill, -1)
            cv2.rectangle(big, (x0 + line, y0 + radius), (x1 - line, y1 - radius), fill, -1)
    _glyph(big, label, style.label)
    return _finish(big)


def _pressed_fill(style: Style) -> tuple[int, int, int, int]:
    if style.pressed == "fill":
        return _rgba(style.accent)
    if style.pressed == "dark":
        return _rgba(tuple(c // 3 for c in style.button))  # type: ignore[arg-type]
    if style.pressed == "invert":
        return _rgba(tuple(255 - c for c in style.button))  # type: ignore[arg-type]
    return _rgba(style.button)


def _pair(w: int, h: int, kind: str, style: Style, label: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Released and pressed sprites of one control."""
    released = _shape(w, h, kind, _rgba(style.button), style, label)
    pressed = _shape(w, h, kind, _pressed_fill(style), style, label)
    if style.pressed == "glow":  # a bright ring around the released picture
        ring = _shape(
            w,
            h,
            kind,
            (0, 0, 0, 0),
            Style(**{**style.__dict__, "outline": style.accent, "outline_px": style.outline_px + 2}),
        )
        glow = ring[..., 3:4].astype(np.float32) / 255
        pressed = released.copy()
        pressed[..., :3] = (ring[..., :3] * glow + released[..., :3] * (1 - glow)).astype(np.uint8)
        pressed[..., 3] = np.maximum(released[..., 3], ring[..., 3])
    return released, pressed


@dataclass(frozen=True)
class Layout:
    """Geometry of one procedural skin: canvas size and the parameters drawn from the family."""

    family: str
    width: int
    height: int
    places: dict[str, tuple[float, float]]
    face_size: float  # button diameter as a fraction of width
    stick_size: float
    has: frozenset[str]  # optional groups present: "triggers", "shoulders", "menu", "guide", "clicks"
    face_spread: float = 1.05  # face-button distance from the group centre, in button diameters
    dpad_arm: float = 0.9  # d-pad arm size, in face-button diameters
    dpad_gap: float = 1.0  # d-pad arm distance from the centre, in arm sizes (1: a joined cross)
    well: float = 1.6  # stick well diameter, in cap diameters
    grip: float = 0.2  # grip radius, share of the width


def random_layout(rng: np.random.Generator, family: str) -> Layout:
    width = int(rng.integers(340, 460))
    height = int(width * rng.uniform(0.55, 0.72))
    jitter = {
        k: (x + rng.uniform(-0.06, 0.06), y + rng.uniform(-0.07, 0.07))
        for k, (x, y) in PLACES[family].items()
    }
    optional = {"triggers", "shoulders", "menu", "guide", "clicks"}
    drop = {g for g in sorted(optional) if rng.random() < 0.2}  # sorted: set order varies per process
    if family == "snes":
        drop |= {"triggers", "guide", "clicks"}
    return Layout(
        family,
        width,
        height,
        jitter,
        rng.uniform(0.055, 0.08),
        rng.uniform(0.11, 0.15),
        frozenset(optional - drop),
        face_spread=rng.uniform(0.9, 1.4),
        dpad_arm=rng.uniform(0.7, 1.2),
        dpad_gap=rng.uniform(1.0, 1.4),
        well=rng.uniform(1.35, 1.9),
        grip=rng.uniform(0.16, 0.24),
    )


def _body(layout: Layout, style: Style) -> np.ndarray:
    """The controller's body: a rounded slab with two grips."""
    w, h = layout.width, layout.height
    big = _canvas(w, h)
    s = SUPERSAMPLE
    fill, outline, line = _rgba(style.body, style.body_alpha), _rgba(style.outline), style.outline_px * s
    top, grip = int(0.12 * h * s), int(layout.grip * w * s)
    for paint, thick in ((fill, -1), (outline, line)):
        cv2.ellipse(
            big,
            (grip, int(0.62 * h * s)),
            (grip - line, int(0.36 * h * s)),
            0,
            0,
            360,
            paint,
            thick,
            cv2.LINE_AA,
        )
        cv2.ellipse(
            big,
            (w * s - grip, int(0.62 * h * s)),
            (grip - line, int(0.36 * h * s)),
            0,
            0,
            360,
            paint,
            thick,
            cv2.LINE_AA,
        )
        cv2.rectangle(
            big, (int(0.12 * w * s), top), (int(0.88 * w * s), int(0.72 * h * s)), paint, thick, cv2.LINE_AA
        )
    if style.body_alpha > 0:  # hide inner outline strokes under a second fill
        inner = _rgba(style.body, style.body_alpha)
        cv2.rectangle(
            big,
            (int(0.12 * w * s) + line, top + line),
            (int(0.88 * w * s) - line, int(0.72 * h * s) - line),
            inner,
            -1,
        )
    return _finish(big)


def build_skin(layout: Layout, style: Style, name: str, layout_id: str) -> Skin:
    """Draw the skin of ``layout`` in ``style``."""
    w, h = layout.width, layout.height
    elements: list[Element] = [Static(_body(layout, style), 0, 0)]
    face = max(8, int(layout.face_size * w))

    def at(
        place: tuple[float, float], size_w: int, size_h: int, dx: float = 0, dy: float = 0
    ) -> tuple[int, int]:
        return int(place[0] * w + dx - size_w / 2), int(place[1] * h + dy - size_h / 2)

    labels = FACE_LABELS[layout.family]
    spread = face * layout.face_spread
    for control, (dx, dy) in {
        "south": (0, spread),
        "east": (spread, 0),
        "west": (-spread, 0),
        "north": (0, -spread),
    }.items():
        released, pressed = _pair(face, face, "circle", style, labels[control])
        elements.append(Button(control, released, pressed, *at(layout.places["face"], face, face, dx, dy)))
    arm = max(6, int(face * layout.dpad_arm))
    offset = arm * layout.dpad_gap
    for control, (dx, dy, aw, ah) in {
        "dpad_up": (0, -offset, arm, arm),
        "dpad_down": (0, offset, arm, arm),
        "dpad_left": (-offset, 0, arm, arm),
        "dpad_right": (offset, 0, arm, arm),
    }.items():
        released, pressed = _pair(aw, ah, "rect", style)
        elements.append(Button(control, released, pressed, *at(layout.places["dpad"], aw, ah, dx, dy)))
    stick = max(10, int(layout.stick_size * w))
    for side in ("left", "right"):
        place = layout.places.get(f"{side[0]}stick")
        if place is None:
            continue
        well = _shape(
            int(stick * layout.well), int(stick * layout.well), "circle", _rgba(style.body, 1.0), style
        )
        elements.append(Static(well, *at(place, well.shape[1], well.shape[0])))
        cap, clicked = _pair(stick, stick, "circle", style)
        reach = stick * 0.3
        elements.append(
            Stick(
                side, cap, *at(place, stick, stick), reach, reach, clicked if "clicks" in layout.has else None
            )
        )
    bw, bh = int(0.16 * w), max(6, int(0.06 * h))
    if "shoulders" in layout.has:
        for control, x in (("left_shoulder", 0.24), ("right_shoulder", 0.76)):
            released, pressed = _pair(bw, bh, "pill", style)
            elements.append(Button(control, released, pressed, *at((x, 0.07), bw, bh)))
    if "triggers" in layout.has:
        tw, th = max(6, int(0.06 * w)), max(8, int(0.12 * h))
        for control, x in (("left_trigger", 0.1), ("right_trigger", 0.9)):
            released, pressed = _pair(tw, th, "rect", style)
            tx, ty = at((x, 0.12), tw, th)
            elements += [Static(released, tx, ty), Trigger(control, pressed, tx, ty, "up")]
    menu = max(6, int(face * 0.7))
    if "menu" in layout.has:
        for control, x in (("back", 0.42), ("start", 0.58)):
            released, pressed = _pair(menu, max(5, menu * 2 // 3), "pill", style)
            elements.append(Button(control, released, pressed, *at((x, 0.36), menu, menu * 2 // 3)))
    if "guide" in layout.has:
        released, pressed = _pair(face, face, "circle", style)
        elements.append(Button("guide", released, pressed, *at((0.5, 0.2), face, face)))
    return Skin(name, layout_id, (h, w), tuple(elements))


def procedural_skins(n: int, seed: int = 0, *, colourways: int = COLOURWAYS_PER_LAYOUT) -> list[Skin]:
    """``n`` procedural skins named ``procedural/<family>-<layout #>/<colourway #>``.

    Layouts cycle through :data:`FAMILIES`; each layout gets up to ``colourways`` styles.
    """
    if n < 0 or colourways < 1:
        raise SkinError(f"procedural_skins: need n >= 0 and colourways >= 1, got {n}, {colourways}")
    rng = np.random.default_rng(seed)
    skins: list[Skin] = []
    index = 0
    while len(skins) < n:
        family = FAMILIES[index % len(FAMILIES)]
        layout = random_layout(rng, family)
        layout_id = f"procedural/{family}-{index:04d}"
        for c in range(min(colourways, n - len(skins))):
            skins.append(build_skin(layout, random_style(rng), f"{layout_id}/{c}", layout_id))
        index += 1
    return skins
