"""Converting only what extraction uses of each decoded frame: the overlay's region and a small copy.

The pipeline reads the overlay at full resolution and stores each frame letterboxed to the
dataset's size (320 x 180 by default). Converting every whole frame to RGB first (what
:func:`pixelpad.video.iter_frames` does) and shrinking it after costs ~0.45 ms a frame at 640 x 360,
a fifth of decoding it, and grows with the video's size. For ``yuv420p`` frames (H.264, VP9 and AV1
streams nearly always) :class:`FrameConverter` works on the decoder's planes instead: it shrinks the
planes to the stored size (area averaging is linear, so shrinking before the colour transform gives
the same picture up to rounding) and converts only the small copy and the overlay's crop, with one
affine colour transform each (~0.1 ms in all). Other pixel formats and colour spaces take the slow
path: a whole-frame conversion by FFmpeg, then crop and shrink (also the reference in the tests).

The colour matrix follows FFmpeg's (which :func:`iter_frames` uses): BT.709 when the frame says so,
BT.601 when it says BT.601 or nothing, limited range; results agree with it to ~1 level on average
(chroma is upsampled bilinearly, so a few pixels at sharp colour edges differ more).

The stored copy is handed over as YUV 4:2:0 (``I420``: the Y plane, then U, then V, in one
``(3H/2, W)`` array), what the H.264 encoder takes, in BT.601 limited range (what the dataset's
videos are). From a BT.601 source it is the decoder's planes shrunk, with no colour transform at all
(crop, stored copy and the hand-over to the encoder: 0.36 -> 0.21 ms a frame at 640 x 360 measured
alone, ~0.1 ms saved in the pipeline's profile); other sources (BT.709: most HD streams) go through
RGB, then OpenCV's RGB -> I420, as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import av
import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h
FAST_FORMATS = frozenset({"yuv420p"})
BT709, UNSPECIFIED, BT470BG, SMPTE170M = 1, 2, 5, 6  # AVColorSpace values


def _yuv_to_rgb(kr: float, kb: float) -> np.ndarray:
    """``(3, 4)`` float32 affine map from limited-range Y'CbCr to RGB for luma weights ``kr``, ``kb``."""
    kg = 1.0 - kr - kb
    luma, chroma = 255.0 / 219.0, 255.0 / 224.0
    m = np.array(
        [
            [luma, 0.0, 2 * (1 - kr) * chroma],
            [luma, -2 * (1 - kb) * kb / kg * chroma, -2 * (1 - kr) * kr / kg * chroma],
            [luma, 2 * (1 - kb) * chroma, 0.0],
        ]
    )
    return np.hstack([m, -(m @ np.array([16.0, 128.0, 128.0]))[:, None]]).astype(np.float32)


BT601_TO_RGB = _yuv_to_rgb(0.299, 0.114)
MATRICES = {
    BT709: _yuv_to_rgb(0.2126, 0.0722),
    **dict.fromkeys((UNSPECIFIED, BT470BG, SMPTE170M), BT601_TO_RGB),
}


def letterbox_geometry(source: tuple[int, int], size: tuple[int, int]) -> tuple[float, int, int, int, int]:
    """Where a ``source`` (h, w) frame lands when letterboxed into ``size`` (h, w):
    ``(scale, x offset, y offset, width, height)`` of the scaled picture."""
    ih, iw = source
    h, w = size
    scale = min(h / ih, w / iw)
    nh, nw = max(1, round(ih * scale)), max(1, round(iw * scale))
    return scale, (w - nw) // 2, (h - nh) // 2, nw, nh


