"""Neverball (3D floor-tilting): tasks on the easy set, HUD checks and a coin-seeking demonstrator.

Neverball's chase camera keeps the ball in the middle of the lower half of the screen, so steering
is a matter of where things are left or right of the centre column. The HUD (bottom right) shows the
coins taken and, below, how many the goal still needs; both are orange numbers on a dark box.

Neverball renders in software here (llvmpipe), a few frames per real second, so its tasks play at
10 virtual frames per second: the game's physics runs on its own fixed sub-steps, and a decision
every 100 ms is plenty to steer a ball.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from pixelpad.actions import INDEX, null_action
from pixelpad.eval.glyphs import reads_zero
from pixelpad.eval.task import Task

FPS = 10.0
SIZE = (640, 480)  # the HUD's digits are legible from this size up
COINS_BOX = (530, 426, 575, 444)  # x0, y0, x1, y1: the coin count (right-aligned)
GOAL_BOX = (530, 455, 575, 473)  # the coins the goal still needs
TITLE_BOX = (200, 110, 440, 150)  # the green title of the level-complete screen ("New Record")


def _warm(region: np.ndarray) -> np.ndarray:
    """The HUD digits' colours: a yellow-to-orange gradient (the labels beside them are white)."""
    r, b = region[..., 0].astype(np.int16), region[..., 2].astype(np.int16)
    return (r > 180) & (b < 110) & (r - b > 100)


def hud_number_is_zero(frame: np.ndarray, box: tuple[int, int, int, int]) -> bool | None:
    """Whether the HUD number in ``box`` reads 0 (one glyph, a zero); None when no number is there."""
    x0, y0, x1, y1 = box
    return reads_zero(_warm(frame[y0:y1, x0:x1]))


@dataclasses.dataclass(frozen=True)
class CoinTaken:
    """Success once the HUD coin count is no longer 0."""

    def __call__(self, frame: np.ndarray, info: dict[str, Any]) -> bool:
        return hud_number_is_zero(frame, COINS_BOX) is False


@dataclasses.dataclass(frozen=True)
class GoalUnlocked:
    """Success once the goal needs no more coins (its HUD counter reads 0)."""

    def __call__(self, frame: np.ndarray, info: dict[str, Any]) -> bool:
        return hud_number_is_zero(frame, GOAL_BOX) is True


def level_complete(frame: np.ndarray) -> bool:
    """The level-complete screen: its title in bright green (a fresh game has no records, so
    finishing a level always opens it as "New Record"); fall-outs and time-outs do not show it."""
    x0, y0, x1, y1 = TITLE_BOX
    region = frame[y0:y1, x0:x1].astype(np.int16)
    r, g, b = region[..., 0], region[..., 1], region[..., 2]
    return int(((g > 200) & (r < 140) & (b < 140)).sum()) >= 1000


@dataclasses.dataclass(frozen=True)
class LevelComplete:
    """Success when the level-complete screen is up."""

    def __call__(self, frame: np.ndarray, info: dict[str, Any]) -> bool:
        return level_complete(frame)


def _coin_x(frame: np.ndarray) -> float | None:
    """x of the nearest coin: yellow pixels in the play area, weighted towards the bottom (nearer)."""
    region = frame[120:430].astype(np.int16)
    r, g, b = region[..., 0], region[..., 1], region[..., 2]
    yellow = (r > 170) & (g > 170) & (b < 110)
    ys, xs = np.nonzero(yellow)
    if len(xs) < 10:
        return None
    weight = (ys + 1.0) ** 2
    return float((xs * weight).sum() / weight.sum())


class CoinSeeker:
    """Tilt towards the nearest coin: left/right by where it is, forward every other step.

    The keyboard tilts all the way or not at all; forward at half duty keeps the ball slow enough
    to turn.
    """

    deadband = 40.0

    def reset(self, seed: int) -> None:
        self._t = 0

    def act(self, frame: np.ndarray) -> np.ndarray:
        self._t += 1
        action = null_action()
        target = _coin_x(frame)
        centre = frame.shape[1] / 2
        if target is not None and abs(target - centre) > self.deadband:
            action[INDEX["dpad_right" if target > centre else "dpad_left"]] = 1.0
        if self._t % 2 == 0:
            action[INDEX["dpad_up"]] = 1.0
        return action


def _command(level: str) -> tuple[str, ...]:
    return ("neverball", "--level", level)


def _press(name: str) -> np.ndarray:
    action = null_action()
    action[INDEX[name]] = 1.0
    return action


# The level's intro card waits for a click (Return); the profile clicks once, but the card can
# still be loading then. A second click is harmless in play; then wait out "Ready?" / "GO!".
START = ((null_action(), 5), (_press("south"), 1), (null_action(), 20))


TASKS = (
    Task(
        name="neverball-goal",
        game="neverball",
        category="navigation",
        description="Finish 'Goals' (Neverball Easy) within 20 s: take the coins that unlock the goals, "
        "then roll into one (the level-complete screen appears).",
        time_limit_s=20.0,
        check=LevelComplete(),
        demonstrator=CoinSeeker,
        command=_command("map-easy/goals.sol"),
        startup=START,
        fps=FPS,
        size=SIZE,
    ),
    Task(
        name="neverball-unlock",
        game="neverball",
        category="game-specific",
        description="Unlock the goal of the first level of Neverball Easy within 25 s: steer along the "
        "path taking coins until the HUD's goal counter is 0.",
        time_limit_s=25.0,
        check=GoalUnlocked(),
        demonstrator=CoinSeeker,
        command=_command("map-easy/easy.sol"),
        startup=START,
        fps=FPS,
        size=SIZE,
        check_every=1,
    ),
    Task(
        name="neverball-coin",
        game="neverball",
        category="game-specific",
        description="Take a coin on the first level of Neverball Easy within 10 s (HUD coin count above 0).",
        time_limit_s=10.0,
        check=CoinTaken(),
        demonstrator=CoinSeeker,
        command=_command("map-easy/easy.sol"),
        startup=START,
        fps=FPS,
        size=SIZE,
        check_every=1,
    ),
)
