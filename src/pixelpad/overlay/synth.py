"""Synthetic overlay videos: footage + a skin driven by actions, stream-encoded, with ground truth.

:func:`synthesize_video` composites the skin, rendered exactly for each frame's action, onto the
footage at a placement, encodes the result like a live stream (H.264, constant bit rate, fixed
GOP; on one encoder thread, so the same inputs give the same file), and writes the truth beside
the video: ``<video>.json`` (skin, layout, overlay box, placement, codec settings, which controls
the skin shows) and ``<video>.actions.npy`` (``(N, 21)`` float32).
:class:`GroundTruth` reads it back.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pixelpad.actions import ACTION_DIM, NAMES
from pixelpad.errors import PixelpadError
from pixelpad.overlay.composite import Placement, blend, place
from pixelpad.overlay.sequences import random_actions
from pixelpad.overlay.skin import Skin
from pixelpad.video import write_video

Box = tuple[int, int, int, int]


class SynthError(PixelpadError, ValueError):
    """Inputs that cannot make a synthetic video."""


@dataclass(frozen=True)
class GroundTruth:
    """What a synthetic video shows. ``box`` is (x, y, w, h) of the skin's canvas in the frame."""

    video: str
    skin: str
    layout: str
    box: Box
    placement: Placement
    fps: float
    bitrate: float
    gop: int
    num_frames: int
    shown: tuple[str, ...]  # pixelpad controls the skin shows (others are unknown, not released)
    actions: np.ndarray = field(repr=False)  # (num_frames, 21) float32

    def save(self) -> Path:
        """Write ``<video>.json`` and ``<video>.actions.npy``; returns the JSON path."""
        meta = {k: v for k, v in asdict(self).items() if k != "actions"}
        meta["box"] = list(self.box)
        path = Path(self.video + ".json")
        path.write_text(json.dumps(meta, indent=1))
        np.save(self.video + ".actions.npy", self.actions)
        return path

    @classmethod
    def load(cls, video: str | os.PathLike[str]) -> GroundTruth:
        """The truth written beside ``video`` by :func:`synthesize_video`."""
        video = str(video)
        try:
            meta = json.loads(Path(video + ".json").read_text())
            actions = np.load(video + ".actions.npy")
        except (OSError, ValueError) as err:
            raise SynthError(f"{video}: no readable ground truth beside it ({err})") from err
        meta["placement"] = Placement(**meta["placement"])
        meta["box"] = tuple(meta["box"])
        meta["shown"] = tuple(meta["shown"])
        return cls(**meta, actions=actions)

    def mask(self) -> np.ndarray:
        """``(21,)`` bool: which action columns the overlay shows."""
        return np.array([n in self.shown for n in NAMES])


def composite_frames(footage: np.ndarray, skin: Skin, actions: np.ndarray, placement: Placement):
    """Yield footage frames with the overlay for each action drawn on; also returns the box.

    Returns ``(frames iterator, box)``; the skin is redrawn once at its placed size.
    """
    scaled, box = place(skin, footage.shape[1:3], placement)

    def frames():
        for frame, action in zip(footage, actions, strict=True):
            yield blend(frame, scaled.render(action), box[0], box[1], placement.opacity)

    return frames(), box


def synthesize_video(
    footage: np.ndarray,
    skin: Skin,
    out_path: str | os.PathLike[str],
    *,
    actions: np.ndarray | None = None,
    placement: Placement | None = None,
    bitrate: float = 3e6,
    fps: float = 30.0,
    gop: int | None = None,
    seed: int = 0,
) -> GroundTruth:
    """Write a synthetic overlay video and its ground truth (see module docstring).

    Args:
        footage: ``(N, H, W, 3)`` uint8 game frames (even H and W).
        skin: the overlay.
        out_path: the ``.mp4`` to write.
        actions: ``(N, 21)``; None draws a realistic sequence (:func:`random_actions`, ``seed``).
        placement: corner, scale, opacity (default: bottom-right, scale 1, opaque).
        bitrate: bits per second of the stream encoder.
        fps: frame rate.
        gop: key-frame interval in frames (default 2 s, the usual streaming setting).
    """
    footage = np.asarray(footage)
    if footage.ndim != 4 or footage.shape[-1] != 3 or footage.dtype != np.uint8 or len(footage) == 0:
        raise SynthError(
            f"footage must be uint8 (N, H, W, 3) with N >= 1, got {footage.dtype} {footage.shape}"
        )
    n = len(footage)
    if actions is None:
        actions = random_actions(n, seed)
    actions = np.asarray(actions, np.float32)
    if actions.shape != (n, ACTION_DIM):
        raise SynthError(f"actions must be ({n}, {ACTION_DIM}) for {n} footage frames, got {actions.shape}")
    placement = placement or Placement()
    gop = gop or max(1, round(2 * fps))
    frames, box = composite_frames(footage, skin, actions, placement)
    # Stream-like: constant bit rate and key frames only on the GOP grid, as a live encoder makes them.
    # One encoder thread: x264's threaded rate control makes a different file on every run (three
    # encodes of one clip, three files), and a video near a threshold then flips between runs.
    write_video(out_path, frames, fps, bitrate=int(bitrate), gop=gop, fixed_gop=True, threads=1)
    truth = GroundTruth(
        video=str(out_path), skin=skin.name, layout=skin.layout, box=box, placement=placement, fps=fps,
        bitrate=bitrate, gop=gop, num_frames=n, shown=skin.controls, actions=actions,
    )  # fmt: skip
    truth.save()
    return truth
