"""SuperTux 0.6 (2D platformer): tasks near the end of "Welcome to Antarctica", checks, demonstrators.

Start states come from SuperTux's own ``--spawn-pos X,Y`` (world pixels): the level's last stretch,
so an episode is seconds, not minutes. The profile's start-up closes the level-intro card. Two tasks
play edited copies of the level, written to the game's private HOME: one snowball more (stomp), the
jumpy on the last ice block left out (finish: it knocked the demonstrator down in 4 of 6 climbs, so
success measured its timing luck rather than the climb).

Checks read two things SuperTux draws:

* the end-of-level statistics panel (Time / Coins / Badguys / Secrets, values in bright green on a
  translucent box in the middle of the screen), shown when Tux crosses the level's end trigger;
* the yellow "You found a secret area!" message across the middle of the screen.

The demonstrators hold a direction, and jump when the screen stops scrolling (Tux is blocked by a
step or a wall) -- closed-loop on pixels only.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np

from pixelpad.actions import INDEX, null_action
from pixelpad.eval.errors import EvalError
from pixelpad.eval.glyphs import glyph_spans, is_zero
from pixelpad.eval.task import Task

LEVEL = "/usr/share/games/supertux2/levels/world1/welcome_antarctica.stl"
# The four value rows of the statistics panel (y centres) and the x range of their values.
PANEL_ROWS = (191, 211, 231, 251)
PANEL_X = (296, 400)
MESSAGE_Y = (226, 252)  # the band of the "secret area" message (text colour 255, 255, 153)


STOMP_LEVEL = "levels/stomp.stl"  # in the game's private HOME
# One more snowball, walking towards Tux between the last spawn point and the end of the level.
STOMP_ENEMY = '(snowball (direction "left") (x 9050) (y 500))'


def stomp_level() -> dict[str, str]:
    """Welcome to Antarctica with one more snowball near its end (the combat task's level)."""
    text = Path(LEVEL).read_text()
    marker = '(name "main")'
    if marker not in text:
        raise EvalError(f"{LEVEL}: no main sector; is this SuperTux 0.6's level?")
    return {STOMP_LEVEL: text.replace(marker, f"{marker}\n    {STOMP_ENEMY}", 1)}


FINISH_LEVEL = "levels/finish.stl"  # in the game's private HOME
# The jumpy bouncing on top of the last ice block: it knocks Tux down on a seed-drawn share of the
# climbs (the walk-and-jump demonstrator finished 2 of 6), so the finish task's level leaves it out.
_LAST_JUMPY = re.compile(r"\(jumpy\s*\(direction \"left\"\)\s*\(x 8608\)\s*\(y 288\)\s*\)")


def finish_level() -> dict[str, str]:
    """Welcome to Antarctica without the jumpy on the last ice block (the finish task's level)."""
    text = Path(LEVEL).read_text()
    calm, count = _LAST_JUMPY.subn("", text)
    if count != 1:
        raise EvalError(f"{LEVEL}: no jumpy at x 8608; is this SuperTux 0.6's level?")
    return {FINISH_LEVEL: calm}


def _command(spawn_x: int, spawn_y: int = 500, level: str = LEVEL) -> tuple[str, ...]:
    return (
        "supertux2", "--window", "--geometry", "{width}x{height}", "--renderer", "sdl", "--disable-sound",
        "--disable-music", "--no-show-fps", "--userdir", "{home}/supertux",
        "--spawn-pos", f"{spawn_x},{spawn_y}", level,
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


def badguys_defeated(frame: np.ndarray) -> bool:
    """The panel's "Badguys" value (third row, "killed/total") does not start with a 0."""
    x0, x1 = PANEL_X
    y = PANEL_ROWS[2]
    row = frame[y - 7 : y + 7, x0:x1]
    mask = _green_text(row) | _yellow_text(row)
    spans = glyph_spans(mask)
    return bool(spans) and not is_zero(mask[:, spans[0][0] : spans[0][1]])


@dataclasses.dataclass(frozen=True)
class PanelShown:
    """Success when the end-of-level statistics panel is on screen."""

    def __call__(self, frame: np.ndarray, info: dict[str, Any]) -> bool:
        return panel_shown(frame)


@dataclasses.dataclass(frozen=True)
class FinishedWithKill:
    """Success when the statistics panel is up and counts at least one defeated badguy."""

    def __call__(self, frame: np.ndarray, info: dict[str, Any]) -> bool:
        return panel_shown(frame) and badguys_defeated(frame)


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


class Stomper:
    """Walk right; when something dark on the ground comes near, stop, jump straight up as it
    closes in and let it walk in under Tux (he lands on it: a stomp), then walk on.

    Tux is the first dark blob on the ground band (rows 215-262, where he walks at this spawn);
    an enemy is the next one. Columns that are also dark higher up (poles, walls) are ignored.
    """

    stop_px = 160  # stop walking when an enemy is this close
    trigger_px = 70  # jump when it is this close (it walks ~80 px during the jump)
    jump_steps = 8

    def reset(self, seed: int) -> None:
        self._jumping = 0

    def act(self, frame: np.ndarray) -> np.ndarray:
        dark = frame.max(axis=2) < 80
        tall = dark[40:200].any(axis=0)
        blobs = glyph_spans(dark[215:262] & ~tall, min_width=8)
        gap = blobs[1][0] - blobs[0][1] if len(blobs) >= 2 else None
        action = null_action()
        if self._jumping == 0 and gap is not None and gap < self.trigger_px:
            self._jumping = self.jump_steps + 20  # jump, then stand still until the hop is over
        if self._jumping > 20:
            action[INDEX["south"]] = 1.0
        if self._jumping == 0 and (gap is None or gap > self.stop_px):
            action[INDEX["dpad_right"]] = 1.0
        self._jumping = max(0, self._jumping - 1)
        return action


TASKS = (
    Task(
        name="supertux-finish",
        game="supertux",
        category="navigation",
        description="From before the last ice block, climb its steps and reach the end of Welcome to "
        "Antarctica within 8 s (the statistics panel appears); the jumpy on top is left out. The "
        "demonstrator takes 4 s; random input drifted there once in 4 tries given 15 s.",
        time_limit_s=8.0,
        check=PanelShown(),
        demonstrator=WalkAndJump,
        command=_command(8150, 400, level="{home}/" + FINISH_LEVEL),
        files=finish_level,
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
    ),
)

TASKS = (
    *TASKS,
    Task(
        name="supertux-stomp",
        game="supertux",
        category="combat",
        description="Squash the snowball in Tux's way and finish the level within 15 s "
        "(the statistics panel counts at least one badguy).",
        time_limit_s=15.0,
        check=FinishedWithKill(),
        demonstrator=Stomper,
        command=_command(8750, level="{home}/" + STOMP_LEVEL),
        files=stomp_level,
    ),
)
