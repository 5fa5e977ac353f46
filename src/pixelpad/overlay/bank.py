"""The template bank: every skin's released picture, its features, and one search index over all.

Matching a frame against 300 templates one by one costs seconds per frame; one approximate
nearest-neighbour index (FLANN k-d trees) over the descriptors of *all* templates answers each frame
keypoint's k nearest template keypoints at once, and the ratio test is then done per template (see
:mod:`pixelpad.overlay.locate`).

Templates live in *canonical* coordinates: the skin redrawn with its longer side
:data:`TEMPLATE_SIZE` pixels. The picture is the released overlay over mid-grey (its transparent
parts take the colour of the game behind them, which no template can know). Features are extracted
at several template scales (:data:`SCALES`) and mapped back to canonical coordinates: XFeat is barely
scale invariant, and a small overlay no longer shows the fine details SIFT's strongest keypoints of
a full-size template sit on.

A see-through overlay looks different over a bright game than over mid-grey: its thin light
outlines, white on grey in the template, read as grey lines on a white sky, and SIFT's descriptors
flip with the contrast (measured on real input-overlay skins over bright footage: 0-4 correct
SIFT matches from the grey template, 41-94 from one over :data:`LIGHT`). So the SIFT features of
every template with see-through parts are extracted once more over a light background
(:data:`BACKGROUNDS`); both sets index the same template.

Extracting the templates' features takes a while (minutes for 300 templates on a busy machine), so a
bank can keep them in ``cache_dir``: one ``.npz`` per feature kind, named by a hash of everything the
features depend on (the templates' pixels, the extractor settings), so a changed skin or setting
never reads stale features.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from pixelpad.overlay.features import Features, extractor
from pixelpad.overlay.skin import Skin, SkinError, resize_skin
from pixelpad.paths import cache_root

log = logging.getLogger(__name__)

TEMPLATE_SIZE = 320  # longer side of a canonical template, pixels
# Template scales features are extracted at. Overlays are often small (70-300 px wide in a 480-960 px
# frame, 0.2-0.9 of a template): the fine details a full-size template's strongest keypoints sit on
# vanish there, so coarser copies add the keypoints a small overlay still shows.
SCALES = {"sift": (1.0, 0.5, 0.25), "xfeat": (1.0, 0.5, 0.25)}
GREY = 128
LIGHT = 215  # the second background of see-through templates (bright skies, snow, menus)
# Backgrounds templates are drawn over, per feature kind. XFeat's learned descriptors gained little
# over LIGHT in the same measurement (and some videos lost matches), so it keeps grey only.
BACKGROUNDS = {"sift": (GREY, LIGHT), "xfeat": (GREY,)}
SEE_THROUGH = 0.05  # share of a template's pixels with alpha < 250 above which it gets LIGHT features
TEMPLATE_KEYPOINTS = 300  # per template and scale: enough for a few hundred inliers, a small index
FRAME_KEYPOINTS = 1000  # per sampled frame: the overlay is a small part of it
CACHE_VERSION = 1  # bump when the way template features are made changes


@dataclass(frozen=True)
class Template:
    """One skin in canonical coordinates: ``image`` RGBA (h, w, 4) uint8, ``factor`` = canonical / native."""

    skin: Skin
    image: np.ndarray
    factor: float

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[:2]


def make_template(skin: Skin) -> Template:
    factor = TEMPLATE_SIZE / max(skin.size)
    return Template(skin, resize_skin(skin, factor).released(), factor)


def on_grey(rgba: np.ndarray, background: int = GREY) -> np.ndarray:
    """RGBA (h, w, 4) composited over a flat ``background`` (mid-grey by default): RGB (h, w, 3) uint8."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255
    return (rgba[..., :3] * alpha + background * (1 - alpha) + 0.5).astype(np.uint8)


def see_through(rgba: np.ndarray) -> bool:
    """Whether a template has enough see-through pixels that the game behind changes how it looks."""
    return bool((rgba[..., 3] < 250).mean() > SEE_THROUGH)


