import cv2
import numpy as np
import pytest

from pixelpad.actions import INDEX
from pixelpad.eval.games.chromium_bsu import ScoreAtLeast, ShooterDemo, _enemy_x, lives


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


def _shrunk_and_back(image: np.ndarray, width: int) -> np.ndarray:
    """The frame as a policy's small input keeps it: area-shrunk, then blown up again."""
    height = width * image.shape[0] // image.shape[1]
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)


def test_demonstrator_aims_at_the_enemy_hull_not_at_shots(frame):
    # a recorded frame: an enemy at the top left (x ~ 94), the ship at x ~ 200, its own shots above it
    image = frame("chromium_aim_enemy_left")
    assert abs(_enemy_x(image) - 94) < 12
    assert ShooterDemo().act(image)[INDEX["dpad_left"]] == 1.0
    # a red shot-sized speck lower down and to the right does not become the target
    specked = image.copy()
    specked[250:255, 400:405] = (255, 0, 0)
    assert abs(_enemy_x(specked) - 94) < 12


@pytest.mark.parametrize("width", [240, 120, 80])
def test_demonstrator_decides_the_same_on_a_small_frame(frame, width):
    # what it does must be readable from the frames a small policy trains on
    image = frame("chromium_aim_enemy_left")
    np.testing.assert_array_equal(ShooterDemo().act(_shrunk_and_back(image, width)), ShooterDemo().act(image))


def test_no_enemy_no_steering(frame):
    action = ShooterDemo().act(frame("chromium_score_0"))
    assert action[INDEX["south"]] == 1.0
    assert action[INDEX["dpad_left"]] == action[INDEX["dpad_right"]] == 0.0
