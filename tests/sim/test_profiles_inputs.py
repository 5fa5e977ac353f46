"""Profiles load and validate; actions map to the right SDL controller state and keys."""

import numpy as np
import pytest

from pixelpad.actions import from_dict, null_action
from pixelpad.sim import GameProfile, ProfileError, ScreenCheck, command_profile, list_profiles, load_profile
from pixelpad.sim.inputs import KeyboardInput, pad_state, pressed_controls
from pixelpad.sim.profiles import profile_from_dict


def test_shipped_profiles_load():
    assert {"chromium-bsu", "neverball", "supertux"} <= set(list_profiles())
    for name in list_profiles():
        p = load_profile(name)
        assert p.command and p.size[0] > 0 and p.startup_frames >= 1
        assert "{home}" not in " ".join(p.argv(home="/h"))


def test_unknown_profile_and_bad_fields():
    with pytest.raises(ProfileError, match="no game profile"):
        load_profile("no-such-game")
    with pytest.raises(ProfileError, match="unknown fields"):
        profile_from_dict({"command": ["x"], "colour": 1}, name="t")
    with pytest.raises(ProfileError, match="command"):
        profile_from_dict({"command": []}, name="t")
    with pytest.raises(ProfileError, match="unknown controls"):
        profile_from_dict({"command": ["x"], "keys": {"jump": "space"}}, name="t")
    with pytest.raises(ProfileError, match="steps"):
        profile_from_dict({"command": ["x"], "startup": [{"press": ["south"], "steps": 0}]}, name="t")
    with pytest.raises(ProfileError, match="input"):
        profile_from_dict({"command": ["x"], "input": "mouse"}, name="t")


def test_command_profile_defaults():
    p = command_profile("mygame --level 3", size=(320, 200))
    assert isinstance(p, GameProfile)
    assert p.command == ("mygame", "--level", "3") and p.size == (320, 200) and p.input == "both"
    assert p.keys["dpad_left"] == "Left"


def test_pad_state_maps_buttons_axes_and_triggers():
    buttons, axes = pad_state(null_action())
    assert buttons == 0 and axes == (0, 0, 0, 0, 0, 0)
    a = from_dict({"south": 1, "dpad_right": 1, "right_trigger": 1, "left_x": -1.0, "right_y": 0.5})
    buttons, axes = pad_state(a)
    assert buttons == (1 << 0) | (1 << 14)  # SDL A and DPAD_RIGHT
    assert axes == (-32767, 0, 0, 16384, 0, 32767)


def test_pressed_controls_stick_to_dpad():
    a = from_dict({"left_x": -0.9, "left_y": 0.7, "west": 1})
    assert pressed_controls(a) == {"dpad_left", "dpad_down", "west"}
    assert pressed_controls(a, stick_to_dpad=False) == {"west"}
    assert pressed_controls(from_dict({"left_x": 0.3})) == set()


class FakeDisplay:
    def __init__(self):
        self.calls = []

    def keycode(self, name):
        return {"Left": 113, "space": 65}.get(name, 0)

    def send_keys(self, press, release):
        self.calls.append((list(press), list(release)))


def test_keyboard_input_presses_and_releases_only_changes():
    d = FakeDisplay()
    k = KeyboardInput(d, {"dpad_left": "Left", "south": "space", "north": "NoSuchKey"})
    k.apply(from_dict({"dpad_left": 1, "north": 1}))
    k.apply(from_dict({"dpad_left": 1, "north": 1}))  # unchanged: nothing sent
    k.apply(from_dict({"south": 1}))
    k.release_all()
    assert d.calls == [([113], []), ([65], [113]), ([], [65])]
    assert np.all(null_action() == 0)


def test_screen_check_matches_a_coloured_box():
    check = ScreenCheck(box=(2, 1, 3, 2), color=(250, 200, 0), tolerance=10, fraction=0.9)
    frame = np.zeros((6, 8, 3), dtype=np.uint8)
    assert not check.matches(frame)
    frame[1:3, 2:5] = (245, 205, 3)
    assert check.matches(frame)
    with pytest.raises(ProfileError, match="box"):
        profile_from_dict({"command": ["x"], "done": [{"color": [1, 2, 3]}]}, name="t")
    p = profile_from_dict({"command": ["x"], "done": [{"box": [0, 0, 4, 4], "color": [1, 2, 3]}]}, name="t")
    assert p.done == (ScreenCheck((0, 0, 4, 4), (1, 2, 3)),)
