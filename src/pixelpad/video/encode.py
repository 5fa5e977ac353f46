"""Encoding with PyAV: H.264 MP4 written frame by frame and atomically, and lossless splicing."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from pixelpad.video.decode import VideoError, _open

log = logging.getLogger(__name__)


class VideoWriter:
    """Encode frames one at a time to an H.264 MP4 (yuv420p), written atomically.

    Frames go to ``<path>.partial`` and the file is renamed to ``path`` only by a clean
    :meth:`close`; leaving the ``with`` block by an exception deletes the partial file, so ``path``
    is either absent or a complete video. No B-frames by default: decode order equals display
    order, which lets the dataset stage concatenate encoded episodes without re-encoding.

    Args:
        path: output file (``.mp4``).
        fps: frame rate; frame ``i`` is shown at ``i / fps`` seconds.
        crf: x264 constant rate factor (0 lossless … 51 worst; 18–23 is visually good).
        preset: x264 speed/size trade-off (``ultrafast`` … ``veryslow``).
        gop: frames between key frames (random access granularity); default ``2 * fps``.
        bframes: B-frames between references (0 keeps decode order = display order).
        threads: encoder threads (0: FFmpeg picks).
        bitrate: bits/s for constant-bit-rate encoding, as live streams use (replaces ``crf``):
            artefacts then grow when the picture moves, like in streamers' uploads.
        fixed_gop: key frames exactly every ``gop`` frames (no extra ones at scene cuts), as
            streaming encoders do.
        x264_params: more x264 options over the preset's, ``key=value`` pairs joined by ``:``
            (e.g. ``"subme=1:me=dia"``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        *,
        crf: int = 20,
        preset: str = "veryfast",
        gop: int | None = None,
        bframes: int = 0,
        threads: int = 0,
        bitrate: int | None = None,
        fixed_gop: bool = False,
        x264_params: str = "",
    ) -> None:
        if fps <= 0:
            raise VideoError(f"{path}: fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.frames_written = 0
        gop = gop or max(1, round(2 * fps))
        params = ["repeat-headers=1"]  # parameter sets with every key frame: safe to splice
        self._options = {"preset": preset, "g": str(gop), "bf": str(bframes)}
        if bitrate is None:
            self._options["crf"] = str(crf)
        else:
            if bitrate <= 0:
                raise VideoError(f"{path}: bitrate must be positive, got {bitrate}")
            self._options.update(
                b=str(int(bitrate)), maxrate=str(int(bitrate)), bufsize=str(int(2 * bitrate))
            )
            params.append("nal-hrd=cbr")
        if fixed_gop:
            self._options.update(keyint_min=str(gop), sc_threshold="0")
        params += [p for p in x264_params.split(":") if p]
        self._options["x264-params"] = ":".join(params)
        self._threads = threads
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._size: tuple[int, int] | None = None  # height, width

    def _start(self, height: int, width: int) -> None:
        if height % 2 or width % 2:
            raise VideoError(f"{self.path}: H.264 (yuv420p) needs even frame sizes, got {width}x{height}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(self._partial), "w", format="mp4")
            stream = self._container.add_stream("libx264", rate=self.fps, options=self._options)
        except av.FFmpegError as err:
            raise VideoError(f"{self.path}: cannot open for writing: {err}") from err
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.max_b_frames = int(self._options["bf"])
        stream.thread_type, stream.thread_count = "AUTO", self._threads
        self._stream, self._size = stream, (height, width)

    def write(self, image: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame; every frame must have the first frame's size."""
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise VideoError(
                f"{self.path}: frame {self.frames_written} must be uint8 (H, W, 3), "
                f"got {image.dtype} {image.shape}"
            )
        if self._container is None:
            self._start(image.shape[0], image.shape[1])
        if image.shape[:2] != self._size:
            raise VideoError(
                f"{self.path}: frame {self.frames_written} is {image.shape[1]}x{image.shape[0]}, "
                f"earlier frames are {self._size[1]}x{self._size[0]}"
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = self.frames_written
        frame.time_base = 1 / self.fps
        self._mux(self._stream.encode(frame))
        self.frames_written += 1

    def _mux(self, packets: Iterable[av.Packet]) -> None:
        try:
            self._container.mux(list(packets))
        except av.FFmpegError as err:
            raise VideoError(f"{self.path}: encoding failed: {err}") from err

    def close(self) -> Path:
        """Flush the encoder, finish the file and move it into place; returns the path."""
        if self._container is None:
            raise VideoError(f"{self.path}: no frames were written")
        self._mux(self._stream.encode())
        self._container.close()
        self._container = None
        os.replace(self._partial, self.path)
        return self.path

    def abort(self) -> None:
        """Drop what was written; ``path`` is left untouched."""
        if self._container is not None:
            try:
                self._container.close()
            except av.FFmpegError:
                log.debug("ignoring error while closing aborted %s", self._partial)
            self._container = None
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(
    path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: float, **options: object
) -> Path:
    """Encode all of ``frames`` (each ``(H, W, 3)`` uint8) to ``path``; options as :class:`VideoWriter`."""
    with VideoWriter(path, fps, **options) as writer:  # type: ignore[arg-type]
        for image in frames:
            writer.write(image)
    return writer.path


def splice(
    base: str | os.PathLike[str] | None,
    keep_until: float | None,
    addition: str | os.PathLike[str],
    out: str | os.PathLike[str],
) -> tuple[float, float]:
    """Write ``out`` = ``base`` up to ``keep_until`` seconds, then all of ``addition``, without re-encoding.

    Packets are copied, not decoded, so this costs about as much as copying the files. Both inputs
    must be H.264 from :class:`VideoWriter` with the same size and frame rate (no B-frames, so packet
    order is display order, and ``addition`` starts on a key frame). ``base=None`` copies
    ``addition`` alone. Returns ``(start, end)``: the seconds in ``out`` where ``addition``'s frames
    begin and end.
    """
    output = av.open(str(out), "w", format="mp4")
    out_stream = None
    offset = Fraction(0)  # seconds at which the next input's packets start in ``out``
    try:
        inputs = [] if base is None else [(base, keep_until)]
        for path, limit in [*inputs, (addition, None)]:
            start = offset  # after the loop: where ``addition`` starts
            container, stream = _open(path)
            with container:
                if out_stream is None:
                    out_stream = output.add_stream_from_template(stream)
                tb = stream.time_base
                shift = round(offset / tb)
                limit_pts = None if limit is None else round(Fraction(limit) / tb)
                end = offset
                for packet in container.demux(stream):
                    if packet.dts is None or (limit_pts is not None and packet.pts >= limit_pts):
                        continue
                    packet.pts += shift
                    packet.dts += shift
                    end = max(end, (packet.pts + packet.duration) * tb)
                    packet.stream = out_stream
                    output.mux(packet)
            offset = end
    except av.FFmpegError as err:
        raise VideoError(f"{out}: cannot splice {addition} onto {base}: {err}") from err
    finally:
        output.close()
    return float(start), float(offset)
