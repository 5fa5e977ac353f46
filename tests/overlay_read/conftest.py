"""A tiny stand-in pair source: squares for buttons, a cap in a box for each stick."""

import numpy as np
import pytest

from pixelpad.actions import NUM_BUTTONS

CROP = 64
# (background, released, pressed): a narrowed task of one layout in three colourways.
COLOURWAYS = np.array(
    [
        [[30, 30, 30], [90, 90, 90], [240, 240, 240]],
        [[200, 40, 40], [20, 20, 120], [250, 220, 0]],
        [[240, 240, 240], [120, 160, 120], [10, 60, 10]],
    ]
)


def _draw(actions: np.ndarray, colours: np.ndarray, visible: bool, rng: np.random.Generator) -> np.ndarray:
    """One (64, 64, 3) crop: 17 buttons in a 6 x 3 grid on top, two stick boxes below."""
    img = np.broadcast_to(colours[0], (CROP, CROP, 3)).astype(np.int16).copy()
    if visible:
        for b in range(NUM_BUTTONS):
            y, x = 4 + (b // 6) * 9, 4 + (b % 6) * 10
            img[y : y + 6, x : x + 6] = colours[2] if actions[b] > 0.5 else colours[1]
        for s in range(2):
            x0, y0 = 6 + s * 30, 34
            img[y0 : y0 + 24, x0 : x0 + 24] = colours[1]
            cx = x0 + 9 + round(actions[NUM_BUTTONS + 2 * s] * 8)
            cy = y0 + 9 + round(actions[NUM_BUTTONS + 2 * s + 1] * 8)
            img[cy : cy + 6, cx : cx + 6] = colours[2]
    img += rng.integers(-12, 13, img.shape, dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def toy_pairs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    buttons = (rng.random((n, NUM_BUTTONS)) < 0.3).astype(np.float32)
    sticks = np.where(rng.random((n, 4)) < 0.3, 0.0, rng.uniform(-1, 1, (n, 4))).astype(np.float32)
    visible = rng.random(n) > 0.1
    images = np.empty((n, CROP, 2 * CROP, 3), dtype=np.uint8)
    for i in range(n):
        colours = COLOURWAYS[rng.integers(len(COLOURWAYS))]
        prev = np.concatenate([(rng.random(NUM_BUTTONS) < 0.3).astype(np.float32), rng.uniform(-1, 1, 4)])
        images[i, :, :CROP] = _draw(prev, colours, visible[i], rng)
        images[i, :, CROP:] = _draw(np.concatenate([buttons[i], sticks[i]]), colours, visible[i], rng)
    return {
        "images": images,
        "buttons": buttons,
        "button_known": np.ones((n, NUM_BUTTONS), dtype=bool),
        "sticks": sticks,
        "stick_known": np.ones((n, 2), dtype=bool),
        "visible": visible,
    }


@pytest.fixture
def pair_source():
    return toy_pairs
