"""Colourway choice: the blended fit picks the sibling a video shows; tile residuals follow the model."""

from __future__ import annotations

import numpy as np
import pytest

from pixelpad.overlay.bank import TemplateBank
from pixelpad.overlay.composite import BASE_WIDTH, Placement, blend
from pixelpad.overlay.footage import procedural_footage
from pixelpad.overlay.photometric import (
    ColourwayConfig,
    ColourwayError,
    align,
    choose_template,
    colourway_residuals,
    explained,
    premultiplied_warp,
)
from pixelpad.overlay.procedural import procedural_skins
from pixelpad.overlay.synth import composite_frames


@pytest.fixture(scope="module")
def siblings() -> TemplateBank:
    """Two procedural layouts of three colourways each; templates only (no features)."""
    return TemplateBank(procedural_skins(6, seed=5), kinds=(), progress=False)


def true_affine(bank: TemplateBank, template: int, placement: Placement, box, frame_width: int) -> np.ndarray:
    """Canonical template -> frame, as :func:`pixelpad.overlay.composite.place` drew the skin."""
    t = bank.templates[template]
    scale = placement.scale * BASE_WIDTH * frame_width / t.skin.size[1] / t.factor
    return np.array([[scale, 0, box[0]], [0, scale, box[1]]])


def test_true_colourway_fits_to_rounding_and_siblings_do_not(siblings):
    # A frame made exactly as the model says: the template blended at a tried opacity over one colour.
    layout = np.flatnonzero(siblings.layout_of == siblings.layout_of[0])
    images = [siblings.templates[int(t)].image for t in layout]
    h, w = images[0].shape[:2]
    affine = np.array([[1.0, 0, 7], [0, 1.0, 5]])
    for j, image in enumerate(images):
        background = np.full((h + 20, w + 20, 3), (90, 140, 60), np.uint8)
        frame = blend(background, image, 7, 5, opacity=0.7).astype(np.float32)
        fit = colourway_residuals(images, affine, frame)
        assert fit[j] < 1.0, fit  # uint8 rounding only
        assert np.delete(fit, j).min() > 10 * max(fit[j], 0.1), fit


def test_picks_the_colourway_a_video_shows_at_low_opacity(siblings):
    # The composites of every sibling at stream opacities over game-like footage, averaged like locate does.
    footage = procedural_footage(25, (240, 320), seed=2)
    for template in range(len(siblings)):
        skin = siblings.templates[template].skin
        for opacity in (0.55, 0.9):
            placement = Placement("br", 0.8, opacity)
            frames, box = composite_frames(footage, skin, np.zeros((25, 21), np.float32), placement)
            mean = np.stack(list(frames)).astype(np.float32).mean(axis=0)
            affine = true_affine(siblings, template, placement, box, 320)
            layout = int(siblings.layout_of[template])
            chosen, chosen_affine = choose_template(siblings, [(layout, affine)], mean)
            assert chosen == template, (skin.name, opacity, siblings.templates[chosen].skin.name)
            assert chosen_affine is affine


def test_between_layouts_the_winners_picture_decides(siblings):
    footage = procedural_footage(10, (240, 320), seed=4)
    template = 4  # second layout
    placement = Placement("tl", 0.9, 0.8)
    frames, box = composite_frames(footage, siblings.templates[template].skin, np.zeros((10, 21)), placement)
    mean = np.stack(list(frames)).astype(np.float32).mean(axis=0)
    affine = true_affine(siblings, template, placement, box, 320)
    other = int(siblings.layout_of[0])
    fits = [(other, affine), (int(siblings.layout_of[template]), affine)]
    assert choose_template(siblings, fits, mean)[0] == template


def test_alike_colourways_and_an_overlay_outside_the_frame_give_no_preference(siblings):
    image = siblings.templates[0].image
    frame = np.random.default_rng(0).uniform(0, 255, (200, 300, 3)).astype(np.float32)
    affine = np.array([[0.5, 0, 20], [0, 0.5, 10]])
    assert np.array_equal(colourway_residuals([image, image.copy()], affine, frame), np.zeros(2))
    outside = np.array([[0.5, 0, 400], [0, 0.5, 10]])
    other = siblings.templates[1].image
    assert np.array_equal(colourway_residuals([image, other], outside, frame), np.zeros(2))


