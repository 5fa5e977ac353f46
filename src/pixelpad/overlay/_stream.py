"""Stream-like H.264 encoding: constant bit rate and a fixed key-frame interval, as live streams use.

:class:`pixelpad.video.VideoWriter` encodes at constant quality (CRF); streamers' uploads come from
a rate-controlled encoder whose artefacts grow when the picture moves. This module is the only place
the overlay stage talks to PyAV for writing, so it can move into :mod:`pixelpad.video` once that
grows a bit-rate mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from pixelpad.video import VideoError


def encode_stream(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    *,
    fps: float,
    bitrate: float,
    gop: int,
    preset: str = "veryfast",
) -> Path:
    """Encode ``frames`` ((H, W, 3) uint8 RGB, even sizes) to an H.264 MP4 at ``bitrate`` bits/s,
    a key frame every ``gop`` frames; the file appears at ``path`` only when complete."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    options = {
        "preset": preset,
        "g": str(gop),
        "keyint_min": str(gop),
        "sc_threshold": "0",  # key frames only on the GOP grid, like a streaming encoder
        "bf": "0",
        "maxrate": str(int(bitrate)),
        "bufsize": str(int(2 * bitrate)),
        "x264-params": "nal-hrd=cbr",
    }
    container = av.open(str(partial), "w", format="mp4")
    try:
        stream = container.add_stream("libx264", rate=rate, options=options)
        stream.bit_rate = int(bitrate)
        stream.pix_fmt = "yuv420p"
        count = 0
        for image in frames:
            if count == 0:
                stream.height, stream.width = image.shape[:2]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = count
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
            count += 1
        if count == 0:
            raise VideoError(f"{path}: no frames to encode")
        container.mux(stream.encode())
    except av.FFmpegError as err:
        container.close()
        partial.unlink(missing_ok=True)
        raise VideoError(f"{path}: encoding failed: {err}") from err
    except BaseException:
        container.close()
        partial.unlink(missing_ok=True)
        raise
    container.close()
    os.replace(partial, path)
    return path
