"""The edge search: candidate transforms from the frames' static edges, without descriptor matching."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pixelpad.overlay.bank import TemplateBank
from pixelpad.overlay.composite import Placement
from pixelpad.overlay.edge_search import EdgeSearchError, polish, propose, static_edges
from pixelpad.overlay.first_pass import box_of
from pixelpad.overlay.footage import procedural_footage
from pixelpad.overlay.locate import LocateConfig, locate_frames
from pixelpad.overlay.procedural import procedural_skins
from pixelpad.overlay.synth import composite_frames


def iou(a, b) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)


@pytest.fixture(scope="module")
def outlines() -> TemplateBank:
    """12 procedural skins, no features: the edge search needs the pictures only."""
    return TemplateBank(procedural_skins(12, seed=5), kinds=(), progress=False)


def overlaid(skin, footage, placement: Placement, seed: int = 0):
    """``footage`` with ``skin`` drawn on under random actions: frames (N, H, W, 3) and the box."""
    rng = np.random.default_rng(seed)
    actions = np.zeros((len(footage), 21), np.float32)
    actions[:, :17] = rng.random((len(footage), 17)) < 0.2
    frames, box = composite_frames(footage, skin, actions, placement)
    return np.stack(list(frames)), box


def true_affine(template, box) -> np.ndarray:
    scale = box[2] / template.size[1]
    return np.array([[scale, 0.0, box[0]], [0.0, scale, box[1]]])


@pytest.mark.parametrize("which", [0, 5, 9])
def test_the_right_layout_is_proposed_at_its_box(outlines, which):
    template = outlines.templates[which]
    footage = procedural_footage(25, (240, 320), seed=which)
    frames, box = overlaid(template.skin, footage, Placement("br", 1.1, 0.6), seed=which)
    proposals = propose(outlines, static_edges(frames), 3)
    best = proposals[0]
    assert outlines.layouts[best.layout] == template.skin.layout
    assert iou(box_of(best.affine, template.size, frames.shape[1:3]), box) >= 0.9
    assert len(proposals) == 3 and proposals[0].score >= proposals[1].score >= proposals[2].score
    # Searching only some layouts gives each of them the proposal the full search gives it.
    some = propose(outlines, static_edges(frames), 3, layouts=[proposals[2].layout, proposals[0].layout])
    assert [(p.layout, p.score) for p in some] == [(p.layout, p.score) for p in (proposals[0], proposals[2])]


def test_polish_moves_a_fit_that_is_pixels_off_onto_the_overlay(outlines):
    template = outlines.templates[3]
    footage = procedural_footage(25, (240, 320), seed=2)
    frames, box = overlaid(template.skin, footage, Placement("tl", 1.2, 0.8))
    edges = static_edges(frames)
    layout = int(outlines.layout_of[3])
    truth = true_affine(template, box)
    turn = np.radians(3.0)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    for start in (
        truth * [[1.05], [1.05]] + [[0, 0, 3.0], [0, 0, -2.0]],  # 5 % too big and shifted
        np.column_stack([truth[:, :2] @ rotation, truth[:, 2] + 1.0]),  # turned by 3 degrees
    ):
        polished, correlation = polish(outlines, layout, start, edges)
        th, tw = template.size
        corners = np.array([[0, 0, 1], [tw, 0, 1], [0, th, 1], [tw, th, 1]], np.float64)
        error = np.abs(corners @ polished.T - corners @ truth.T).max()
        before = np.abs(corners @ start.T - corners @ truth.T).max()
        assert error < 1.0 < before
        assert correlation > 0.3


def test_bad_input_is_a_clear_error(outlines):
    with pytest.raises(EdgeSearchError):
        static_edges(np.zeros((4, 32, 32), np.uint8))
    frames = procedural_footage(3, (64, 96), seed=0)
    with pytest.raises(EdgeSearchError):
        propose(outlines, static_edges(frames), 2, widths=(0.5, 0.2))
    assert propose(outlines, static_edges(frames), 0) == []


def without_first_pass(cfg: LocateConfig) -> LocateConfig:
    """No first-pass descriptor fits (no layout is tried by RANSAC), no region pass: only proposals."""
    return replace(cfg, candidates=0, region_k=0, early_frames=0)


@pytest.mark.slow
def test_proposals_find_the_overlay_where_the_first_pass_finds_nothing(bank, real_skins, game_clip):
    """With no first-pass fit at all, the edge search's proposals alone bring the right skin and box
    (guided refinement and acceptance as usual); with no proposals either, nothing is found."""
    skin = next(s for s in real_skins if s.name == "input-overlay/gamepad/default")
    frames, box = overlaid(skin, game_clip[:25], Placement("tr", 1.2, 0.8))
    found = locate_frames(frames, bank, without_first_pass(LocateConfig()))
    assert found is not None and found.skin == skin.name and iou(found.box, box) >= 0.9
    assert locate_frames(frames, bank, without_first_pass(LocateConfig(proposals=0))) is None


@pytest.mark.slow
def test_proposals_on_overlay_free_footage_are_not_accepted(bank, game_clip):
    frames = np.ascontiguousarray(game_clip[::3][:25])
    cfg = without_first_pass(LocateConfig())
    assert len(propose(bank, static_edges(frames), cfg.proposals)) == cfg.proposals
    assert locate_frames(frames, bank, cfg) is None
