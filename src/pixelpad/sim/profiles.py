"""Declarative game profiles: how to start a game, reach play, and which keys its controls are.

A profile is a small TOML file in ``pixelpad/sim/profiles/``. Fields (all optional but ``command``):

- ``command``: argv list; ``{width}``, ``{height}`` and ``{home}`` (the game's private HOME) are
  substituted. The program is looked up on ``PATH`` and in ``/usr/games``.
- ``size``: ``[W, H]`` of the screen and observation (default 640x480).
- ``input``: ``"keyboard"``, ``"pad"`` (SDL virtual controller) or ``"both"`` (default).
- ``keys``: control name -> X keysym (default: :data:`pixelpad.sim.inputs.DEFAULT_KEYS`).
- ``stick_to_dpad``: the left stick also presses the d-pad keys (default true).
- ``mouse_stick``: ``"left"`` or ``"right"``: that stick moves the mouse pointer, ``mouse_speed``
  pixels per step at full deflection (default 10). Key bindings may name ``Button1``..``Button5``.
- ``busy_limit``: clock reads after which a spinning thread is parked (default 2000).
- ``startup_frames``: presented frames that mean the game is up (default 1).
- ``startup``: list of ``{press = [controls], steps = N}``: inputs that reach play after start.
- ``files``: path (relative to the private HOME) -> text written before every start (config files
  that pick the window size, turn sound off...).
- ``env``: extra environment variables.
- ``done``: list of ``{box = [x, y, w, h], color = [r, g, b], tolerance = 24, fraction = 0.9}``:
  the episode ends (``terminated``) when that much of the box is within ``tolerance`` of the colour
  (a game-over screen, a level-complete banner).
"""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from pixelpad.actions import BUTTONS
from pixelpad.sim.errors import ProfileError
from pixelpad.sim.inputs import DEFAULT_KEYS

INPUT_MODES = ("keyboard", "pad", "both")
_FIELDS = {
    "name",
    "command",
    "size",
    "input",
    "keys",
    "stick_to_dpad",
    "mouse_stick",
    "mouse_speed",
    "busy_limit",
    "startup_frames",
    "startup",
    "files",
    "env",
    "done",
}


@dataclass(frozen=True)
class StartupInput:
    """Hold ``press`` (pixelpad control names) for ``steps`` env steps."""

    press: tuple[str, ...]
    steps: int


@dataclass(frozen=True)
class ScreenCheck:
    """True on frames where ``fraction`` of ``box`` (x, y, w, h) is within ``tolerance`` of ``color``."""

    box: tuple[int, int, int, int]
    color: tuple[int, int, int]
    tolerance: int = 24
    fraction: float = 0.9

    def matches(self, frame: np.ndarray) -> bool:
        """``frame``: RGB uint8 ``(H, W, 3)``."""
        x, y, w, h = self.box
        region = frame[y : y + h, x : x + w].astype(np.int16)
        if region.size == 0:
            return False
        close = (np.abs(region - np.array(self.color, dtype=np.int16)) <= self.tolerance).all(axis=-1)
        return bool(close.mean() >= self.fraction)


