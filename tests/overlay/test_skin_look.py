"""Skin elements' looks (what an action makes them draw) and compositing over stacks of canvases: what
the template reader's renderer relies on to draw each distinct picture once, and many at once."""

import numpy as np
import pytest

from pixelpad.actions import ACTION_DIM, INDEX
from pixelpad.overlay.library import load_skin
from pixelpad.overlay.skin import composite


@pytest.mark.parametrize("name", ["nintendospy/pc360-default", "input-overlay/dualsense"])
def test_actions_with_one_look_render_alike_and_other_looks_differ(skins_dir, name):
    skin = load_skin(skins_dir / name)[0]
    rng = np.random.default_rng(0)
    actions = np.zeros((60, ACTION_DIM), np.float32)
    # Axis values on a fine grid, so that many round to the same cap offset; clicks and a button too.
    actions[:, INDEX["left_x"]] = rng.choice(np.linspace(-1, 1, 41), 60)
    actions[:, INDEX["left_y"]] = rng.choice(np.linspace(-1, 1, 41), 60)
    actions[:, INDEX["left_thumb"]] = rng.integers(0, 2, 60)
    actions[:, INDEX["south"]] = rng.integers(0, 2, 60)
    looks = [tuple(e.look(a) for e in skin.elements) for a in actions]
    renders = [skin.render(a) for a in actions]
    first: dict[tuple, int] = {}
    for k, look in enumerate(looks):
        first.setdefault(look, k)
        np.testing.assert_array_equal(renders[k], renders[first[look]])
    assert 4 < len(first) < len(actions)  # some actions share a look, others do not
    distinct = list(first.values())
    for i, a in enumerate(distinct):
        for b in distinct[i + 1 :]:
            assert (renders[a] != renders[b]).any()


def test_a_stick_axis_look_clips_like_its_picture_and_refuses_nan(skins_dir):
    skin = load_skin(skins_dir / "input-overlay/dualsense")[0]
    stick = next(e for e in skin.elements if "left_x" in e.controls())
    action = np.zeros(ACTION_DIM, np.float32)
    action[INDEX["left_x"]], action[INDEX["left_y"]] = 3.0, -7.0
    assert stick.look(action)[:2] == (round(stick.range_x), round(-stick.range_y))
    action[INDEX["left_x"]] = np.nan
    with pytest.raises(ValueError):
        stick.look(action)


def test_compositing_over_a_stack_equals_compositing_over_each_canvas():
    rng = np.random.default_rng(1)
    canvases = rng.random((5, 12, 14, 4)).astype(np.float32)
    canvases[1, ..., 3] = 0  # a transparent canvas: the sprite's own colour where it is opaque
    sprite = rng.integers(0, 256, (6, 9, 4), dtype=np.uint8)
    sprite[0, :, 3] = 0
    for x, y in [(2, 3), (-4, 8), (10, -2)]:  # inside, and clipped at two edges
        stack = canvases.copy()
        composite(stack, sprite, x, y)
        for k in range(len(canvases)):
            one = canvases[k].copy()
            composite(one, sprite, x, y)
            np.testing.assert_array_equal(stack[k], one)
        assert not np.array_equal(stack, canvases)
