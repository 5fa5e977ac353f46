"""Import presets of the OBS plugin input-overlay (univrsal/input-overlay): one JSON + texture atlas.

A preset is a JSON file whose ``elements`` each cut a sprite out of the atlas (``mapping`` =
``[x, y, w, h]``) and draw it at ``pos``. The plugin's rules, reproduced here:

* the pressed picture of a button, stick or trigger sits just below its released one, at
  ``y + h + 3`` (``CFG_INNER_BORDER``);
* type 0 texture: always drawn; type 2 button: SDL button ``code``; type 5 stick: drawn at
  ``pos + axis * stick_radius``, its pressed picture when the stick is clicked; type 6 trigger: the
  released picture, then the pressed one cropped to the trigger's value in ``direction`` (1 up,
  2 down, 3 left, 4 right), or in ``trigger_mode`` the pressed picture as a button; type 7
  gamepad id: the player-1 picture (``x + (w + 3)``), above the guide picture (``x + 4 (w + 3)``)
  while guide is held; type 8 d-pad: the picture of the held direction, ``x + i (w + 3)`` for
  i = 1..8 in the order left, right, up, down, up-left, up-right, down-left, down-right;
* elements are drawn by increasing ``z_level``.

SDL's face-button codes follow the pad's *labels* (a Nintendo pad's "A" is on the right), while
pixelpad's ``south/east/west/north`` are *positions*; so the four face buttons are assigned by where
the skin draws them (lowest is south, highest north, then left west, right east).

Every PNG beside the JSON is a colourway of the same layout and becomes its own skin.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from pixelpad.overlay.images import load_rgba
from pixelpad.overlay.skin import DPAD_STATES, Button, DPad, Element, Skin, SkinError, Static, Stick, Trigger

log = logging.getLogger(__name__)

INNER_BORDER = 3
# SDL_GameControllerButton codes -> pixelpad buttons (face buttons 0-3 are placed by position).
SDL_BUTTONS: dict[int, str] = {
    4: "back",
    5: "guide",
    6: "start",
    7: "left_thumb",
    8: "right_thumb",
    9: "left_shoulder",
    10: "right_shoulder",
    11: "dpad_up",
    12: "dpad_down",
    13: "dpad_left",
    14: "dpad_right",
}
FACE_CODES = (0, 1, 2, 3)
TRIGGER_DIRECTIONS = {1: "up", 2: "down", 3: "left", 4: "right"}


def _cut(atlas: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray | None:
    """The atlas region ``(h, w, 4)``; parts past the atlas edge are transparent (a GPU samples
    nothing there); None when the region misses the atlas entirely."""
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, atlas.shape[1]), min(y + h, atlas.shape[0])
    if w <= 0 or h <= 0 or x0 >= x1 or y0 >= y1:
        return None
    out = np.zeros((h, w, 4), np.uint8)
    out[y0 - y : y1 - y, x0 - x : x1 - x] = atlas[y0:y1, x0:x1]
    return out


def _face_controls(elements: list[dict]) -> dict[int, str]:
    """Assign face-button codes to south/north/west/east by where their pictures sit."""
    centres = {}
    for e in elements:
        if int(e.get("type", -1)) == 2 and int(e.get("code", -1)) in FACE_CODES:
            x, y = e["pos"]
            _, _, w, h = e["mapping"]
            centres[int(e["code"])] = (x + w / 2, y + h / 2)
    if len(centres) < 4:  # too few to tell positions apart: use SDL's Xbox-position meaning
        return {0: "south", 1: "east", 2: "west", 3: "north"}
    by_y = sorted(centres, key=lambda c: centres[c][1])
    north, south = by_y[0], by_y[-1]
    middle = sorted(by_y[1:-1], key=lambda c: centres[c][0])
    return {north: "north", south: "south", middle[0]: "west", middle[1]: "east"}


def _element(e: dict, atlas: np.ndarray, faces: dict[int, str], where: str) -> list[Element]:
    kind = int(e.get("type", -1))
    x, y, w, h = (int(v) for v in e["mapping"])
    px, py = (round(float(v)) for v in e["pos"])
    released = _cut(atlas, x, y, w, h)
    pressed = _cut(atlas, x, y + h + INNER_BORDER, w, h)
    if released is None:
        raise SkinError(f"{where}: element {e.get('id')!r}: mapping {e['mapping']} lies outside the atlas")
    if kind == 0:
        return [Static(released, px, py)]
    if kind == 2:
        code = int(e.get("code", -1))
        control = faces.get(code) or SDL_BUTTONS.get(code)
        if control is None:  # capture, touchpad, mute...: drawn released, not a pixelpad control
            return [Static(released, px, py)]
        return [Button(control, released, pressed, px, py)]
    if kind == 5:
        side = "left" if int(e.get("side", 0)) == 0 else "right"
        radius = float(e.get("stick_radius", 0))
        return [Stick(side, released, px, py, radius, radius, pressed)]
    if kind == 6:
        control = "left_trigger" if int(e.get("side", 0)) == 0 else "right_trigger"
        if pressed is None:
            raise SkinError(f"{where}: trigger {e.get('id')!r} has no pressed picture below its mapping")
        if e.get("trigger_mode", False):
            return [Button(control, released, pressed, px, py)]
        direction = TRIGGER_DIRECTIONS.get(int(e.get("direction", 1)), "up")
        return [Static(released, px, py), Trigger(control, pressed, px, py, direction)]
    if kind == 7:
        player = _cut(atlas, x + (w + INNER_BORDER), y, w, h)
        guide = _cut(atlas, x + 4 * (w + INNER_BORDER), y, w, h)
        parts: list[Element] = []
        if guide is not None:
            parts.append(Button("guide", None, guide, px, py))
        if player is not None:
            parts.append(Static(player, px, py))
        return parts
    if kind == 8:
        sprites = {}
        for i, state in enumerate(DPAD_STATES, start=1):
            sprite = _cut(atlas, x + i * (w + INNER_BORDER), y, w, h)
            if sprite is None:
                raise SkinError(f"{where}: d-pad {e.get('id')!r}: picture {state} lies outside the atlas")
            sprites[state] = sprite
        return [DPad(released, sprites, px, py)]
    log.debug("%s: skipping element %r of type %d (not a gamepad element)", where, e.get("id"), kind)
    return []


def load_preset(json_path: str | Path, atlas_path: str | Path, *, name: str, layout: str) -> Skin:
    """One skin from an input-overlay preset ``json_path`` drawn with the atlas ``atlas_path``."""
    json_path = Path(json_path)
    try:
        config = json.loads(json_path.read_text())
        elements = sorted(config["elements"], key=lambda e: int(e.get("z_level", 0)))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SkinError(f"{json_path}: not an input-overlay preset ({err})") from err
    atlas = load_rgba(atlas_path)
    faces = _face_controls(elements)
    drawn: list[Element] = []
    for e in elements:
        try:
            drawn.extend(_element(e, atlas, faces, str(json_path)))
        except (KeyError, TypeError, ValueError) as err:
            raise SkinError(f"{json_path}: element {e.get('id')!r} is malformed ({err})") from err
    width, height = int(config.get("overlay_width", 0)), int(config.get("overlay_height", 0))
    if width <= 0 or height <= 0:  # older presets: the extent of what is drawn
        boxes = [el.box() for el in drawn]
        width = max(b[0] + b[2] for b in boxes)
        height = max(b[1] + b[3] for b in boxes)
    return Skin(name, layout, (height, width), tuple(drawn), source=str(json_path))


def load_input_overlay_dir(directory: str | Path) -> list[Skin]:
    """All colourways of the preset in ``directory``: one skin per PNG atlas beside its JSON file."""
    directory = Path(directory)
    presets = sorted(directory.glob("*.json"))
    atlases = sorted(directory.glob("*.png"))
    if len(presets) != 1 or not atlases:
        raise SkinError(f"{directory}: an input-overlay preset is one .json and at least one .png atlas")
    layout = f"input-overlay/{directory.name}"
    skins = []
    for atlas in atlases:
        colourway = atlas.stem.removeprefix(presets[0].stem).strip("-_ ") or "default"
        skins.append(load_preset(presets[0], atlas, name=f"{layout}/{colourway}", layout=layout))
    return skins
