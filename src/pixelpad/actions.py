"""The unified action space: the one vocabulary every stage speaks.

One timestep is 21 float32 numbers:

* 17 buttons, 0 or 1, in the column order of the public NitroGen action dataset (``BUTTONS``);
* 4 stick axes in [-1, 1] (``AXES``): ``left_x, left_y, right_x, right_y``, image convention
  (+x right, +y down, so (-1, -1) is up-left).

A chunk is ``(T, 21)``, T = ``DEFAULT_HORIZON`` by default; batches are ``(..., 21)``.

Two other layouts exist and are converted here and nowhere else:

* the NitroGen dataset's parquet columns: one boolean column per button (same names as
  ``BUTTONS``) plus ``j_left`` and ``j_right``, each an ``[x, y]`` pair in [-1, 1];
* the released checkpoint's 25-dim layout (``CHECKPOINT_BUTTONS``, alphabetical, 21 buttons of
  which ``RIGHT_UP/RIGHT_BOTTOM/RIGHT_LEFT/RIGHT_RIGHT`` are the right stick's direction beyond a
  threshold), then ``left_x, left_y, right_x, right_y`` each mapped to [0, 1] by (v + 1) / 2. Its
  y axis is +down like ours (the official player negates y only when it drives an XInput pad).

Example:
    >>> a = from_dict({"south": 1, "left_x": -0.5})
    >>> to_dict(a)["south"], float(a[INDEX["left_x"]])
    (1, -0.5)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pixelpad.errors import PixelpadError

BUTTONS: tuple[str, ...] = (
    "dpad_down",
    "dpad_left",
    "dpad_right",
    "dpad_up",
    "left_shoulder",
    "left_thumb",
    "left_trigger",
    "right_shoulder",
    "right_thumb",
    "right_trigger",
    "south",
    "west",
    "east",
    "north",
    "back",
    "start",
    "guide",
)
AXES: tuple[str, ...] = ("left_x", "left_y", "right_x", "right_y")
NAMES: tuple[str, ...] = BUTTONS + AXES
INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}

NUM_BUTTONS = len(BUTTONS)  # 17
ACTION_DIM = len(NAMES)  # 21
BUTTON_SLICE = slice(0, NUM_BUTTONS)
AXIS_SLICE = slice(NUM_BUTTONS, ACTION_DIM)
DEFAULT_HORIZON = 16
# Buttons that open menus or leave the game; players and evaluators mask them unless allowed.
MENU_BUTTONS: tuple[str, ...] = ("back", "start", "guide")

# The NitroGen dataset's stick columns: [x, y] pairs.
STICK_COLUMNS: dict[str, tuple[str, str]] = {
    "j_left": ("left_x", "left_y"),
    "j_right": ("right_x", "right_y"),
}

# The released checkpoint's layout.
CHECKPOINT_BUTTONS: tuple[str, ...] = (
    "BACK",
    "DPAD_DOWN",
    "DPAD_LEFT",
    "DPAD_RIGHT",
    "DPAD_UP",
    "EAST",
    "GUIDE",
    "LEFT_SHOULDER",
    "LEFT_THUMB",
    "LEFT_TRIGGER",
    "NORTH",
    "RIGHT_BOTTOM",
    "RIGHT_LEFT",
    "RIGHT_RIGHT",
    "RIGHT_SHOULDER",
    "RIGHT_THUMB",
    "RIGHT_TRIGGER",
    "RIGHT_UP",
    "SOUTH",
    "START",
    "WEST",
)
CHECKPOINT_ACTION_DIM = len(CHECKPOINT_BUTTONS) + len(AXES)  # 25
CHECKPOINT_HORIZON = 18
# Right-stick direction buttons of the checkpoint layout: (axis, sign) that turns each one on.
RIGHT_STICK_DIRECTIONS: dict[str, tuple[str, float]] = {
    "RIGHT_UP": ("right_y", -1.0),
    "RIGHT_BOTTOM": ("right_y", 1.0),
    "RIGHT_LEFT": ("right_x", -1.0),
    "RIGHT_RIGHT": ("right_x", 1.0),
}
# Column of each of our buttons in the checkpoint layout.
_CHECKPOINT_COLUMN: dict[str, int] = {name: CHECKPOINT_BUTTONS.index(name.upper()) for name in BUTTONS}

DEFAULT_DEAD_ZONE = 0.15
DEFAULT_DIRECTION_THRESHOLD = 0.5
BUTTON_THRESHOLD = 0.5


class ActionError(PixelpadError, ValueError):
    """An action array or mapping that does not fit the unified action space."""


def null_action(horizon: int | None = None) -> np.ndarray:
    """No button pressed, sticks centred: ``(21,)``, or ``(horizon, 21)`` when a horizon is given."""
    shape = (ACTION_DIM,) if horizon is None else (horizon, ACTION_DIM)
    return np.zeros(shape, dtype=np.float32)


def validate(actions: np.ndarray, *, where: str = "actions") -> np.ndarray:
    """Check ``(..., 21)`` actions and return them as a float32 array.

    Buttons must be exactly 0 or 1, sticks finite and within [-1, 1]. ``where`` names the source
    (a file, a column) in the error message.
    """
    arr = np.asarray(actions)
    if arr.ndim == 0 or arr.shape[-1] != ACTION_DIM:
        raise ActionError(f"{where}: expected shape (..., {ACTION_DIM}), got {arr.shape}")
    if not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool
    ):
        raise ActionError(f"{where}: expected numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ActionError(
            f"{where}: non-finite value at index {tuple(int(i) for i in bad)} ({NAMES[bad[-1]]})"
        )
    buttons = arr[..., BUTTON_SLICE]
    not_binary = (buttons != 0) & (buttons != 1)
    if not_binary.any():
        bad = np.argwhere(not_binary)[0]
        value = buttons[tuple(bad)]
        raise ActionError(
            f"{where}: button {BUTTONS[bad[-1]]!r} must be 0 or 1, got {value} at {tuple(bad[:-1])}"
        )
    axes = arr[..., AXIS_SLICE]
    out_of_range = np.abs(axes) > 1.0
    if out_of_range.any():
        bad = np.argwhere(out_of_range)[0]
        value = axes[tuple(bad)]
        raise ActionError(
            f"{where}: axis {AXES[bad[-1]]!r} must be in [-1, 1], got {value} at {tuple(bad[:-1])}"
        )
    return arr


def to_dict(action: np.ndarray) -> dict[str, int | float]:
    """One timestep ``(21,)`` as ``{name: value}``: buttons as int 0/1, axes as float."""
    arr = validate(action)
    if arr.ndim != 1:
        raise ActionError(f"to_dict takes one timestep of shape ({ACTION_DIM},), got {arr.shape}")
    out: dict[str, int | float] = {name: int(arr[i]) for i, name in enumerate(BUTTONS)}
    out.update({name: float(arr[INDEX[name]]) for name in AXES})
    return out


def from_dict(controls: Mapping[str, float]) -> np.ndarray:
    """One timestep from ``{name: value}``; controls not named are released / centred."""
    unknown = sorted(set(controls) - set(NAMES))
    if unknown:
        raise ActionError(f"unknown control name(s) {unknown}; known: {', '.join(NAMES)}")
    arr = null_action()
    for name, value in controls.items():
        arr[INDEX[name]] = float(value)
    return validate(arr, where="controls")


def to_nitrogen_columns(actions: np.ndarray) -> dict[str, np.ndarray]:
    """``(N, 21)`` actions as the NitroGen dataset's columns.

    Returns 17 bool columns of shape ``(N,)`` named as ``BUTTONS``, plus ``j_left`` and ``j_right``
    of shape ``(N, 2)`` holding ``[x, y]``.
    """
    arr = validate(actions)
    if arr.ndim != 2:
        raise ActionError(f"expected (N, {ACTION_DIM}) actions, got {arr.shape}")
    columns: dict[str, np.ndarray] = {name: arr[:, i] > 0.5 for i, name in enumerate(BUTTONS)}
    for column, (x_name, y_name) in STICK_COLUMNS.items():
        columns[column] = arr[:, [INDEX[x_name], INDEX[y_name]]].copy()
    return columns


def from_nitrogen_columns(columns: Mapping[str, np.ndarray], *, where: str = "columns") -> np.ndarray:
    """``(N, 21)`` actions from the NitroGen dataset's columns (see :func:`to_nitrogen_columns`)."""
    missing = [name for name in (*BUTTONS, *STICK_COLUMNS) if name not in columns]
    if missing:
        raise ActionError(f"{where}: missing column(s) {missing}")
    n = len(columns[BUTTONS[0]])
    arr = np.zeros((n, ACTION_DIM), dtype=np.float32)
    for i, name in enumerate(BUTTONS):
        col = np.asarray(columns[name])
        if col.shape != (n,):
            raise ActionError(f"{where}: column {name!r} has shape {col.shape}, expected ({n},)")
        if col.dtype != bool and not np.isin(col, (0, 1)).all():
            raise ActionError(f"{where}: column {name!r} must be boolean (0/1)")
        arr[:, i] = col.astype(np.float32)
    for column, (x_name, y_name) in STICK_COLUMNS.items():
        stick = _stick_column(columns[column], n, f"{where}: column {column!r}")
        arr[:, INDEX[x_name]] = stick[:, 0]
        arr[:, INDEX[y_name]] = stick[:, 1]
    return validate(arr, where=where)


