"""The template reader: its fit against a plain least-squares reference, and reads of real skins
composited over game-like footage with known actions (no encoder: the pipeline tests add it)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from pixelpad.actions import AXIS_SLICE, BUTTON_SLICE
from pixelpad.overlay.composite import BASE_WIDTH, blend
from pixelpad.overlay.footage import procedural_footage
from pixelpad.overlay.library import SKINS_ENV, default_skins_dir, load_skin
from pixelpad.overlay.sequences import random_actions
from pixelpad.overlay.skin import resize_skin
from pixelpad.overlay.template_fit import Templates, residuals
from pixelpad.overlay.template_reader import TemplateReader


def _reference(colour, alpha, patch, opacities):
    """The fit spelled out: per rendering, per opacity, the game colour by least squares per channel."""
    out = np.zeros(len(colour))
    for k in range(len(colour)):
        best = np.inf
        for o in opacities:
            sse = 0.0
            for c in range(3):
                target = patch[:, c] - o * colour[k, :, c]
                basis = (1 - o * alpha[k])[:, None]
                g = np.linalg.lstsq(basis, target, rcond=None)[0]
                sse += float(((target - basis @ g) ** 2).sum())
            best = min(best, sse)
        out[k] = best / patch.size
    return out


def test_residuals_match_a_plain_least_squares_fit():
    rng = np.random.default_rng(0)
    alpha = rng.random((6, 50)).astype(np.float32) * (rng.random((6, 50)) < 0.7)
    colour = (rng.random((6, 50, 3)) * alpha[..., None]).astype(np.float32)
    opacities = np.linspace(0.3, 1.2, 7)
    # Frames made by blending rendering 2 at opacity 0.6 over a flat game colour, plus noise.
    game = np.array([0.2, 0.5, 0.1])
    patches = np.stack(
        [
            0.6 * colour[2] + (1 - 0.6 * alpha[2])[:, None] * game + rng.normal(0, s, (50, 3))
            for s in (0.0, 0.02)
        ]
    ).astype(np.float32)  # (B, Q, 3)
    got = residuals(
        Templates.build(colour, alpha), np.ascontiguousarray(patches.transpose(1, 2, 0)), opacities
    )
    for b, patch in enumerate(patches):
        np.testing.assert_allclose(got[b], _reference(colour, alpha, patch, opacities), rtol=1e-3, atol=1e-6)
        assert np.argmin(got[b]) == 2
    assert got[0, 2] < 1e-6


def _skin(name: str):
    root = default_skins_dir()
    if root is None or not (Path(root) / name).is_dir():
        pytest.fail(f"real skins not found under {root}: set {SKINS_ENV} to a copy of shared/skins")
    return load_skin(Path(root) / name)[0]


@pytest.mark.parametrize(
    ("name", "scale", "opacity", "dim"),
    [
        ("nintendospy/gamecube-default", 1.0, 0.7, 1.0),  # filled pictures
        ("input-overlay/xbox-one-controller", 1.2, 0.6, 0.3),  # line art, see-through, over a dark game
    ],
)
def test_reader_recovers_actions_of_a_real_skin_over_footage(name, scale, opacity, dim):
    skin = _skin(name)
    footage = (procedural_footage(40, (360, 640), seed=1) * dim).astype(np.uint8)
    actions = random_actions(40, 5)
    actions[:, AXIS_SLICE] = np.random.default_rng(6).uniform(-1, 1, (40, 4))  # sticks all over their range
    factor = scale * BASE_WIDTH * 640 / skin.size[1]
    placed = resize_skin(skin, factor)
    x, y = 640 - 12 - placed.size[1], 360 - 12 - placed.size[0]
    frames = np.stack(
        [blend(f, placed.render(a), x, y, opacity) for f, a in zip(footage, actions, strict=True)]
    )
    reader = TemplateReader(skin, np.array([[factor, 0, x], [0, factor, y]]))
    reads, visible = reader.read(frames)
    assert (visible > 0.5).all()
    shown = skin.mask()
    b = shown[BUTTON_SLICE]
    accuracy = ((reads[:, BUTTON_SLICE] > 0.5) == (actions[:, BUTTON_SLICE] > 0.5))[:, b].mean()
    s = shown[AXIS_SLICE]
    pred, true = reads[:, AXIS_SLICE][:, s], actions[:, AXIS_SLICE][:, s]
    r2 = 1 - ((pred - true) ** 2).sum() / ((true - true.mean(0)) ** 2).sum()
    # Reading nothing scores ~0.9 on buttons (mostly released) and <= 0 on sticks; the placed skin
    # rounds cap positions to whole pixels, which alone costs a few hundredths of R².
    assert accuracy >= 0.99, accuracy
    assert r2 >= 0.9, r2


def test_frames_without_the_overlay_are_unreadable():
    skin = _skin("nintendospy/gamecube-default")
    reader = TemplateReader(skin, np.array([[0.5, 0, 400], [0, 0.5, 150]]))
    reads, visible = reader.read(procedural_footage(4, (360, 640), seed=2))
    assert (visible < reader.config.min_visible).all()
    assert np.isnan(reads).all()


@pytest.mark.parametrize(
    "affine", [[[0.61, 0.02, 401.3], [-0.02, 0.61, 149.7]], [[1.3, 0, -20], [0, 1.3, 250]]]
)
def test_a_crop_holding_the_source_box_samples_like_the_whole_frame(affine):
    skin = _skin("nintendospy/gamecube-default")
    reader = TemplateReader(skin, np.array(affine))
    frame = procedural_footage(1, (360, 640), seed=3)[0]
    x, y, w, h = reader.source_box()
    x0, y0 = max(0, x), max(0, y)  # the box may stick out of the frame: the crop is clipped to it
    crop = frame[y0 : y + h, x0 : x + w]
    whole = reader.sample(frame)
    assert np.array_equal(reader.sample(crop, (x0, y0)), whole)  # taps rounded in frame coordinates
    smaller = frame[y0 + 3 : y + h, x0 + 3 : x + w]  # a crop that misses some of it does not
    assert np.abs(reader.sample(smaller, (x0 + 3, y0 + 3)).astype(int) - whole).max() > 50
    # The sampled pixels are those of the whole overlay warped bilinearly (OpenCV rounds its taps a
    # little differently: a level or two at the footage's sharpest edges).
    th, tw = reader.size
    warped = cv2.warpAffine(frame, reader.warp_matrix, (tw, th), flags=cv2.INTER_LINEAR)
    diff = np.abs(warped.reshape(-1, 3)[reader.pixels].astype(int) - whole)
    assert diff.mean() < 0.5 and diff.max() <= 8, (diff.mean(), diff.max())
    assert 0 < len(reader.pixels) < th * tw  # only the pixels some comparison uses


def test_big_overlays_are_read_at_the_capped_working_size():
    skin = _skin("nintendospy/gamecube-default")
    big = TemplateReader(skin, np.array([[2.0, 0, 0], [0, 2.0, 0]]))
    assert max(big.size) <= big.config.max_side + 1 < max(skin.size) * 2
    small = TemplateReader(skin, np.array([[0.1, 0, 0], [0, 0.1, 0]]))
    assert abs(max(small.size) - 0.1 * max(skin.size)) <= 2  # smaller ones at their own size


@pytest.mark.parametrize(
    ("name", "factor"),
    [
        ("nintendospy/pc360-default", 0.3),
        ("nintendospy/pc360-default", 0.6),
        ("input-overlay/dualsense", 0.12),
    ],
)
def test_tiled_renderings_equal_whole_skin_renders_blurred_and_warped(name, factor):
    """Renderings are the base picture's plus each action's tile: the same as rendering the whole skin
    at every action, then blurring and warping it (the definition), to float precision."""
    import cv2

    from pixelpad.actions import ACTION_DIM, INDEX
    from pixelpad.overlay.template_assets import _Renderer

    skin = _skin(name)
    renderer = _Renderer(skin, factor)
    rng = np.random.default_rng(0)
    r = renderer.factor / renderer.render_factor
    assert r < 1  # the blurred case
    for side in skin.sticks():
        box = renderer.working_box(skin.regions()[f"{side}_x"], 3)
        actions = np.zeros((12, ACTION_DIM), np.float32)
        actions[:, INDEX[f"{side}_x"]], actions[:, INDEX[f"{side}_y"]] = rng.uniform(-1, 1, (2, 12))
        if f"{side}_thumb" in skin.controls:
            actions[::2, INDEX[f"{side}_thumb"]] = 1
        actions[:, INDEX["south"]] = rng.integers(0, 2, 12)  # a button too, wherever it is
        colour, alpha = renderer.render(box, actions)
        ux, uy, uw, uh = box
        for k, action in enumerate(actions):
            rgba = renderer.render_skin.render(action, as_float=True)
            rgba[..., :3] *= rgba[..., 3:]
            rgba = cv2.GaussianBlur(rgba, (0, 0), 0.4 / r)
            want = cv2.warpAffine(
                rgba, np.array([[r, 0, -ux], [0, r, -uy]]), (uw, uh), flags=cv2.INTER_LINEAR
            )
            np.testing.assert_allclose(colour[k], want[..., :3], atol=1e-5)
            np.testing.assert_allclose(alpha[k], want[..., 3], atol=1e-5)
        assert np.ptp(colour, axis=0).max() > 0.2  # the cap moves: the renderings differ


@pytest.mark.parametrize(
    ("name", "factor"),
    [
        ("nintendospy/pc360-default", 0.3),  # the click is a button of its own
        ("nintendospy/pc360-default", 0.6),  # unblurred (rendered at the skin's own size)
        ("input-overlay/dualsense", 0.06),  # the click is the cap's other picture; offsets repeat
    ],
)
def test_stick_grid_renderings_equal_whole_skin_renders(name, factor):
    """The stick assets' renderings (each plane's caps drawn over a stack of tiles at once, repeated
    looks drawn once) are the whole skin rendered at each grid offset, blurred and warped."""
    import cv2

    from pixelpad.actions import ACTION_DIM, INDEX
    from pixelpad.overlay.template_assets import _Renderer, _stick

    skin = _skin(name)
    renderer = _Renderer(skin, factor)
    r = renderer.factor / renderer.render_factor
    rng = np.random.default_rng(1)
    for side in skin.sticks():
        assets = _stick(skin, renderer, side, 21)
        ux, uy, uw, uh = assets.box
        assert assets.click == f"{side}_thumb" and assets.clicked.any()
        rows = rng.choice(len(assets.offsets), 6, replace=False)
        rows[0] = int(np.flatnonzero(assets.clicked)[0])
        for k in rows:
            action = np.zeros(ACTION_DIM, np.float32)
            action[INDEX[f"{side}_x"]], action[INDEX[f"{side}_y"]] = assets.offsets[k]
            action[INDEX[f"{side}_thumb"]] = float(assets.clicked[k])
            rgba = renderer.render_skin.render(action, as_float=True)
            rgba[..., :3] *= rgba[..., 3:]
            if r < 1:
                rgba = cv2.GaussianBlur(rgba, (0, 0), 0.4 / r)
            want = cv2.warpAffine(
                rgba, np.array([[r, 0, -ux], [0, r, -uy]]), (uw, uh), flags=cv2.INTER_LINEAR
            )
            np.testing.assert_allclose(assets.templates.colour[k], want[..., :3].ravel(), atol=1e-5)
            np.testing.assert_allclose(assets.templates.alpha[k], want[..., 3].ravel(), atol=1e-5)
        assert np.ptp(assets.templates.colour, axis=0).max() > 0.2  # the cap moves