def even_box(box: Box, source: tuple[int, int]) -> Box:
    """``box`` clipped to a ``source`` (h, w) frame and grown to even corners (whole chroma samples)."""
    x, y, w, h = box
    x0, y0 = max(0, math.floor(x) // 2 * 2), max(0, math.floor(y) // 2 * 2)
    x1 = min(source[1], -(-math.ceil(x + w) // 2) * 2)
    y1 = min(source[0], -(-math.ceil(y + h) // 2) * 2)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {box} lies outside the {source[1]}x{source[0]} frame")
    return x0, y0, x1 - x0, y1 - y0


def i420_black(size: tuple[int, int]) -> np.ndarray:
    """A black ``(3H/2, W)`` I420 picture of ``size`` (h, w), limited range (Y 16, U and V 128)."""
    h, w = size
    out = np.full((h * 3 // 2, w), 128, np.uint8)
    out[:h] = 16
    return out


def i420_planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y ``(H, W)``, U and V ``(H/2, W/2)`` planes of a ``(3H/2, W)`` I420 array."""
    h, w = image.shape[0] * 2 // 3, image.shape[1]
    chroma = image[h:].reshape(2, h // 2, w // 2)
    return image[:h], chroma[0], chroma[1]


@dataclass(frozen=True)
class HiddenPixels:
    """Pixels to black out of every stored I420 picture: ``luma`` (H, W) bool and ``chroma`` (H/2, W/2)
    bool, every 2 x 2 chroma block that a hidden pixel touches."""

    luma: np.ndarray
    chroma: np.ndarray

    @classmethod
    def of(cls, pixels: np.ndarray) -> HiddenPixels:
        """From an ``(H, W)`` bool map (H and W even, as I420 needs)."""
        h, w = pixels.shape
        return cls(pixels, pixels.reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3)))

    @classmethod
    def box(cls, box: Box, size: tuple[int, int]) -> HiddenPixels:
        """Every pixel of ``box`` (x, y, w, h) in a ``size`` (h, w) picture."""
        pixels = np.zeros(size, bool)
        x0, y0, w, h = box
        pixels[y0 : y0 + h, x0 : x0 + w] = True
        return cls.of(pixels)

    def apply(self, image: np.ndarray) -> None:
        """Black out the hidden pixels of a ``(3H/2, W)`` I420 picture, in place."""
        y, u, v = i420_planes(image)
        y[self.luma] = 16
        u[self.chroma] = 128
        v[self.chroma] = 128


def _planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """The frame's Y, U, V planes as ``(rows, width)`` uint8 views (no copy)."""
    out = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        out.append(rows[:, : plane.width])
    return out


@dataclass(frozen=True)
class FrameConverter:
    """Per video: each decoded frame → its overlay crop (full resolution) and its stored copy.

    Args:
        source: (h, w) of the video's frames.
        crop: (x, y, w, h) of the region to keep at full resolution (grown to even corners).
        size: (h, w) of the stored copy: the frame scaled to fit, centred on black.

    Calling it with an ``av.VideoFrame`` returns ``(crop, stored)``: the crop ``(h, w, 3)`` RGB, the
    stored copy ``(3H/2, W)`` I420 (BT.601, limited range), both uint8; the stored copy is a fresh
    array the caller may change.
    """

    source: tuple[int, int]
    crop: Box
    size: tuple[int, int]

    @classmethod
    def build(cls, source: tuple[int, int], crop: Box, size: tuple[int, int]) -> FrameConverter:
        return cls(tuple(source), even_box(crop, source), tuple(size))

    def __call__(self, frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray]:
        matrix = MATRICES.get(int(frame.colorspace))
        fast = frame.format.name in FAST_FORMATS and (frame.height, frame.width) == self.source
        if not fast or matrix is None:
            return self.from_rgb(frame.to_ndarray(format="rgb24"))
        y, u, v = _planes(frame)
        x0, y0, w, h = self.crop
        chroma = (slice(y0 // 2, (y0 + h + 1) // 2), slice(x0 // 2, (x0 + w + 1) // 2))
        up = [cv2.resize(p[chroma], None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)[:h, :w] for p in (u, v)]
        crop = cv2.transform(cv2.merge([y[y0 : y0 + h, x0 : x0 + w], *up]), matrix)
        _, ox, oy, nw, nh = letterbox_geometry(self.source, self.size)
        if matrix is BT601_TO_RGB and not (ox | oy | nw | nh) & 1:  # whole chroma samples
            stored = i420_black(self.size)
            for plane, out, k in zip((y, u, v), i420_planes(stored), (1, 2, 2), strict=True):
                out[oy // k : (oy + nh) // k, ox // k : (ox + nw) // k] = cv2.resize(
                    plane, (nw // k, nh // k), interpolation=cv2.INTER_AREA
                )
            return crop, stored
        small = [cv2.resize(p, (nw, nh), interpolation=cv2.INTER_AREA) for p in (y, u, v)]
        rgb = np.zeros((*self.size, 3), np.uint8)
        rgb[oy : oy + nh, ox : ox + nw] = cv2.transform(cv2.merge(small), matrix)
        return crop, cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)

    def from_rgb(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The slow path, from a whole RGB frame ``(H, W, 3)``: the same outputs."""
        x0, y0, w, h = self.crop
        _, ox, oy, nw, nh = letterbox_geometry(self.source, self.size)
        rgb = np.zeros((*self.size, 3), np.uint8)
        rgb[oy : oy + nh, ox : ox + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        crop = np.ascontiguousarray(image[y0 : y0 + h, x0 : x0 + w])
        return crop, cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
