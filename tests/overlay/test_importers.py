"""The importers render real skins the way their formats say: pinned against the raw files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

from pixelpad.actions import INDEX, from_dict, null_action
from pixelpad.overlay.images import load_rgba
from pixelpad.overlay.library import load_skin, load_skins
from pixelpad.overlay.skin import SkinError, fit_skin


def shows(render: np.ndarray, sprite: np.ndarray, x: int, y: int) -> bool:
    """True when the opaque pixels of ``sprite`` appear unchanged in ``render`` at (x, y)."""
    h, w = sprite.shape[:2]
    opaque = sprite[..., 3] == 255
    return bool(np.array_equal(render[y : y + h, x : x + w][opaque, :3], sprite[opaque, :3]))


@pytest.fixture(scope="module")
def gamepad(skins_dir):
    directory = skins_dir / "input-overlay" / "gamepad"
    config = json.loads((directory / "game-pad.json").read_text())
    elements = {e["id"]: e for e in config["elements"]}
    return load_skin(directory)[0], elements, load_rgba(directory / "game-pad.png")


def cut(atlas, x, y, w, h):
    return atlas[y : y + h, x : x + w]


def test_input_overlay_button_pressed_sprite_sits_below(gamepad):
    skin, elements, atlas = gamepad
    e = elements["a"]  # drawn lowest of the four face buttons: south
    x, y, w, h = e["mapping"]
    released, pressed = cut(atlas, x, y, w, h), cut(atlas, x, y + h + 3, w, h)
    assert not np.array_equal(released, pressed)
    assert shows(skin.render(null_action()), released, *e["pos"])
    assert shows(skin.render(from_dict({"south": 1})), pressed, *e["pos"])
    px, py = e["pos"]
    south, east = skin.render(from_dict({"south": 1})), skin.render(from_dict({"east": 1}))
    assert not np.array_equal(south[py : py + h, px : px + w], east[py : py + h, px : px + w])


@pytest.mark.parametrize(("ax", "ay"), [(1.0, 0.0), (-0.5, 1.0), (0.25, -0.75)])
def test_input_overlay_stick_offset_is_axis_times_radius(gamepad, ax, ay):
    skin, elements, atlas = gamepad
    e = elements["left_analog_stick"]
    cap = cut(atlas, *e["mapping"])
    r = e["stick_radius"]
    render = skin.render(from_dict({"left_x": ax, "left_y": ay}))
    x, y = e["pos"][0] + round(ax * r), e["pos"][1] + round(ay * r)
    assert shows(render, cap, x, y)
    assert skin.sticks()["left"].range == (r, r)


def test_input_overlay_trigger_reveals_value_from_below(gamepad):
    skin, elements, atlas = gamepad
    e = elements["lt"]  # direction 1: up
    x, y, w, h = e["mapping"]
    pressed = cut(atlas, x, y + h + 3, w, h)
    full = skin.render(from_dict({"left_trigger": 1.0}))
    assert shows(full, pressed, *e["pos"])
    half_pressed = null_action()
    half_pressed[INDEX["left_trigger"]] = 0.5  # analog value: skins show partial presses
    half = skin.render(half_pressed)
    shown = int(h * 0.5)
    assert shows(half, pressed[h - shown :], e["pos"][0], e["pos"][1] + h - shown)
    assert not shows(half, pressed, *e["pos"])


def test_input_overlay_dpad_element_picks_direction_sprite(skins_dir):
    directory = skins_dir / "input-overlay" / "dualsense"
    config = json.loads((directory / "dualsense.json").read_text())
    e = next(e for e in config["elements"] if e["type"] == 8)
    atlas = load_rgba(directory / "dualsense.png")
    skin = next(s for s in load_skin(directory) if s.name.endswith("/default"))
    x, y, w, h = e["mapping"]
    # order after the neutral picture: left, right, up, down, up-left, up-right, down-left, down-right
    for i, held in enumerate([["dpad_left"], ["dpad_right"], ["dpad_up"], ["dpad_down"]], start=1):
        sprite = cut(atlas, x + i * (w + 3), y, w, h)
        assert shows(skin.render(from_dict(dict.fromkeys(held, 1))), sprite, *e["pos"])
    up_left = cut(atlas, x + 5 * (w + 3), y, w, h)
    assert shows(skin.render(from_dict({"dpad_up": 1, "dpad_left": 1})), up_left, *e["pos"])


def test_input_overlay_colourways_share_geometry(skins_dir):
    skins = load_skin(skins_dir / "input-overlay" / "xbox-controller")
    assert len(skins) == 5
    assert len({s.layout for s in skins}) == 1
    assert len({s.name for s in skins}) == 5
    assert all(s.regions() == skins[0].regions() for s in skins)


@pytest.fixture(scope="module")
def pc360(skins_dir):
    directory = skins_dir / "nintendospy" / "pc360-default"
    return load_skin(directory)[0], ET.parse(directory / "skin.xml").getroot(), directory


def test_nintendospy_button_drawn_only_when_held(pc360):
    skin, root, directory = pc360
    e = next(b for b in root.iter("button") if b.get("name") == "a")
    sprite = cv2.resize(load_rgba(directory / e.get("image")), (int(e.get("width")), int(e.get("height"))),
                        interpolation=cv2.INTER_AREA)  # fmt: skip
    x, y = int(e.get("x")), int(e.get("y"))
    assert shows(skin.render(from_dict({"south": 1})), sprite, x, y)
    assert not shows(skin.render(null_action()), sprite, x, y)


@pytest.mark.parametrize("name", ["pc360-default", "generic-default"])  # yreverse differs, meaning does not
def test_nintendospy_stick_moves_with_axes_in_image_convention(skins_dir, name):
    directory = skins_dir / "nintendospy" / name
    skin = load_skin(directory)[0]
    root = ET.parse(directory / "skin.xml").getroot()
    e = next(iter(root.iter("stick")))
    sprite = load_rgba(directory / e.get("image"))
    sprite = cv2.resize(sprite, (int(e.get("width")), int(e.get("height"))), interpolation=cv2.INTER_AREA)
    rx, ry = float(e.get("xrange")), float(e.get("yrange"))
    render = skin.render(from_dict({"left_x": -1.0, "left_y": 1.0}))  # down-left
    assert shows(render, sprite, int(e.get("x")) - round(rx), int(e.get("y")) + round(ry))


def test_nintendospy_reversed_analog_is_a_cover_that_shrinks(pc360):
    skin, root, _ = pc360
    e = next(a for a in root.iter("analog") if a.get("name") == "trig_r")
    x, y = int(e.get("x")), int(e.get("y"))
    released, pressed = skin.render(null_action()), skin.render(from_dict({"right_trigger": 1.0}))
    h, w = load_rgba(pc360[2] / e.get("image")).shape[:2]
    assert not np.array_equal(released[y : y + h, x : x + w], pressed[y : y + h, x : x + w])
    assert np.array_equal(pressed, skin.render(from_dict({"right_shoulder": 0, "right_trigger": 1.0})))


def test_absent_controls_and_colourways(skins_dir):
    gamecube = load_skin(skins_dir / "nintendospy" / "gamecube-default")
    assert len(gamecube) == 8
    assert {"back", "guide", "left_thumb", "right_thumb"} <= set(gamecube[0].absent)
    assert {"left_x", "right_y", "left_trigger", "south"} <= set(gamecube[0].controls)
    assert load_skin(skins_dir / "nintendospy" / "pc360-default")[0].absent == ("guide",)


def test_every_real_skin_loads_and_renders_every_control(skins_dir):
    skins = load_skins([skins_dir])
    assert len(skins) >= 20
    for skin in (fit_skin(s, 320) for s in skins):
        base = skin.released()
        assert base.shape == (*skin.size, 4)
        for control in skin.controls:
            value = 1.0 if not control.endswith(("_x", "_y")) else -1.0
            assert not np.array_equal(skin.pressed(control, value), base), (skin.name, control)


def test_not_a_skin_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SkinError, match="not a skin"):
        load_skin(tmp_path)
    (tmp_path / "skin.xml").write_text("<skin")
    with pytest.raises(SkinError, match="not a NintendoSpy skin"):
        load_skin(tmp_path)
