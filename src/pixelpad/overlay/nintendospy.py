"""Import NintendoSpy / RetroSpy ``skin.xml`` skins.

The format (jaburns/NintendoSpy ``Skin.cs`` and ``ViewWindow.xaml.cs``), reproduced here:

* ``<background name image [width height] [color]>``: one per colourway (each becomes its own
  skin); ``color`` is the chroma-key fill streamers key out, so pixels of that colour (within
  :data:`CHROMA_TOLERANCE`) become transparent here;
* ``<detail image x y [width height]>``: always drawn;
* ``<button name image x y [width height]>``: drawn only while the button is held;
* ``<stick xname yname image x y [width height] xrange yrange [xreverse yreverse]>``: drawn at
  ``x + xr * X``, ``y + yr * Y`` with ``xr = ±xrange`` (``-`` if xreverse) and ``yr = ∓yrange``
  (``+`` if yreverse), X, Y the reader's axis values;
* ``<analog name image x y [width height] direction reverse usenegative>``: a trigger whose picture
  is revealed in proportion to its value (``1 - value`` if reverse; ``-value`` if usenegative);
* pictures are stretched to width × height; drawing order: background, details, analogs, buttons,
  sticks.

A skin names its inputs in the words of the reader of its ``type``; :data:`READERS` maps them to
pixelpad controls, with each reader's y convention (XInput and GameCube report up as +y, DirectInput
as -y; pixelpad's +y is down). A DirectInput pad reports both triggers on one axis ``z`` (left
positive, right negative via ``usenegative``): here each trigger element reads its own trigger, so
holding both shows both (the real program would show neither). Generic skins cannot say which
physical pad they picture; those named like a Switch pad use the Switch Pro button order.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pixelpad.overlay.images import load_rgba
from pixelpad.overlay.skin import Button, Element, Skin, SkinError, Static, Stick, Trigger

log = logging.getLogger(__name__)

CHROMA_TOLERANCE = 40  # max per-channel difference from the background colour that is keyed out


@dataclass(frozen=True)
class Reader:
    """How one NintendoSpy input type names the controls, and whether its +y means up."""

    buttons: dict[str, str]
    sticks: dict[str, str]  # axis name -> "left_x" / "left_y" / ...
    triggers: dict[str, str]  # analog name -> "left_trigger" / "right_trigger"
    y_up: bool


_DPAD = {"up": "dpad_up", "down": "dpad_down", "left": "dpad_left", "right": "dpad_right"}
_XINPUT = Reader(
    buttons={
        "a": "south", "b": "east", "x": "west", "y": "north", "start": "start", "back": "back",
        "l3": "left_thumb", "r3": "right_thumb", "l": "left_shoulder", "r": "right_shoulder", **_DPAD,
    },
    sticks={"lstick_x": "left_x", "lstick_y": "left_y", "rstick_x": "right_x", "rstick_y": "right_y"},
    triggers={"trig_l": "left_trigger", "trig_r": "right_trigger"},
    y_up=True,
)  # fmt: skip
_DIRECTINPUT_AXES = {"x": "left_x", "y": "left_y", "rx": "right_x", "ry": "right_y"}
_GENERIC = Reader(
    buttons={
        "b0": "south", "b1": "east", "b2": "west", "b3": "north", "b4": "left_shoulder",
        "b5": "right_shoulder", "b6": "back", "b7": "start", "b8": "left_thumb", "b9": "right_thumb", **_DPAD,
    },
    sticks=_DIRECTINPUT_AXES,
    triggers={"z": "left_trigger"},  # "z" with usenegative is the right trigger (see module docstring)
    y_up=False,
)  # fmt: skip
_SWITCH = Reader(
    buttons={
        "b0": "south", "b1": "east", "b2": "west", "b3": "north", "b4": "left_shoulder",
        "b5": "right_shoulder", "b6": "left_trigger", "b7": "right_trigger", "b8": "back", "b9": "start",
        "b10": "left_thumb", "b11": "right_thumb", "b12": "guide", **_DPAD,
    },
    sticks=_DIRECTINPUT_AXES,
    triggers={},
    y_up=False,
)  # fmt: skip
_GAMECUBE = Reader(
    buttons={
        "a": "south", "b": "west", "x": "east", "y": "north", "z": "right_shoulder", "start": "start",
        "l": "left_trigger", "r": "right_trigger", **_DPAD,
    },
    sticks={"lstick_x": "left_x", "lstick_y": "left_y", "cstick_x": "right_x", "cstick_y": "right_y"},
    triggers={"trig_l": "left_trigger", "trig_r": "right_trigger"},
    y_up=True,
)  # fmt: skip
READERS: dict[str, Reader] = {"pc360": _XINPUT, "xbox": _XINPUT, "generic": _GENERIC, "gamecube": _GAMECUBE}


def _reader(skin_type: str, skin_name: str, where: Path) -> Reader:
    if skin_type == "generic" and "switch" in skin_name.lower():
        return _SWITCH
    if skin_type not in READERS:
        raise SkinError(f"{where}: skin type {skin_type!r} is not supported (known: {', '.join(READERS)})")
    return READERS[skin_type]


def _picture(elem: ET.Element, directory: Path) -> tuple[np.ndarray, int, int]:
    """The element's picture stretched to its width × height, and its (x, y)."""
    image = load_rgba(directory / elem.attrib["image"])
    width = int(elem.get("width", image.shape[1]))
    height = int(elem.get("height", image.shape[0]))
    if (height, width) != image.shape[:2]:
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return image, int(elem.get("x", 0)), int(elem.get("y", 0))


