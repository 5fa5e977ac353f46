"""What extraction blacks out of the stored frames: the pixels an overlay's pictures can cover."""

from __future__ import annotations

import numpy as np
import pytest

from pixelpad.actions import AXIS_SLICE, BUTTON_SLICE
from pixelpad.overlay.footprint import footprint, frame_footprint
from pixelpad.overlay.library import load_skin
from pixelpad.overlay.skin import resize_skin


def random_actions(n: int, seed: int) -> np.ndarray:
    """Any button pattern, sticks anywhere (off the footprint's grid too)."""
    rng = np.random.default_rng(seed)
    actions = np.zeros((n, 21), np.float32)
    actions[:, BUTTON_SLICE] = rng.random((n, BUTTON_SLICE.stop - BUTTON_SLICE.start)) < 0.5
    actions[:, AXIS_SLICE] = rng.uniform(-1, 1, (n, AXIS_SLICE.stop - AXIS_SLICE.start))
    return actions


@pytest.fixture(scope="module")
def see_through(skins_dir):
    """An input-overlay skin whose pictures leave most of its canvas empty, at a video's size."""
    skin = next(s for s in load_skin(skins_dir / "input-overlay/dualsense") if s.name.endswith("white"))
    return resize_skin(skin, 0.25)


def test_every_picture_of_any_action_lies_in_the_footprint(see_through):
    covered = footprint(see_through)
    for action in random_actions(12, seed=0):
        drawn = see_through.render(action, as_float=True)[..., 3] >= 0.5
        assert drawn.any() and not (drawn & ~covered).any()
    # the canvas around the controls stays: the point of a footprint over a box
    assert 0.05 < covered.mean() < 0.5, covered.mean()


def test_an_opaque_skin_covers_its_whole_canvas(skins_dir):
    skin = resize_skin(load_skin(skins_dir / "nintendospy/pc360-default")[0], 0.5)
    assert footprint(skin).all()


def test_the_frame_footprint_covers_the_overlay_where_the_affine_puts_it(see_through):
    scale, x, y = 0.4, 37, 21  # frame pixels per skin pixel, top-left corner in the frame
    frame = frame_footprint(see_through, np.array([[scale, 0, x], [0, scale, y]]), (120, 200))
    placed = resize_skin(see_through, scale)
    h, w = placed.size
    outside = frame.copy()
    outside[y : y + h, x : x + w] = False
    assert not outside[: y - 1].any() and not outside[:, : x - 1].any()  # one pixel of growth at most
    for action in random_actions(12, seed=1):
        drawn = placed.render(action, as_float=True)[..., 3] >= 0.5
        assert not (drawn & ~frame[y : y + h, x : x + w]).any()
    assert frame[y : y + h, x : x + w].mean() < 0.6


def test_min_alpha_is_checked(see_through):
    with pytest.raises(ValueError, match="min_alpha"):
        footprint(see_through, min_alpha=0.0)