@dataclass(frozen=True)
class GameProfile:
    """Everything needed to run one game under the simulator (see the module docstring)."""

    name: str
    command: tuple[str, ...]
    size: tuple[int, int] = (640, 480)
    input: str = "both"
    keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYS))
    stick_to_dpad: bool = True
    mouse_stick: str | None = None
    mouse_speed: float = 10.0
    busy_limit: int = 2000
    startup_frames: int = 1
    startup: tuple[StartupInput, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    done: tuple[ScreenCheck, ...] = ()

    def argv(self, *, home: str) -> list[str]:
        w, h = self.size
        return [arg.format(width=w, height=h, home=home) for arg in self.command]


def _check_controls(names, where: str) -> None:
    unknown = sorted(set(names) - set(BUTTONS))
    if unknown:
        raise ProfileError(f"{where}: unknown controls {unknown}; known: {', '.join(BUTTONS)}")


def profile_from_dict(data: dict, *, name: str) -> GameProfile:
    """Validate a parsed profile and build it."""
    extra = set(data) - _FIELDS
    if extra:
        raise ProfileError(f"profile {name!r}: unknown fields {sorted(extra)}")
    command = data.get("command")
    if isinstance(command, str):
        command = shlex.split(command)
    if not command or not all(isinstance(a, str) for a in command):
        raise ProfileError(f"profile {name!r}: 'command' must be a non-empty list of strings")
    size = tuple(data.get("size", (640, 480)))
    if len(size) != 2 or not all(isinstance(v, int) and 16 <= v <= 8192 for v in size):
        raise ProfileError(f"profile {name!r}: 'size' must be [width, height] in pixels, got {size}")
    mode = data.get("input", "both")
    if mode not in INPUT_MODES:
        raise ProfileError(f"profile {name!r}: 'input' must be one of {INPUT_MODES}, got {mode!r}")
    mouse_stick = data.get("mouse_stick")
    if mouse_stick not in (None, "left", "right"):
        raise ProfileError(f"profile {name!r}: 'mouse_stick' must be 'left' or 'right', got {mouse_stick!r}")
    keys = dict(data.get("keys", DEFAULT_KEYS))
    _check_controls(keys, f"profile {name!r} keys")
    startup = []
    for i, item in enumerate(data.get("startup", [])):
        press = tuple(item.get("press", ()))
        _check_controls(press, f"profile {name!r} startup[{i}]")
        steps = item.get("steps", 1)
        if not isinstance(steps, int) or steps < 1:
            raise ProfileError(f"profile {name!r} startup[{i}]: 'steps' must be a positive integer")
        startup.append(StartupInput(press, steps))
    return GameProfile(
        name=data.get("name", name),
        command=tuple(command),
        size=(int(size[0]), int(size[1])),
        input=mode,
        keys=keys,
        stick_to_dpad=bool(data.get("stick_to_dpad", True)),
        mouse_stick=mouse_stick,
        mouse_speed=float(data.get("mouse_speed", 10.0)),
        busy_limit=int(data.get("busy_limit", 2000)),
        startup_frames=int(data.get("startup_frames", 1)),
        startup=tuple(startup),
        files={str(k): str(v) for k, v in data.get("files", {}).items()},
        env={str(k): str(v) for k, v in data.get("env", {}).items()},
        done=tuple(
            _screen_check(item, f"profile {name!r} done[{i}]") for i, item in enumerate(data.get("done", []))
        ),
    )


def _screen_check(item: dict, where: str) -> ScreenCheck:
    try:
        box, color = tuple(int(v) for v in item["box"]), tuple(int(v) for v in item["color"])
        check = ScreenCheck(box, color, int(item.get("tolerance", 24)), float(item.get("fraction", 0.9)))
    except (KeyError, TypeError, ValueError) as err:
        raise ProfileError(f"{where}: needs box = [x, y, w, h] and color = [r, g, b] ({err})") from err
    if len(box) != 4 or len(color) != 3 or box[2] <= 0 or box[3] <= 0 or not 0 < check.fraction <= 1:
        raise ProfileError(
            f"{where}: needs box = [x, y, w, h] (w, h > 0), color = [r, g, b], 0 < fraction <= 1"
        )
    return check


def list_profiles() -> list[str]:
    """Names of the profiles shipped with the package."""
    folder = resources.files("pixelpad.sim") / "profiles"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name: str) -> GameProfile:
    """The shipped profile ``name`` (see :func:`list_profiles`)."""
    path = resources.files("pixelpad.sim") / "profiles" / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"no game profile {name!r}; known: {', '.join(list_profiles())} (or use --cmd)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"profile {name!r} is not valid TOML: {err}") from err
    return profile_from_dict(data, name=name)


def command_profile(cmd: str | list[str], *, size: tuple[int, int] = (640, 480)) -> GameProfile:
    """A profile for any game command line: default keys, virtual controller and keyboard both."""
    argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    if not argv:
        raise ProfileError("empty game command")
    return GameProfile(name=argv[0].rsplit("/", 1)[-1], command=tuple(argv), size=size)