def _chroma_key(picture: np.ndarray, colour: str) -> np.ndarray:
    """``picture`` with the pixels close to ``colour`` (``#RRGGBB``) made transparent."""
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], np.int16)
    keyed = np.abs(picture[..., :3].astype(np.int16) - rgb).max(axis=-1) <= CHROMA_TOLERANCE
    out = picture.copy()
    out[keyed, 3] = 0
    return out


def _flag(elem: ET.Element, name: str) -> bool:
    return elem.get(name, "false").strip().lower() == "true"


def _elements(root: ET.Element, reader: Reader, directory: Path) -> list[Element]:
    details: list[Element] = [Static(*_picture(e, directory)) for e in root.iter("detail")]
    analogs: list[Element] = []
    for elem in root.iter("analog"):
        name = elem.attrib["name"]
        control = reader.triggers.get(name)
        if control == "left_trigger" and _flag(elem, "usenegative"):
            control = "right_trigger"
        if control is None:
            log.debug("%s: analog %r is not a pixelpad control; skipped", directory, name)
            continue
        sprite, x, y = _picture(elem, directory)
        direction = elem.get("direction", "right").lower()
        if direction not in ("up", "down", "left", "right"):
            raise SkinError(f"{directory}: analog {name!r} has direction {direction!r}")
        analogs.append(Trigger(control, sprite, x, y, direction, _flag(elem, "reverse")))  # type: ignore[arg-type]
    buttons: list[Element] = []
    for elem in root.iter("button"):
        control = reader.buttons.get(elem.attrib["name"])
        if control is None:
            log.debug("%s: button %r is not a pixelpad control; skipped", directory, elem.attrib["name"])
            continue
        sprite, x, y = _picture(elem, directory)
        buttons.append(Button(control, None, sprite, x, y))
    sticks: list[Element] = []
    for elem in root.iter("stick"):
        axis_x = reader.sticks.get(elem.attrib["xname"])
        axis_y = reader.sticks.get(elem.attrib["yname"])
        if axis_x is None or axis_y is None or axis_x[:-2] != axis_y[:-2]:
            log.debug("%s: stick %r/%r is not a pixelpad stick; skipped", directory, axis_x, axis_y)
            continue
        sprite, x, y = _picture(elem, directory)
        xr = (-1 if _flag(elem, "xreverse") else 1) * float(elem.get("xrange", 0))
        yr = (1 if _flag(elem, "yreverse") else -1) * float(elem.get("yrange", 0))
        # pixelpad y (+down) is the reader's y when the reader's +y is down, its negation otherwise.
        sticks.append(Stick(axis_x[:-2], sprite, x, y, xr, -yr if reader.y_up else yr))  # type: ignore[arg-type]
    return details + analogs + buttons + sticks


def load_nintendospy_dir(directory: str | Path) -> list[Skin]:
    """All backgrounds (colourways) of the skin in ``directory`` (which holds ``skin.xml``)."""
    directory = Path(directory)
    path = directory / "skin.xml"
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as err:
        raise SkinError(f"{path}: not a NintendoSpy skin ({err})") from err
    reader = _reader(root.get("type", ""), root.get("name", ""), path)
    try:
        elements = _elements(root, reader, directory)
    except (KeyError, ValueError) as err:
        raise SkinError(f"{path}: malformed element ({err})") from err
    layout = f"nintendospy/{directory.name}"
    skins = []
    for background in root.iter("background"):
        bg_name = background.get("name", "default")
        if "image" in background.attrib:
            picture, _, _ = _picture(background, directory)
            if background.get("color", "").startswith("#"):
                picture = _chroma_key(picture, background.attrib["color"])
            drawn: list[Element] = [Static(picture, 0, 0), *elements]
            size = picture.shape[:2]
        else:
            drawn, size = elements, (int(background.attrib["height"]), int(background.attrib["width"]))
        colourway = bg_name.lower().replace(" ", "-")
        skins.append(Skin(f"{layout}/{colourway}", layout, size, tuple(drawn), source=str(path)))
    if not skins:
        raise SkinError(f"{path}: a skin needs at least one <background>")
    return skins
