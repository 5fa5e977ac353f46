"""Finding the controller overlay in a video: which skin, where, how sure.

Per video (the NitroGen recipe, with what measurements here taught):

1. sample 25 frames spread over the video (key frames only on long videos: ~5x faster seeks);
2. extract SIFT and XFeat features of each frame;
3. first pass (:mod:`pixelpad.overlay.first_pass`): query each frame descriptor in the bank's one
   index over all templates (k nearest), ratio test against the next neighbour *from the same
   template, elsewhere in it* (colourways of one layout share descriptors; the same keypoint at
   another scale or background is a copy, not a rival), pool the matches per *layout* over all
   frames, count each (frame spot, template keypoint) pair once (a static game spot matched in every
   frame would otherwise draw RANSAC to a degenerate fit), and fit a similarity transform by RANSAC
   for the layouts with most matches; reject absurd scales, rotations, boxes outside the frame;
4. second pass (:mod:`pixelpad.overlay.guided`): for the layouts with most first-pass inliers,
   match each template keypoint to the frame keypoints near where the transform puts it, refit;
   similar templates crowd each other out of the shared index's neighbours, and this finds the
   matches they hid (3-5x more inliers, tighter boxes). Then once more with only the keypoints in
   the best fit's region and more neighbours, for a layout the whole-frame pass missed. The layouts
   whose outlines best fit the frames' static edges (:mod:`pixelpad.overlay.edge_search`, no
   descriptors) are refined too: the first pass can miss the right layout altogether. Each guided
   fit is also tried moved to where its outline fits the edges best (a thin-outline skin's keypoint
   fit can be pixels off, which the acceptance measure feels). When a refined first-pass fit already
   ranks first and explains most of the frame's detail under it (``decisive_explained``), other
   layouts' edge proposals and the second look are skipped (they find what the first pass missed, and
   it missed nothing); only its own layout's proposal is refined. In extraction that took a third off
   a localisation's CPU with the same answers (benchmarks/extract.py, 85cf1b5);
5. rank layouts: first those acceptance could take (step 7), by the detail their picture explains
   in the mean of the sampled frames; then the rest by *evidence*: distinct template keypoints among
   the inliers (static game content that a wrong layout fits by chance repeats its few matches in
   every frame) x the agreement of the layout's picture with the mean frame
   (:mod:`pixelpad.overlay.photometric`); see :meth:`Score.rank`;
6. among the colourways of the best layout pick the one whose picture best explains the mean frame;
7. accept when its picture, alpha-blended over the game, explains at least ``min_explained`` of the
   mean frame's detail under the box (:func:`pixelpad.overlay.photometric.explained`), with floors on
   distinct inliers, inliers, and the tiles under the box that detail is judged on. Calibrated with
   ``benchmarks/locate.py`` (100 + 20 videos, run at 2c6a446): right skins 0.16-0.99 (median 0.79);
   the best fits on overlay-free videos at most -0.09, but for 0.15 and 0.18 in boxes of 3-4 tiles;
   wrong layouts below 0 but for pixel twins and one 2-tile box. Evidence, the former measure,
   overlapped: overlay-free videos up to 52 (40 at 2c6a446), right skins down to 33 (15).

An overlay is assumed fixed during the video. One that moves, or two overlays, still get an answer:
the position/overlay with most support, and :attr:`Location.support` (the share of sampled frames
that agree) tells the caller. A video with no overlay gives ``None``.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import cv2
import numpy as np

from pixelpad.overlay.bank import TemplateBank
from pixelpad.overlay.edge_search import Proposal, polish, propose, static_edges
from pixelpad.overlay.features import FeatureError
from pixelpad.overlay.first_pass import Box, box_of, first_fits, plausible, pool_matches, template_of
from pixelpad.overlay.guided import FramePoints, GuidedFit, refine, stack_frames, support_at
from pixelpad.overlay.photometric import ColourwayConfig, agreement, choose_template, explained

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocateConfig:
    """Settings of :func:`locate` (defaults calibrated with ``benchmarks/locate.py``)."""

    frames: int = 25  # frames sampled per video
    keyframes_above: int = 3000  # sample key frames only in videos longer than this many frames
    max_side: int = 960  # frames are analysed with their longer side at most this
    k: int = 16  # nearest template descriptors per frame descriptor (similar templates crowd the top)
    checks: int = 96  # FLANN leaves visited per query: recall against speed (32 lost 15% of videos)
    ratio: float = 0.85  # same-template ratio test
    # The ratio test's next neighbour must lie this far (canonical template pixels) from the nearest: the
    # same keypoint found at another scale or over another background is a copy, not a rival.
    ratio_apart: float = 8.0
    candidates: int = 48  # layouts tried by RANSAC, most matches first (RANSAC is cheap)
    min_matches: int = 6  # pooled first-pass matches a layout needs to be tried
    dedupe: bool = True  # RANSAC on each (frame spot, template keypoint) pair once (see first_fits)
    shortlist: int = 8  # layouts with most first-pass inliers refined by guided matching
    region_k: int = 48  # neighbours per keypoint in the second look at the best fit's region (0: none)
    region_checks: int = 128
    region_shortlist: int = 12  # layouts refined after that second look
    # Layouts refined from where their outline best fits the frames' static edges (edge_search.py), for a
    # right layout the first pass never shortlists (0: none); overlay widths searched (shares of the frame
    # width) and the ratio of successive scales.
    proposals: int = 8
    proposal_widths: tuple[float, float] = (0.12, 0.75)
    proposal_step: float = 1.12
    polish: bool = True  # also try each guided fit moved to where its outline fits the static edges best
    # A first-pass fit that ranks first (Score.rank) and explains this much of the mean frame's detail ends
    # the search for other layouts: only its own layout's edge proposals are refined, and its region gets
    # no second look (0: always search on). Those exist for a right layout the first pass misses; wrong
    # layouts explain below 0 (pixel twins aside), right skins 0.16-0.99 (median 0.79).
    decisive_explained: float = 0.5
    reprojection: float = 0.006  # RANSAC inlier distance, share of the frame width
    # Acceptance (calibrated with benchmarks/locate.py: above every overlay-free video, below right ones):
    min_explained: float = 0.1  # share of the mean frame's detail under the box the blended skin explains
    # Distinct template keypoints among the inliers, a floor (was 40; a thin-outline skin fitted at its true
    # place by the edge polish had 35, benchmark video 68; overlay-free videos are held off by explained).
    min_distinct: int = 30
    min_inliers: int = 20  # pooled inliers, a floor (the paper's 20)
    # Explained detail is judged in tiles (photometric.ColourwayConfig.tile, 16 analysed pixels a side); under
    # a box of fewer tiles than this it is noise. On benchmarks/locate.py at 2c6a446, two overlay-free videos
    # were accepted with explained 0.15 and 0.18 in boxes of 3.2 and 3.9 tiles; the smallest true overlay
    # covers 12.8, and every found box under 8 tiles was wrong (4 of 120).
    min_tiles: float = 8.0
    # Fits with this many distinct inliers and this much explained detail rank first (Score.rank): the
    # acceptance floors, as settings of their own so that a benchmark that turns acceptance off ranks alike.
    rank_distinct: int = 30
    rank_explained: float = 0.1
    rank_tiles: float = 8.0
    min_width: float = 0.04  # accepted overlay widths, share of the frame width
    max_width: float = 1.0
    max_rotation: float = 8.0  # degrees
    kinds: tuple[str, ...] | None = None  # feature kinds to use (None: all of the bank's)
    xfeat_frames: int = 8  # XFeat (slower than SIFT) runs on this many of the sampled frames
    # A first look at this many of the frames (0: none) ends the search when its best layout has this
    # much evidence and the runner-up at most this share of it (see locate_frames).
    early_frames: int = 10
    early_evidence: float = 210.0
    early_runner_up: float = 0.5
    confidence_prior: float = 70.0  # evidence added to the runner-up's in the confidence (see Location)


def weigh_evidence(distinct: int, agreement: float) -> float:
    """Distinct inliers x picture agreement (0 when the picture disagrees): chance fits on game content
    reach one or the other (many keypoints on busy static scenes, or a flat patch the picture
    correlates with), not both."""
    return distinct * max(agreement, 0.0)


@dataclass(frozen=True)
class Location:
    """Where the overlay is: ``affine`` (2, 3) maps canonical template pixels to frame pixels.

    ``box`` is (x, y, w, h) of the skin's canvas in frame pixels (clipped to the frame);
    ``scale`` is frame pixels per *native* skin pixel; ``inliers`` the pooled RANSAC inliers;
    ``confidence`` = evidence / (evidence + runner-up layout's evidence + confidence_prior), in (0, 1);
    ``support`` the share of sampled frames with inliers (below 1: the overlay is hidden or moves).
    """

    skin: str
    layout: str
    affine: np.ndarray
    box: Box
    scale: float
    inliers: int
    confidence: float
    support: float
    candidates: dict[str, int] = field(
        default_factory=dict
    )  # layout -> distinct inliers, best evidence first
    distinct: int = 0  # template keypoints among the inliers, each counted once
    agreement: float = 0.0  # correlation of the skin's picture with the mean sampled frame (photometric.py)
    searched: int = 0  # sampled frames whose features were searched (fewer when a first look sufficed)
    explained: float = -1.0  # mean-frame detail under the box the blended skin explains (acceptance)

    @property
    def evidence(self) -> float:
        """What acceptance weighs (:func:`weigh_evidence`)."""
        return weigh_evidence(self.distinct, self.agreement)

    def to_dict(self) -> dict:
        return {
            "skin": self.skin, "layout": self.layout, "box": list(self.box), "scale": self.scale,
            "affine": self.affine.round(5).tolist(), "inliers": self.inliers,
            "confidence": round(self.confidence, 4), "support": round(self.support, 4),
            "distinct": self.distinct, "agreement": round(self.agreement, 4), "searched": self.searched,
            "explained": round(self.explained, 4),
        }  # fmt: skip


def frame_features(frames: np.ndarray, bank: TemplateBank, config: LocateConfig | None = None):
    """Features of the sampled frames per kind: ``{kind: {frame number: Features}}``.

    XFeat, the slower extractor, runs on ``config.xfeat_frames`` of the frames spread evenly.
    """
    cfg = config or LocateConfig()
    features: dict = {kind: {} for kind in cfg.kinds or bank.kinds}
    _extract_missing(frames, bank, cfg, features, set(range(len(frames))))
    return features


def _shortlist(first: dict, count: int) -> list[tuple[int, np.ndarray]]:
    """``(layout, affine)`` starts of the ``count`` layouts with most first-pass inliers."""
    return [
        (lay, first[lay][0]) for lay in sorted(first, key=lambda lay: first[lay][1], reverse=True)[:count]
    ]


def _refine(
    bank: TemplateBank,
    starts,
    frames: dict[str, FramePoints],
    shape,
    pixels: Pixels,
    cfg: LocateConfig,
    earlier: dict[int, tuple[GuidedFit, Score]] | None = None,
) -> dict[int, tuple[GuidedFit, Score]]:
    """Guided refinement of each ``(layout, affine)`` start: ``{layout: (GuidedFit, Score)}``, the best-ranked
    fit per layout (a layout can start from a first-pass fit and from an edge-search proposal), counting
    the fits of an ``earlier`` refinement too.

    Guided matching finds the matches the shared index crowded out (see :mod:`pixelpad.overlay.guided`);
    with ``cfg.polish`` the fit is also moved to where the layout's outline best fits the frames' static
    edges (:func:`pixelpad.overlay.edge_search.polish`), and whichever of the two ranks higher is kept.
    """
    n, h, w = shape[:3]
    results = dict(earlier or {})
    for lay, affine in starts:
        guided = refine(bank, lay, affine, frames, n, w, (0.02, 0.008), cfg.reprojection)
        if guided is None:
            continue
        fits = [guided]
        if cfg.polish:
            polished, _ = polish(bank, lay, guided.affine, pixels.edges)
            fits.append(support_at(bank, lay, polished, frames, n, w, cfg.reprojection))
        for fit in fits:
            if not plausible(fit.affine, (h, w), template_of(bank, lay).size, cfg):
                continue
            score = _score(bank, lay, fit, pixels.mean_frame, cfg)
            if lay not in results or score.rank(cfg) > results[lay][1].rank(cfg):
                results[lay] = (fit, score)
    return results


def locate_frames(
    frames: np.ndarray, bank: TemplateBank, config: LocateConfig | None = None, features=None
) -> Location | None:
    """:func:`locate` on already decoded frames ``(N, H, W, 3)`` uint8 (all the same size).

    ``features`` (from :func:`frame_features`) may be given to reuse extracted features; only the
    kinds in ``config.kinds`` (default: all of the bank's) are used, and missing frames' are extracted.

    The search first looks at ``config.early_frames`` of the frames and stops there when its answer is
    already decisive (evidence of at least ``early_evidence``, the runner-up layout's at most
    ``early_runner_up`` of it); otherwise it searches all frames. The colourway and the acceptance
    always use the mean of all frames.
    """
    cfg = config or LocateConfig()
    kinds = cfg.kinds or bank.kinds
    features = {kind: dict((features or {}).get(kind, {})) for kind in kinds}
    mean_frame = frames.astype(np.float32).mean(axis=0)
    n = len(frames)
    stages = [range(n)]
    if 0 < cfg.early_frames < n:
        stages.insert(0, _spread(n, cfg.early_frames))
    memo: dict = {}  # the first look's matches (and the edge proposals), reused by the search over all frames
    pixels = Pixels(mean_frame, static_edges(frames))
    for stage, numbers in enumerate(stages):
        _extract_missing(frames, bank, cfg, features, set(numbers))
        chosen = {
            kind: {f: features[kind][f] for f in sorted(features[kind]) if f in numbers} for kind in kinds
        }
        found, runner_up = _search(bank, chosen, len(numbers), frames.shape[1:3], pixels, cfg, memo)
        last = stage == len(stages) - 1
        if last or (
            found is not None
            and found.evidence >= cfg.early_evidence
            and runner_up <= cfg.early_runner_up * found.evidence
        ):
            return found if found is not None and accepts(found, cfg) else None
    return None


def _spread(n: int, count: int) -> list[int]:
    """``count`` frame numbers spread evenly over ``n`` frames, first and last included."""
    return np.unique(np.round(np.linspace(0, n - 1, count)).astype(int)).tolist()


def _extract_missing(frames: np.ndarray, bank: TemplateBank, cfg: LocateConfig, features: dict, numbers):
    """Add to ``features`` (``{kind: {frame number: Features}}``, updated in place) what
    :func:`frame_features` would give for the frames ``numbers`` and is not there yet."""
    for kind in features:
        if kind not in bank.extractors:
            raise FeatureError(f"the template bank has no {kind} index (it has {', '.join(bank.kinds)})")
        wanted = (
            range(len(frames))
            if kind != "xfeat"
            else _spread(len(frames), min(cfg.xfeat_frames, len(frames)))
        )
        missing = [f for f in wanted if f in numbers and f not in features[kind]]
        if missing:
            features[kind].update(
                zip(missing, bank.extractors[kind]([frames[f] for f in missing]), strict=True)
            )


class Pixels(NamedTuple):
    """What the search compares fits with, from all sampled frames: their mean ``(H, W, 3)`` float32 and
    their static edges (:func:`pixelpad.overlay.edge_search.static_edges`)."""

    mean_frame: np.ndarray
    edges: np.ndarray


def _proposals(bank: TemplateBank, pixels: Pixels, cfg: LocateConfig, memo: dict) -> list[Proposal]:
    """The edge search's proposals (refined beside the first pass's fits), made once per video."""
    if "proposals" not in memo:
        memo["proposals"] = propose(bank, pixels.edges, cfg.proposals, cfg.proposal_widths, cfg.proposal_step)
    return memo["proposals"]


def _best_layout(refined: dict, cfg: LocateConfig) -> int:
    """The layout of ``refined``'s best-ranked fit."""
    return max(refined, key=lambda lay: refined[lay][1].rank(cfg))


def _decisive(refined: dict, cfg: LocateConfig) -> int | None:
    """The layout of ``refined``'s best-ranked fit when that fit is good enough to stop searching other
    layouts (see ``LocateConfig.decisive_explained``), else None."""
    if not refined or cfg.decisive_explained <= 0:
        return None
    lay = _best_layout(refined, cfg)
    best = refined[lay][1]
    return lay if best.rank(cfg)[0] and best.explained >= cfg.decisive_explained else None


def _search(
    bank: TemplateBank,
    features: dict,
    num_frames: int,
    frame_size,
    pixels: Pixels,
    cfg: LocateConfig,
    memo: dict,
):
    """The best-supported overlay in ``features``, not yet thresholded, and the runner-up layout's
    evidence: ``(Location | None, float)``. ``memo``: first-pass matches of frames searched before."""
    cv2.setRNGSeed(0)  # RANSAC draws from OpenCV's global generator: the same frames, the same answer
    shape = (num_frames, *frame_size)
    first = first_fits(bank, pool_matches(bank, features, cfg, memo=memo), frame_size, cfg)
    stacked = stack_frames(features)
    refined = _refine(bank, _shortlist(first, cfg.shortlist), stacked, shape, pixels, cfg)
    decisive = _decisive(refined, cfg)
    if decisive is None:
        proposals = _proposals(bank, pixels, cfg, memo)
    else:  # its own proposal only: started there, its fit can land a pixel closer
        proposals = propose(bank, pixels.edges, 1, cfg.proposal_widths, cfg.proposal_step, layouts=[decisive])
    starts = [(p.layout, p.affine) for p in proposals]
    refined = _refine(bank, starts, stacked, shape, pixels, cfg, earlier=refined)
    if refined and cfg.region_k and decisive is None:
        # Where the best fit lies there is an overlay, maybe of a layout the whole-frame pass never
        # shortlisted (its matches crowded out): match only the keypoints there, with more neighbours.
        lay = _best_layout(refined, cfg)
        x, y, w, h = box_of(refined[lay][0].affine, template_of(bank, lay).size, frame_size)
        region = (x - w / 4, y - h / 4, x + w * 5 / 4, y + h * 5 / 4)
        region_cfg = replace(cfg, k=cfg.region_k, checks=cfg.region_checks)
        first = first_fits(bank, pool_matches(bank, features, region_cfg, region), frame_size, cfg)
        more = {k: v for k, v in first.items() if k not in refined}
        refined |= _refine(bank, _shortlist(more, cfg.region_shortlist), stacked, shape, pixels, cfg)
    results = {lay: fit for lay, (fit, _) in refined.items()}
    scores = {lay: score for lay, (_, score) in refined.items()}
    mean_frame = pixels.mean_frame
    ranked = sorted(results, key=lambda lay: scores[lay].rank(cfg), reverse=True)
    diagnosis = {bank.layouts[lay]: results[lay].distinct for lay in ranked}
    log.debug("locate: distinct inliers per layout %s, scores %s", diagnosis, scores)
    if not ranked:
        return None, 0.0
    fit = results[ranked[0]]
    template, affine = choose_template(bank, [(ranked[0], fit.affine)], mean_frame)
    best = bank.templates[template]
    agrees = agreement(best.image, affine, mean_frame)
    evidence = weigh_evidence(fit.distinct, agrees)
    runner_up = max((scores[lay].evidence for lay in ranked[1:]), default=0.0)
    found = Location(
        skin=best.skin.name, layout=best.skin.layout, affine=affine,
        box=box_of(affine, best.size, frame_size),
        scale=math.hypot(affine[0, 0], affine[1, 0]) * best.factor, inliers=fit.inliers,
        confidence=evidence / max(evidence + runner_up + cfg.confidence_prior, 1e-9), support=fit.support,
        candidates=diagnosis, distinct=fit.distinct, agreement=agrees, searched=num_frames,
        explained=explained(best.image, affine, mean_frame),
    )  # fmt: skip
    return found, runner_up


class Score(NamedTuple):
    """What ranks a refined layout: its best-agreeing colourway's explained detail
    (:func:`pixelpad.overlay.photometric.explained`), evidence (:func:`weigh_evidence`), distinct inliers,
    and the tiles under its box that the explained detail was judged on (:func:`tiles_of`)."""

    explained: float
    evidence: float
    distinct: int
    tiles: float

    def rank(self, cfg: LocateConfig) -> tuple:
        """Sort key, higher first. Fits that acceptance could take (``cfg.rank_distinct`` distinct inliers,
        ``cfg.rank_explained`` explained over ``cfg.rank_tiles`` tiles) come first, by explained detail; the
        rest by evidence.

        Ranked by evidence alone, a wrong layout with many distinct inliers on static game content
        (explained below 0) could win over a right one that acceptance would take. Among fits that
        explain nothing, explained detail is noise (wrong layouts and a right one badly fitted alike
        at -0.2-0), so evidence keeps ranking them.
        """
        if (
            self.distinct >= cfg.rank_distinct
            and self.explained >= cfg.rank_explained
            and self.tiles >= cfg.rank_tiles
        ):
            return (True, self.explained, self.evidence)
        return (False, self.evidence, self.explained)


def _score(
    bank: TemplateBank, layout: int, fit: GuidedFit, mean_frame: np.ndarray, cfg: LocateConfig
) -> Score:
    """:class:`Score` of ``layout`` at ``fit`` against the mean frame ``(H, W, 3)`` float32. Explained detail
    is measured for the best-agreeing colourway only (one measure per layout: ~25-50 ms each)."""
    templates = [bank.templates[int(t)].image for t in np.flatnonzero(bank.layout_of == layout)]
    agrees = [agreement(image, fit.affine, mean_frame) for image in templates]
    best = int(np.argmax(agrees))
    return Score(
        explained(templates[best], fit.affine, mean_frame),
        weigh_evidence(fit.distinct, agrees[best]),
        fit.distinct,
        tiles_of(box_of(fit.affine, template_of(bank, layout).size, mean_frame.shape[:2])),
    )


def tiles_of(box: Box) -> float:
    """How many of :func:`pixelpad.overlay.photometric.explained`'s tiles a ``box`` (x, y, w, h) covers."""
    return box[2] * box[3] / ColourwayConfig().tile ** 2


def accepts(found: Location, cfg: LocateConfig) -> bool:
    """Whether ``found`` has the support ``cfg`` asks for (split out so a benchmark can run with no
    thresholds and apply them after, to see the distributions)."""
    return (
        found.explained >= cfg.min_explained
        and found.distinct >= cfg.min_distinct
        and found.inliers >= cfg.min_inliers
        and tiles_of(found.box) >= cfg.min_tiles
    )


def sample_for_locate(video: str | os.PathLike[str], cfg: LocateConfig) -> tuple[np.ndarray, float]:
    """The frames to analyse ``(n, h, w, 3)`` and the factor from analysed to original pixels."""
    from pixelpad.video import probe, sample_frames

    info = probe(video)
    factor = max(1.0, max(info.width, info.height) / cfg.max_side)
    size = None if factor == 1.0 else (round(info.height / factor), round(info.width / factor))
    n = min(cfg.frames, max(1, info.num_frames))
    indices, frames = sample_frames(video, n, keyframes_only=info.num_frames > cfg.keyframes_above, size=size)
    _, unique = np.unique(indices, return_index=True)  # key-frame sampling can repeat frames
    return frames[np.sort(unique)], factor


def locate(
    video: str | os.PathLike[str], bank: TemplateBank, config: LocateConfig | None = None
) -> Location | None:
    """Find the overlay in ``video``: a :class:`Location`, or None when there is none.

    Raises :class:`pixelpad.video.VideoError` for a file that is not a readable video.
    """
    cfg = config or LocateConfig()
    frames, factor = sample_for_locate(video, cfg)
    found = locate_frames(frames, bank, cfg)
    if found is None or factor == 1.0:
        return found
    box = tuple(round(v * factor) for v in found.box)
    return replace(found, affine=found.affine * factor, box=box, scale=found.scale * factor)
