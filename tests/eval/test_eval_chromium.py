import pytest

from pixelpad.eval.games.chromium_bsu import ScoreAtLeast, lives


@pytest.mark.parametrize(
    ("fixture", "at_least_1000", "at_least_10000"),
    [
        ("chromium_score_0", False, False),
        ("chromium_score_5300", True, False),
        ("chromium_score_15300", True, True),
    ],
)
def test_score_read_off_the_hud(frame, fixture, at_least_1000, at_least_10000):
    image = frame(fixture)
    assert ScoreAtLeast(3)(image, {}) is at_least_1000
    assert ScoreAtLeast(4)(image, {}) is at_least_10000


@pytest.mark.parametrize(
    ("fixture", "count"),
    [("chromium_lives_4", 4), ("chromium_lives_3", 3), ("chromium_lives_1", 1), ("chromium_lives_0", 0)],
)
def test_lives_counted_from_icons(frame, fixture, count):
    assert lives(frame(fixture)) == count
