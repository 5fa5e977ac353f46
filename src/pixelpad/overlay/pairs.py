"""Training pairs for the overlay parser: two consecutive frames' overlay crops side by side + labels.

The parser sees what the localiser hands it: the overlay's box (slightly off), cropped from two
consecutive video frames, resized and placed side by side so that motion between them (a stick
gliding, a button lighting up) is visible in one image. Labels are the two frames' actions and the
mask of controls the skin shows (absent controls must be predicted "unknown", not "released").

Each pair is made without video I/O: the skin is redrawn at crop size once and cached, actions come
from a pre-drawn bank of realistic sequences, backgrounds from given footage or random texture, and
the crop is degraded the way stream compression does (blur, JPEG). A few milliseconds per pair on
one core; workers scale it to millions.

Example:
    >>> gen = PairGenerator(procedural_skins(20), seed=0)       # doctest: +SKIP
    >>> pair = gen.sample()
    >>> pair.image.shape, pair.actions.shape                     # ((96, 320, 3), (2, 21))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pixelpad.errors import PixelpadError
from pixelpad.overlay.composite import blend
from pixelpad.overlay.sequences import random_actions
from pixelpad.overlay.skin import Skin, resize_skin


class PairError(PixelpadError, ValueError):
    """Settings that cannot make training pairs."""


@dataclass(frozen=True)
class PairConfig:
    """How pairs look. ``crop`` is (height, width) of each half; the image is (h, 2 w, 3)."""

    crop: tuple[int, int] = (96, 160)
    opacity: tuple[float, float] = (0.5, 1.0)
    jitter: float = 0.06  # crop edges move by up to this share of the overlay size (localisation error)
    jpeg_quality: tuple[int, int] = (35, 95)
    blur_probability: float = 0.3
    action_bank: int = 20_000  # frames of pre-drawn action sequences to sample pairs from


@dataclass(frozen=True)
class Pair:
    """One training example: ``image`` (h, 2w, 3) uint8, ``actions`` (2, 21) float32, ``mask`` (21,) bool."""

    image: np.ndarray
    actions: np.ndarray
    mask: np.ndarray
    skin: str


class PairGenerator:
    """Draws :class:`Pair` s from ``skins`` over ``footage`` ((N, H, W, 3) uint8) or random texture."""

    def __init__(
        self,
        skins: Sequence[Skin],
        config: PairConfig | None = None,
        *,
        footage: np.ndarray | None = None,
        seed: int = 0,
    ) -> None:
        if not skins:
            raise PairError("PairGenerator needs at least one skin")
        self.skins = list(skins)
        self.config = config or PairConfig()
        self.footage = footage
        self.rng = np.random.default_rng(seed)
        self.actions = random_actions(self.config.action_bank, self.rng)
        self._scaled: dict[int, tuple[Skin, int, int]] = {}

    def _skin(self, i: int) -> tuple[Skin, int, int]:
        """Skin ``i`` redrawn to fit the crop with room for jitter, and its offset in the padded canvas."""
        if i not in self._scaled:
            skin = self.skins[i]
            h, w = self.config.crop
            room = 1 + 2 * self.config.jitter
            factor = min(h / (skin.size[0] * room), w / (skin.size[1] * room))
            scaled = resize_skin(skin, factor)
            self._scaled[i] = (scaled, *scaled.size)
        return self._scaled[i]

    def _background(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Two consecutive backgrounds (h, w, 3): footage crops, or a random texture moving slightly."""
        rng = self.rng
        if self.footage is not None and len(self.footage) >= 2:
            t = int(rng.integers(0, len(self.footage) - 1))
            fh, fw = self.footage.shape[1:3]
            ch, cw = min(h, fh), min(w, fw)
            y, x = int(rng.integers(0, fh - ch + 1)), int(rng.integers(0, fw - cw + 1))
            pair = [cv2.resize(self.footage[t + k, y : y + ch, x : x + cw], (w, h)) for k in (0, 1)]
            return pair[0], pair[1]
        small = rng.integers(0, 256, (4 + rng.integers(0, 12), 4 + rng.integers(0, 12), 3), dtype=np.uint8)
        texture = cv2.resize(small, (w + 8, h + 8), interpolation=cv2.INTER_CUBIC)
        dx, dy = rng.integers(0, 8, 2)
        return texture[:h, :w].copy(), texture[dy : dy + h, dx : dx + w].copy()

    def _degrade(self, image: np.ndarray) -> np.ndarray:
        cfg, rng = self.config, self.rng
        if rng.random() < cfg.blur_probability:
            image = cv2.GaussianBlur(image, (3, 3), rng.uniform(0.3, 1.0))
        quality = int(rng.integers(*cfg.jpeg_quality))
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else image

    def sample(self) -> Pair:
        """One pair (see :class:`Pair`)."""
        cfg, rng = self.config, self.rng
        i = int(rng.integers(len(self.skins)))
        skin, sh, sw = self._skin(i)
        t = int(rng.integers(0, len(self.actions) - 1))
        actions = self.actions[t : t + 2]
        # The crop box: the overlay's box, each edge moved by the localisation jitter.
        jx, jy = cfg.jitter * sw, cfg.jitter * sh
        x0, y0 = rng.uniform(-jx, jx), rng.uniform(-jy, jy)
        x1, y1 = sw + rng.uniform(-jx, jx), sh + rng.uniform(-jy, jy)
        pad_x, pad_y = int(np.ceil(jx)) + 1, int(np.ceil(jy)) + 1
        opacity = rng.uniform(*cfg.opacity)
        halves = []
        for k, background in enumerate(self._background(sh + 2 * pad_y, sw + 2 * pad_x)):
            frame = blend(background, skin.render(actions[k]), pad_x, pad_y, opacity)
            crop = frame[
                int(y0 + pad_y) : int(np.ceil(y1 + pad_y)), int(x0 + pad_x) : int(np.ceil(x1 + pad_x))
            ]
            halves.append(cv2.resize(crop, (cfg.crop[1], cfg.crop[0]), interpolation=cv2.INTER_AREA))
        image = self._degrade(np.concatenate(halves, axis=1))
        return Pair(image, actions.copy(), self.skins[i].mask(), self.skins[i].name)

    def batch(self, n: int) -> dict[str, np.ndarray]:
        """``n`` pairs stacked: images (n, h, 2w, 3) uint8, actions (n, 2, 21), mask (n, 21), skin (n,)."""
        pairs = [self.sample() for _ in range(n)]
        return {
            "images": np.stack([p.image for p in pairs]),
            "actions": np.stack([p.actions for p in pairs]),
            "mask": np.stack([p.mask for p in pairs]),
            "skin": np.array([p.skin for p in pairs]),
        }