def _stick_column(values: np.ndarray, n: int, where: str) -> np.ndarray:
    """A stick column as ``(n, 2)`` float32; parquet lists arrive as an object array of pairs."""
    try:
        stick = np.asarray([np.asarray(v, dtype=np.float32) for v in values], dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ActionError(f"{where}: expected [x, y] pairs of numbers ({err})") from err
    if stick.shape != (n, 2):
        raise ActionError(f"{where}: expected {n} [x, y] pairs, got shape {stick.shape}")
    return stick


def to_checkpoint_layout(
    actions: np.ndarray, *, direction_threshold: float = DEFAULT_DIRECTION_THRESHOLD
) -> np.ndarray:
    """``(..., 21)`` → the released checkpoint's ``(..., 25)`` layout (buttons, then sticks in [0, 1])."""
    arr = validate(actions)
    out = np.zeros((*arr.shape[:-1], CHECKPOINT_ACTION_DIM), dtype=np.float32)
    for i, name in enumerate(BUTTONS):
        out[..., _CHECKPOINT_COLUMN[name]] = arr[..., i]
    for token, (axis, sign) in RIGHT_STICK_DIRECTIONS.items():
        out[..., CHECKPOINT_BUTTONS.index(token)] = (
            sign * arr[..., INDEX[axis]] > direction_threshold
        ).astype(np.float32)
    out[..., len(CHECKPOINT_BUTTONS) :] = (arr[..., AXIS_SLICE] + 1.0) / 2.0
    return out


def from_checkpoint_layout(raw: np.ndarray, *, button_threshold: float = BUTTON_THRESHOLD) -> np.ndarray:
    """The checkpoint's continuous ``(..., 25)`` output → ``(..., 21)`` actions.

    Buttons are thresholded, sticks mapped back by 2v − 1 and clipped to [-1, 1]. The right-stick
    direction buttons are dropped: the right stick's own axes carry that information.
    """
    arr = np.asarray(raw, dtype=np.float32)
    if arr.ndim == 0 or arr.shape[-1] != CHECKPOINT_ACTION_DIM:
        raise ActionError(f"expected checkpoint layout (..., {CHECKPOINT_ACTION_DIM}), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ActionError("checkpoint-layout actions contain NaN or infinity")
    out = np.zeros((*arr.shape[:-1], ACTION_DIM), dtype=np.float32)
    for i, name in enumerate(BUTTONS):
        out[..., i] = (arr[..., _CHECKPOINT_COLUMN[name]] > button_threshold).astype(np.float32)
    out[..., AXIS_SLICE] = np.clip(arr[..., len(CHECKPOINT_BUTTONS) :] * 2.0 - 1.0, -1.0, 1.0)
    return out


def decode_continuous(raw: np.ndarray, *, button_threshold: float = BUTTON_THRESHOLD) -> np.ndarray:
    """A model's continuous ``(..., 21)`` output → valid actions: buttons thresholded, sticks clipped."""
    arr = np.asarray(raw, dtype=np.float32)
    if arr.ndim == 0 or arr.shape[-1] != ACTION_DIM:
        raise ActionError(f"expected (..., {ACTION_DIM}), got {arr.shape}")
    out = np.empty_like(arr)
    out[..., BUTTON_SLICE] = (arr[..., BUTTON_SLICE] > button_threshold).astype(np.float32)
    out[..., AXIS_SLICE] = np.clip(np.nan_to_num(arr[..., AXIS_SLICE]), -1.0, 1.0)
    return out


def is_null(actions: np.ndarray, *, dead_zone: float = DEFAULT_DEAD_ZONE) -> np.ndarray:
    """True where no button is pressed and both sticks lie within ``dead_zone`` of the centre.

    Returns a bool array of shape ``actions.shape[:-1]`` (a 0-d array for one timestep).
    """
    arr = validate(actions)
    no_button = ~(arr[..., BUTTON_SLICE] > 0.5).any(axis=-1)
    left = np.hypot(arr[..., INDEX["left_x"]], arr[..., INDEX["left_y"]])
    right = np.hypot(arr[..., INDEX["right_x"]], arr[..., INDEX["right_y"]])
    return no_button & (left <= dead_zone) & (right <= dead_zone)


def mask_buttons(actions: np.ndarray, names: tuple[str, ...] = MENU_BUTTONS) -> np.ndarray:
    """A copy of ``(..., 21)`` actions with the named buttons released (menu buttons by default)."""
    arr = np.array(validate(actions), copy=True)
    for name in names:
        if name not in BUTTONS:
            raise ActionError(f"{name!r} is not a button; buttons: {', '.join(BUTTONS)}")
        arr[..., INDEX[name]] = 0.0
    return arr
