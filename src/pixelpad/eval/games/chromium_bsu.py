"""Chromium B.S.U. (2D vertical shooter): tasks, HUD readers and the demonstrator.

Everything is read off the 640x480 screen of the ``chromium-bsu`` profile (window mode 1):

* the score: seven grey digits at the bottom left (x 64-133, y 463-473), drawn translucent over the
  scrolling floor (see :func:`_score_cells`);
* the lives: small blue ship icons stacked down the top right (x 590-640), 22 px apart;
* power-up gauges: coloured ammunition bars that appear at the top left (x 18-40) once a weapon
  power-up is picked up.

The demonstrator fires all the time, slides under the nearest enemy (red hulls) and, for the
power-up task, under the nearest falling power-up (a bright star-shaped sprite) instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from pixelpad.actions import INDEX, null_action
from pixelpad.eval.glyphs import glyph_spans, is_zero
from pixelpad.eval.task import Task

SCORE_Y = (462, 474)  # rows of the seven score digits
SCORE_X = (56, 150)  # columns they lie in (the HUD slides a few pixels at game over)
SCORE_DIGITS = 7
LIVES_X = (590, 640)
LIVES_Y0, LIVES_PITCH, LIVES_H = 28, 22, 14
PLAYFIELD_X = (60, 580)


def _score_cells(frame: np.ndarray) -> list[np.ndarray | None]:
    """The seven score digits as boolean masks, lit where the grey text is; None for a digit
    something else covers (the ship flying over the HUD, an explosion's flash), and all None when
    the row does not split into seven digits (the HUD sliding or fading at game over).

    The digits are translucent grey (~130) and separated by darker columns, so they are found as
    runs of bright columns rather than at fixed places. The floor shows through their holes, and a
    bright patch of floor makes a hole as bright as a thin stroke's anti-aliased edge: a pixel is lit
    only near the brightest of its digit (the text's core). Anything brighter than the text, or
    coloured, is not the HUD.
    """
    (y0, y1), (x0, x1) = SCORE_Y, SCORE_X
    rows = frame[y0:y1, x0:x1].astype(np.float32)
    grey, spread = rows.mean(axis=2), rows.max(axis=2) - rows.min(axis=2)
    spans = glyph_spans(grey > 85.0, min_width=4)
    if len(spans) != SCORE_DIGITS or any(b - a > 11 for a, b in spans):
        return [None] * SCORE_DIGITS
    cells: list[np.ndarray | None] = []
    for a, b in spans:
        g, sp = grey[:, max(0, a - 1) : b + 1], spread[:, max(0, a - 1) : b + 1]
        lit = g > max(70.0, 0.75 * float(g.max()))
        inked_rows = np.flatnonzero(lit.any(axis=1))
        whole = len(inked_rows) >= 8 and inked_rows[0] > 0 and inked_rows[-1] < len(lit) - 1
        if g.max() > 190 or (sp > 60).sum() > 3 or g.max() < 100 or not whole:
            cells.append(None)  # covered, fading, or cut by the band (the HUD slides at game over)
        else:
            cells.append(lit)
    return cells


def score_at_least(frame: np.ndarray, power_of_ten: int) -> bool:
    """True when the HUD score is at least ``10 ** power_of_ten``: one of its leading digits is not 0.

    False while any digit is covered (the ship or a flash bleeds into its neighbours too): the judge's
    ``confirm`` waits for a clear view.
    """
    cells = _score_cells(frame)
    if any(cell is None for cell in cells):
        return False
    return any(cell.any() and not is_zero(cell) for cell in cells[: SCORE_DIGITS - power_of_ten])


def lives(frame: np.ndarray) -> int:
    """Ship icons at the top right (each is a blue arrow of ~60 blue pixels)."""
    x0, x1 = LIVES_X
    region = frame[:, x0:x1].astype(np.int16)
    blue = (region[..., 2] > 150) & (region[..., 2] > region[..., 0] + 20)
    count = 0
    for k in range(6):
        top = LIVES_Y0 + k * LIVES_PITCH
        if blue[top : top + LIVES_H].sum() < 15:
            break
        count += 1
    return count


@dataclasses.dataclass(frozen=True)
class ScoreAtLeast:
    """Success when the HUD score reaches ``10 ** power_of_ten``."""

    power_of_ten: int

    def __call__(self, frame: np.ndarray, info: dict[str, Any]) -> bool:
        return score_at_least(frame, self.power_of_ten)


@dataclasses.dataclass(frozen=True)
class LivesAtLeast:
    """Holds while at least ``count`` ship icons remain."""

    count: int

    def __call__(self, frame: np.ndarray, info: dict[str, Any]) -> bool:
        return lives(frame) >= self.count


def _ship_x(frame: np.ndarray) -> float | None:
    """Centre x of the player's ship: the blue-white hull in the lower part of the playfield."""
    x0, x1 = PLAYFIELD_X
    region = frame[300:460, x0:x1].astype(np.int16)
    hull = (region[..., 2] > 180) & (region[..., 0] > 100) & (region[..., 2] > region[..., 1] + 30)
    xs = np.nonzero(hull)[1]
    return float(np.median(xs)) + x0 if len(xs) >= 6 else None


COARSE = 8  # the demonstrator looks for enemies on the frame shrunk 8x (80x60), as a small policy sees it
ENEMY_ROWS = 300  # enemies are targeted above this row (px): lower ones are about to collide anyway
ENEMY_REDNESS = 25  # a coarse cell is "red" when red exceeds both green and blue by this much
ENEMY_MASS = 400  # summed redness of a blob that is an enemy hull (hulls: 600-1300; lights, shots: < 200)


def _enemy_x(frame: np.ndarray) -> float | None:
    """x (px) of the lowest enemy above the ship, read off the frame shrunk 8x; None when none is.

    An enemy hull is a red ring around a grey body, ~30 px across: on the coarse frame a blob of a
    dozen strongly red cells. The background's coloured lights and the shots are a cell or two and
    fade out there. Reading only what survives the shrink is deliberate: a policy looks at a 64x64
    frame, so a demonstrator whose choice hinges on a few full-size pixels (an earlier version
    chased red shots) teaches moves no frame a policy sees can explain.
    """
    import cv2

    h, w = frame.shape[0] // COARSE, frame.shape[1] // COARSE
    coarse = frame[: h * COARSE, : w * COARSE].reshape(h, COARSE, w, COARSE, 3).mean(axis=(1, 3))
    redness = coarse[..., 0] - np.maximum(coarse[..., 1], coarse[..., 2])
    x0, x1 = (round(x / COARSE) for x in PLAYFIELD_X)
    redness[:, :x0], redness[:, x1:], redness[ENEMY_ROWS // COARSE :] = 0, 0, 0
    count, labels, _, centres = cv2.connectedComponentsWithStats((redness > ENEMY_REDNESS).astype(np.uint8))
    best: tuple[float, float] | None = None  # (y, x) of the lowest enemy, coarse cells
    for k in range(1, count):
        if redness[labels == k].sum() >= ENEMY_MASS and (best is None or centres[k][1] > best[0]):
            best = (float(centres[k][1]), float(centres[k][0]))
    return None if best is None else (best[1] + 0.5) * COARSE


class ShooterDemo:
    """Fire always; tap left/right to stay under the lowest enemy (the ship moves ~19 px a step)."""

    deadband = 14.0

    def reset(self, seed: int) -> None:
        pass

    def act(self, frame: np.ndarray) -> np.ndarray:
        action = null_action()
        action[INDEX["south"]] = 1.0
        ship, target = _ship_x(frame), _enemy_x(frame)
        if ship is not None and target is not None and abs(target - ship) > self.deadband:
            action[INDEX["dpad_right" if target > ship else "dpad_left"]] = 1.0
        return action


TASKS = (
    Task(
        name="chromium-score-100",
        game="chromium-bsu",
        category="combat",
        description="Score 100 points by shooting (HUD score) within 15 s of the first level: before the "
        "first ships arrive, whose collisions score 2,500 even for an idle player.",
        time_limit_s=15.0,
        check=ScoreAtLeast(2),
        demonstrator=ShooterDemo,
    ),
    Task(
        name="chromium-score-10000",
        game="chromium-bsu",
        category="combat",
        description="Reach 10,000 points (HUD score) within 40 s of the first level.",
        time_limit_s=40.0,
        check=ScoreAtLeast(4),
        demonstrator=ShooterDemo,
    ),
    Task(
        name="chromium-survive",
        game="chromium-bsu",
        category="navigation",
        description="Lose no ship for 20 s of the first level (all four life icons stay on screen).",
        time_limit_s=20.0,
        check=LivesAtLeast(4),
        demonstrator=ShooterDemo,
        mode="hold",
    ),
)