@dataclass
class Index:
    """All templates' features of one kind.

    ``descriptors`` (M, D), ``keypoints`` (M, 2) in canonical pixels, ``template`` (M,) template ids.
    """

    kind: str
    descriptors: np.ndarray
    keypoints: np.ndarray
    template: np.ndarray
    flann: cv2.flann.Index | None = None

    def build(self) -> None:
        cv2.setRNGSeed(0)  # FLANN's random trees: the same index (so the same answers) in every process
        self.flann = cv2.flann_Index(self.descriptors, {"algorithm": 1, "trees": 4})

    def knn(self, descriptors: np.ndarray, k: int, checks: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """``(indices (N, k) int, distances (N, k) float32 L2)`` of the k nearest template descriptors."""
        k = min(k, len(self.descriptors))
        idx, dist2 = self.flann.knnSearch(
            np.ascontiguousarray(descriptors, np.float32), k, params={"checks": checks}
        )
        return idx.astype(np.int64), np.sqrt(np.maximum(dist2, 0))


def default_cache_dir() -> Path:
    """``banks/`` under :func:`pixelpad.paths.cache_root`: where the CLI, extract and benchmark keep them."""
    return cache_root() / "banks"


class TemplateBank:
    """Templates of ``skins`` and one index per feature kind in ``kinds``.

    ``cache_dir``: where to keep (and look for) the templates' features; None extracts them afresh.
    """

    def __init__(
        self,
        skins: Sequence[Skin],
        kinds: Sequence[str] = ("sift", "xfeat"),
        *,
        progress: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
    ):
        if not skins:
            raise SkinError("a template bank needs at least one skin")
        names = [s.name for s in skins]
        if len(set(names)) != len(names):
            raise SkinError("template bank: skin names must be unique")
        self.kinds = tuple(kinds)
        self.templates = [make_template(s) for s in tqdm(skins, desc="templates", disable=not progress)]
        self.layouts = sorted({s.layout for s in skins})
        self.layout_of = np.array([self.layouts.index(t.skin.layout) for t in self.templates])
        self.extractors = {kind: extractor(kind, FRAME_KEYPOINTS) for kind in self.kinds}
        self._template_extractors = {kind: extractor(kind, TEMPLATE_KEYPOINTS) for kind in self.kinds}
        self.indexes = {kind: self._cached_index(kind, progress, cache_dir) for kind in self.kinds}

    def _key(self, kind: str, background: int) -> str:
        """Hash of everything the ``kind`` features of the templates over ``background`` depend on."""
        settings = (
            CACHE_VERSION,
            kind,
            TEMPLATE_SIZE,
            TEMPLATE_KEYPOINTS,
            SCALES[kind],
            background,
            cv2.__version__,
        )
        digest = hashlib.sha256(repr(settings).encode())
        for template in self.templates:
            digest.update(repr(template.image.shape).encode())
            digest.update(np.ascontiguousarray(template.image).tobytes())
        return digest.hexdigest()[:24]

    def _cached_index(self, kind: str, progress: bool, cache_dir: str | os.PathLike[str] | None) -> Index:
        """The ``kind`` index over every background's features, each part read from the cache if there."""
        parts = [self._cached_part(kind, background, progress, cache_dir) for background in BACKGROUNDS[kind]]
        index = Index(kind, *(np.concatenate([part[i] for part in parts]) for i in range(3)))
        index.build()
        log.info(
            "%s index: %d descriptors over %d templates", kind, len(index.descriptors), len(self.templates)
        )
        return index

    def _cached_part(
        self, kind: str, background: int, progress: bool, cache_dir: str | os.PathLike[str] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if cache_dir is None:
            return self._part(kind, background, progress)
        path = Path(cache_dir) / f"{kind}-{len(self.templates)}-{self._key(kind, background)}.npz"
        if path.is_file():
            try:
                with np.load(path) as data:
                    part = data["descriptors"], data["keypoints"], data["template"]
                log.info("%s features over %d: %d read from %s", kind, background, len(part[0]), path)
                return part
            except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
                log.warning("%s: unreadable bank cache (%s); extracting the features again", path, err)
        part = self._part(kind, background, progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp.npz")  # written whole, then renamed: no torn reads
        np.savez(partial, descriptors=part[0], keypoints=part[1], template=part[2])
        partial.replace(path)
        return part

    def _part(self, kind: str, background: int, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features of the templates over ``background`` (all of them over grey, the see-through ones over
        the others): ``descriptors (m, D)``, canonical ``keypoints (m, 2)``, ``template (m,)`` ids."""
        extract = self._template_extractors[kind]
        descriptors = [np.zeros((0, extract.dim), np.float32)]
        keypoints, ids = [np.zeros((0, 2), np.float32)], [np.zeros(0, np.int64)]
        for t, template in enumerate(
            tqdm(self.templates, desc=f"{kind} over {background}", disable=not progress)
        ):
            if background != GREY and not see_through(template.image):
                continue  # an opaque template looks the same over any game
            picture = on_grey(template.image, background)
            for scale in SCALES[kind]:
                h, w = picture.shape[:2]
                image = picture if scale == 1.0 else cv2.resize(picture, (round(w * scale), round(h * scale)),
                                                                interpolation=cv2.INTER_AREA)  # fmt: skip
                if min(image.shape[:2]) < 32:
                    continue
                feats: Features = extract([image])[0]
                descriptors.append(feats.descriptors)
                keypoints.append(feats.keypoints / scale)
                ids.append(np.full(len(feats), t))
        return np.concatenate(descriptors), np.concatenate(keypoints), np.concatenate(ids)

    def __len__(self) -> int:
        return len(self.templates)
