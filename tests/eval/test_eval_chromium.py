import pytest

from pixelpad.eval.games.chromium_bsu import ScoreAtLeast, lives


@pytest.mark.parametrize(
    ("fixture", "at_least_100", "at_least_1000", "at_least_10000"),
    [
        ("chromium_score_0", False, False, False),
        ("chromium_score_75", False, False, False),
        ("chromium_score_5300", True, True, False),
        ("chromium_score_15300", True, True, True),
    ],
)
def test_score_read_off_the_hud(frame, fixture, at_least_100, at_least_1000, at_least_10000):
    image = frame(fixture)
    assert ScoreAtLeast(2)(image, {}) is at_least_100
    assert ScoreAtLeast(3)(image, {}) is at_least_1000
    assert ScoreAtLeast(4)(image, {}) is at_least_10000


@pytest.mark.parametrize(
    ("fixture", "count"),
    [("chromium_lives_4", 4), ("chromium_lives_3", 3), ("chromium_lives_1", 1), ("chromium_lives_0", 0)],
)
def test_lives_counted_from_icons(frame, fixture, count):
    assert lives(frame(fixture)) == count


@pytest.mark.parametrize("fixture", ["chromium_score_gameover_slide", "chromium_score_covered"])
def test_no_score_verdict_when_the_hud_is_not_clear(frame, fixture):
    # game over slides the HUD half out of its band (true score 5,000); the ship covers it (13,125):
    # neither may read as a bigger score, so neither may pass any threshold
    assert ScoreAtLeast(3)(frame(fixture), {}) is False
    assert ScoreAtLeast(4)(frame(fixture), {}) is False
