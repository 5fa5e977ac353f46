"""Training batches for the parser from :class:`pixelpad.overlay.pairs.PairGenerator`.

The generator draws pairs of skins over footage; this adapter turns its batches into the labels
:func:`pixelpad.overlay.parser.parser_loss` wants (frame t's buttons and sticks, which of them the
skin shows) and mixes in crops *without* an overlay, so the "visible" head learns what a crop that
shows no overlay looks like (localisation is sometimes wrong, overlays get hidden mid-stream).
"""

from __future__ import annotations

import cv2
import numpy as np

from pixelpad.actions import AXIS_SLICE, BUTTON_SLICE, INDEX
from pixelpad.overlay.pairs import PairGenerator


class GeneratorSource:
    """A :class:`pixelpad.overlay.parser_train.PairSource` over a :class:`PairGenerator`.

    Args:
        generator: draws the overlay pairs.
        hidden: share of pairs replaced by overlay-free crops (footage, else random texture).
    """

    def __init__(self, generator: PairGenerator, hidden: float = 0.1) -> None:
        self.generator = generator
        self.hidden = hidden

    def __call__(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` labelled pairs drawn with ``rng`` (each DataLoader worker passes its own)."""
        self.generator.rng = rng  # the generator draws from the caller's stream, not its own seed
        batch = self.generator.batch(n)
        images = batch["images"]
        actions = batch["actions"][:, 1]  # labels of frame t (the right half)
        mask = batch["mask"]
        visible = rng.random(n) >= self.hidden
        for i in np.flatnonzero(~visible):
            images[i] = self._no_overlay(images.shape[1:3], rng)
        return {
            "images": images,
            "buttons": actions[:, BUTTON_SLICE].astype(np.float32),
            "button_known": mask[:, BUTTON_SLICE],
            "sticks": actions[:, AXIS_SLICE].astype(np.float32),
            "stick_known": mask[:, [INDEX["left_x"], INDEX["right_x"]]],
            "visible": visible,
        }

    def _no_overlay(self, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """Two consecutive overlay-free crops side by side, ``(h, w, 3)``."""
        h, w = size
        footage = self.generator.footage
        if footage is not None and len(footage) >= 2:
            t = int(rng.integers(0, len(footage) - 1))
            fh, fw = footage.shape[1:3]
            ch, cw = int(rng.integers(fh // 4, fh + 1)), int(rng.integers(fw // 4, fw + 1))
            y, x = int(rng.integers(0, fh - ch + 1)), int(rng.integers(0, fw - cw + 1))
            halves = [cv2.resize(footage[t + k, y : y + ch, x : x + cw], (w // 2, h)) for k in (0, 1)]
            return np.concatenate(halves, axis=1)
        small = rng.integers(0, 256, (int(rng.integers(3, 16)), int(rng.integers(3, 16)), 3), dtype=np.uint8)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
