"""SuperTux 0.6 (2D platformer): tasks near the end of "Welcome to Antarctica", checks, demonstrators.

Start states come from SuperTux's own ``--spawn-pos X,Y`` (world pixels): the level's last stretch,
so an episode is seconds, not minutes. The level-intro card closes on the jump key (task start-up).

Checks read two things SuperTux draws:

* the end-of-level statistics panel (Time / Coins / Badguys / Secrets, values in bright green on a
  translucent box in the middle of the screen), shown when Tux crosses the level's end trigger;
* the yellow "You found a secret area!" message across the middle of the screen.

The demonstrators hold a direction, and jump when the screen stops scrolling (Tux is blocked by a
step or a wall) -- closed-loop on pixels only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from pixelpad.actions import INDEX, null_action
from pixelpad.eval.task import Task

LEVEL = "/usr/share/games/supertux2/levels/world1/welcome_antarctica.stl"
# The four value rows of the statistics panel (y centres) and the x range of their values.
PANEL_ROWS = (191, 211, 231, 251)
PANEL_X = (296, 400)
MESSAGE_Y = (226, 252)  # the band of the "secret area" message (text colour 255, 255, 153)


def _command(spawn_x: int, spawn_y: int = 500) -> tuple[str, ...]:
    return (
        "supertux2", "--window", "--geometry", "{width}x{height}", "--renderer", "sdl", "--disable-sound",
        "--disable-music", "--no-show-fps", "--userdir", "{home}/supertux",
        "--spawn-pos", f"{spawn_x},{spawn_y}", LEVEL,
    )  # fmt: skip


def _green_text(region: np.ndarray) -> np.ndarray:
    """The panel's time colour (102, 255, 102)."""
    r, g, b = (region[..., i].astype(np.int16) for i in range(3))
    return (g > 235) & (np.abs(r - 102) < 25) & (np.abs(b - 102) < 25)


def _yellow_text(region: np.ndarray) -> np.ndarray:
    """SuperTux's pale-yellow text colour (255, 255, 153)."""
    r, g, b = (region[..., i].astype(np.int16) for i in range(3))
    return (r > 235) & (g > 235) & (b > 125) & (b < 180)


def panel_shown(frame: np.ndarray) -> bool:
    """The statistics panel is up: the time in green on its first row, values on the other three."""
    x0, x1 = PANEL_X
    rows = [frame[y - 7 : y + 7, x0:x1] for y in PANEL_ROWS]
    time_ok = _green_text(rows[0]).sum() >= 40
    return bool(time_ok and all((_green_text(r) | _yellow_text(r)).sum() >= 20 for r in rows[1:]))


def secret_message_shown(frame: np.ndarray) -> bool:
    """The "You found a secret area!" line: ~500 pale-yellow pixels across its band (a coin in the
    band has ~30, of a deeper yellow)."""
    band = frame[MESSAGE_Y[0] : MESSAGE_Y[1], 100:540]
    yellow = _yellow_text(band)
    cols = np.nonzero(yellow.any(axis=0))[0]
    return bool(yellow.sum() >= 300 and cols.max() - cols.min() > 200)


@dataclasses.dataclass(frozen=True)
class PanelShown:
    """Success when the end-of-level statistics panel is on screen."""

    def __call__(self, frame: np.ndarray, info: dict[str, Any]) -> bool:
        return panel_shown(frame)


@dataclasses.dataclass(frozen=True)
class SecretFound:
    """Success when the "secret area" message is on screen."""

    def __call__(self, frame: np.ndarray, info: dict[str, Any]) -> bool:
        return secret_message_shown(frame)


class WalkAndJump:
    """Hold a direction; jump (for ``jump_steps``) whenever the view stopped moving for a few steps.

    SuperTux's camera follows Tux, so a still screen while walking means a wall or a step.
    """

    direction = "dpad_right"
    jump_steps = 14
    still_steps = 3

    def reset(self, seed: int) -> None:
        self._previous: np.ndarray | None = None
        self._still = 0
        self._jumping = 0

    def act(self, frame: np.ndarray) -> np.ndarray:
        small = frame[::8, ::8].astype(np.int16)
        moving = self._previous is None or np.abs(small - self._previous).mean() > 1.0
        self._previous = small
        self._still = 0 if moving else self._still + 1
        action = null_action()
        action[INDEX[self.direction]] = 1.0
        if self._jumping == 0 and self._still >= self.still_steps:
            self._jumping = self.jump_steps + 6  # hold jump, then release before the next jump
        if self._jumping > 6:
            action[INDEX["south"]] = 1.0
        self._jumping = max(0, self._jumping - 1)
        return action


class WalkLeftAndJump(WalkAndJump):
    direction = "dpad_left"


def _press(*names: str) -> np.ndarray:
    action = null_action()
    for name in names:
        action[INDEX[name]] = 1.0
    return action


# The level-intro card waits for the jump key; then let Tux land.
INTRO = ((null_action(), 60), (_press("south"), 2), (null_action(), 30))

TASKS = (
    Task(
        name="supertux-finish",
        game="supertux",
        category="navigation",
        description="From beside the last ice block, reach the end of Welcome to Antarctica within 15 s "
        "(the statistics panel appears).",
        time_limit_s=15.0,
        check=PanelShown(),
        demonstrator=WalkAndJump,
        command=_command(8750),
        startup=INTRO,
    ),
    Task(
        name="supertux-secret",
        game="supertux",
        category="game-specific",
        description="Find the secret area behind the last ice block within 20 s (its message appears).",
        time_limit_s=20.0,
        check=SecretFound(),
        demonstrator=WalkLeftAndJump,
        command=_command(8750),
        startup=INTRO,
    ),
)
