"""Turning a pixelpad action into what the game receives: SDL virtual-controller state and keys.

The SDL virtual controller speaks SDL's GameController layout (buttons A, B, X, Y, back, guide,
start, stick clicks, shoulders, d-pad; axes left x/y, right x/y, triggers), so pixelpad's buttons
map one to one; triggers, buttons in pixelpad, become full-scale trigger axes. Keyboard games get
XTest key presses from a per-game binding (control name -> X keysym, or ``Button1``..``Button5``
for mouse buttons), with the left stick also pressing the d-pad keys when pushed past a threshold;
a profile can also let one stick move the mouse pointer.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pixelpad.actions import BUTTONS, INDEX, NUM_BUTTONS

# SDL_GameControllerButton index of each pixelpad button (triggers are axes in SDL).
SDL_BUTTON: dict[str, int] = {
    "south": 0, "east": 1, "west": 2, "north": 3, "back": 4, "guide": 5, "start": 6,
    "left_thumb": 7, "right_thumb": 8, "left_shoulder": 9, "right_shoulder": 10,
    "dpad_up": 11, "dpad_down": 12, "dpad_left": 13, "dpad_right": 14,
}  # fmt: skip
SDL_TRIGGER_AXIS: dict[str, int] = {"left_trigger": 4, "right_trigger": 5}
STICK_AXES: tuple[str, ...] = ("left_x", "left_y", "right_x", "right_y")  # SDL axes 0..3, same order

# Keys for a game without a profile: d-pad -> arrows, face buttons -> common action keys.
DEFAULT_KEYS: dict[str, str] = {
    "dpad_up": "Up", "dpad_down": "Down", "dpad_left": "Left", "dpad_right": "Right",
    "south": "space", "east": "x", "west": "z", "north": "c",
    "left_shoulder": "q", "right_shoulder": "e", "left_trigger": "Shift_L", "right_trigger": "Control_L",
    "start": "Return", "back": "Escape",
}  # fmt: skip
STICK_THRESHOLD = 0.5


def pad_state(action: np.ndarray) -> tuple[int, tuple[int, ...]]:
    """``(21,)`` action -> (SDL button bitmask, 6 int16 axes: left x/y, right x/y, triggers)."""
    mask = 0
    for name, bit in SDL_BUTTON.items():
        if action[INDEX[name]] >= 0.5:
            mask |= 1 << bit
    axes = [round(float(np.clip(action[INDEX[a]], -1.0, 1.0)) * 32767) for a in STICK_AXES]
    axes += [32767 if action[INDEX[t]] >= 0.5 else 0 for t in SDL_TRIGGER_AXIS]
    return mask, tuple(axes)


def pressed_controls(action: np.ndarray, *, stick_to_dpad: bool = True) -> set[str]:
    """Names of the buttons held in ``action`` (left stick past the threshold adds d-pad names)."""
    held = {BUTTONS[i] for i in range(NUM_BUTTONS) if action[i] >= 0.5}
    if stick_to_dpad:
        x, y = float(action[INDEX["left_x"]]), float(action[INDEX["left_y"]])
        if x <= -STICK_THRESHOLD:
            held.add("dpad_left")
        if x >= STICK_THRESHOLD:
            held.add("dpad_right")
        if y <= -STICK_THRESHOLD:
            held.add("dpad_up")
        if y >= STICK_THRESHOLD:
            held.add("dpad_down")
    return held


class KeyboardInput:
    """Holds the keys of the current action down (XTest), releasing the ones no longer wanted.

    Args:
        display: a :class:`pixelpad.sim.display.VirtualDisplay` (anything with ``keycode`` and
            ``send_keys``).
        bindings: control name -> X keysym name.
    """

    def __init__(self, display, bindings: Mapping[str, str], *, stick_to_dpad: bool = True) -> None:
        self._display = display
        self._codes = {name: display.keycode(sym) for name, sym in bindings.items()}
        self._stick_to_dpad = stick_to_dpad
        self._held: set[int] = set()

    def apply(self, action: np.ndarray) -> None:
        want = {
            self._codes[c]
            for c in pressed_controls(action, stick_to_dpad=self._stick_to_dpad)
            if self._codes.get(c, 0) != 0
        }
        if want != self._held:
            self._display.send_keys(sorted(want - self._held), sorted(self._held - want))
            self._held = want

    def release_all(self) -> None:
        if self._held:
            self._display.send_keys([], sorted(self._held))
            self._held = set()


class PointerInput:
    """Moves the mouse pointer with one stick: ``speed`` pixels per step at full deflection."""

    def __init__(self, display, stick: str, speed: float) -> None:
        self._display = display
        self._x, self._y = INDEX[f"{stick}_x"], INDEX[f"{stick}_y"]
        self._speed = speed

    def apply(self, action: np.ndarray) -> None:
        dx = round(float(np.clip(action[self._x], -1, 1)) * self._speed)
        dy = round(float(np.clip(action[self._y], -1, 1)) * self._speed)
        if dx or dy:
            self._display.move_pointer(dx, dy)