def test_colourways_of_different_sizes_are_refused(siblings):
    frame = np.zeros((200, 300, 3), np.float32)
    images = [siblings.templates[0].image, siblings.templates[3].image[:-1]]
    with pytest.raises(ColourwayError, match="share a size"):
        colourway_residuals(images, np.eye(2, 3), frame)


@pytest.mark.parametrize("scale", [0.37, 0.5, 1.0, 1.6])
def test_premultiplied_warp_keeps_area_and_places_the_centre_where_the_affine_says(scale):
    # A soft disc: its opacity mass scales with the area and its centroid follows the transform.
    yy, xx = np.mgrid[:120, :160]
    disc = np.clip(30 - np.hypot(xx - 70.0, yy - 50.0), 0, 1)
    image = np.zeros((120, 160, 4), np.uint8)
    image[..., :3] = 200
    image[..., 3] = (disc * 255).round().astype(np.uint8)
    affine = np.array([[scale, 0, 13.3], [0, scale, 8.6]])
    colour, alpha = premultiplied_warp(image, affine, (0, 0, 300, 220))
    weight = image[..., 3] / 255
    assert alpha.sum() == pytest.approx(weight.sum() * scale**2, rel=0.02)
    centre = affine @ np.array([(xx * weight).sum() / weight.sum(), (yy * weight).sum() / weight.sum(), 1])
    ys, xs = np.mgrid[: alpha.shape[0], : alpha.shape[1]]
    found = np.array([(xs * alpha).sum(), (ys * alpha).sum()]) / alpha.sum()
    assert np.abs(found - centre).max() < 0.1
    np.testing.assert_allclose(colour, np.repeat(200 * alpha[..., None], 3, -1), atol=1.0)  # premultiplied


def test_config_opacities_span_the_range():
    config = ColourwayConfig(min_opacity=0.4, max_opacity=1.0, opacity_steps=4)
    assert config.opacities.tolist() == pytest.approx([0.4, 0.6, 0.8, 1.0])


def test_align_moves_a_transform_that_is_off_by_pixels_back_onto_the_overlay(siblings):
    footage = procedural_footage(10, (240, 320), seed=6)
    template = 1
    placement = Placement("bl", 1.0, 0.7)
    frames, box = composite_frames(footage, siblings.templates[template].skin, np.zeros((10, 21)), placement)
    mean = np.stack(list(frames)).astype(np.float32).mean(axis=0)
    truth = true_affine(siblings, template, placement, box, 320)
    images = [
        siblings.templates[int(t)].image
        for t in np.flatnonzero(siblings.layout_of == siblings.layout_of[template])
    ]
    off = truth.copy()
    off[:, 2] += (1.8, -1.3)
    aligned = align(images, off, mean)
    assert np.abs(aligned[:, 2] - truth[:, 2]).max() < 0.5, aligned[:, 2] - truth[:, 2]
    assert np.array_equal(aligned[:, :2], off[:, :2])
    far = truth.copy()
    far[:, 2] += (9.0, 0.0)  # beyond max_shift: not believed
    assert np.array_equal(align(images, far, mean, ColourwayConfig(max_shift=3.0)), far)
    assert np.array_equal(align(images, off, mean, ColourwayConfig(max_shift=0.0)), off)


def test_explained_detail_is_high_for_the_overlay_and_negative_without_it(siblings):
    """The skin blended over moving footage: its picture explains most of the mean frame under its box;
    the same box on the bare footage, or a skin of the other layout there, explains less than nothing."""
    footage = procedural_footage(25, (240, 320), seed=4)
    template = 0
    other = int(np.flatnonzero(siblings.layout_of != siblings.layout_of[template])[0])
    placement = Placement("tl", 0.9, 0.7)
    frames, box = composite_frames(
        footage, siblings.templates[template].skin, np.zeros((25, 21), np.float32), placement
    )
    mean = np.stack(list(frames)).astype(np.float32).mean(axis=0)
    bare = footage.astype(np.float32).mean(axis=0)
    affine = true_affine(siblings, template, placement, box, 320)
    assert explained(siblings.templates[template].image, affine, mean) > 0.3  # measured 0.44-0.76
    assert explained(siblings.templates[template].image, affine, bare) < 0
    assert explained(siblings.templates[other].image, affine, mean) < 0
    assert (
        explained(siblings.templates[template].image, affine + np.array([[0, 0, 400], [0, 0, 0]]), mean)
        == -1.0
    )
