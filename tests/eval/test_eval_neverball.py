import pytest

from pixelpad.eval.games.neverball import (
    COINS_BOX,
    GOAL_BOX,
    CoinTaken,
    GoalUnlocked,
    LevelComplete,
    hud_number_is_zero,
)


@pytest.mark.parametrize(
    ("fixture", "coins_zero", "goal_zero"),
    [
        ("neverball_hud_c0_g10", True, False),
        ("neverball_hud_c8_g2", False, False),
        ("neverball_hud_c13_g0", False, True),
    ],
)
def test_hud_numbers(frame, fixture, coins_zero, goal_zero):
    image = frame(fixture)
    assert hud_number_is_zero(image, COINS_BOX) is coins_zero
    assert hud_number_is_zero(image, GOAL_BOX) is goal_zero
    assert CoinTaken()(image, {}) is not coins_zero
    assert GoalUnlocked()(image, {}) is goal_zero


def test_no_hud_no_verdict(frame):
    assert hud_number_is_zero(frame("neverball_title_complete"), COINS_BOX) is None


@pytest.mark.parametrize(
    ("fixture", "done"), [("neverball_title_complete", True), ("neverball_title_playing", False)]
)
def test_level_complete_screen(frame, fixture, done):
    assert LevelComplete()(frame(fixture), {}) is done
