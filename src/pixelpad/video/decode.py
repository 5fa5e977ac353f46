"""Decoding with PyAV: probe, exact frame ranges, time ranges, sampling, crop and resize.

See :mod:`pixelpad.video` for the conventions (RGB uint8 frames, sizes as (height, width), boxes as
(x, y, w, h), times from the first frame).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av
import cv2
import numpy as np

from pixelpad.errors import PixelpadError

Box = tuple[int, int, int, int]  # x, y, w, h
Size = tuple[int, int]  # height, width

# Seek instead of decoding forward when the next wanted frame is more than this many frames ahead.
DEFAULT_SEEK_THRESHOLD = 48


class VideoError(PixelpadError):
    """A video file that cannot be read or written: the message names the file and the problem."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a video's first video stream without decoding it."""

    path: Path
    width: int
    height: int
    fps: float
    num_frames: int  # from the container, or counted from packets when the container does not say
    duration: float  # seconds, num_frames / fps
    codec: str


class DecodedFrame(NamedTuple):
    """One decoded frame: its index, its time in seconds and its pixels ``(H, W, 3)`` uint8."""

    index: int
    time: float
    image: np.ndarray


def _open(path: str | os.PathLike[str]) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open ``path`` for reading; errors say which file and why."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    try:
        container = av.open(str(path), "r")
    except av.FFmpegError as err:
        raise VideoError(f"{path}: not a readable video (truncated or not a video file?): {err}") from err
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: contains no video stream")
    return container, container.streams.video[0]


def _fps(stream: av.video.stream.VideoStream, path: Path) -> Fraction:
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate
    if not rate or rate <= 0:
        raise VideoError(f"{path}: the video stream does not say its frame rate")
    return Fraction(rate)


def _count_frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """Number of video packets; demuxing without decoding takes milliseconds per minute of video."""
    count = sum(1 for packet in container.demux(stream) if packet.size > 0)
    container.seek(0)
    return count


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Size, frame rate and frame count of a video's first video stream."""
    container, stream = _open(path)
    with container:
        fps = _fps(stream, Path(path))
        num_frames = stream.frames or _count_frames(container, stream)
        if num_frames == 0:
            raise VideoError(f"{path}: the video stream holds no frames")
        return VideoInfo(
            path=Path(path),
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=float(fps),
            num_frames=num_frames,
            duration=num_frames / float(fps),
            codec=stream.codec_context.name,
        )


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    """The ``(h, w, 3)`` view of ``image`` inside ``box`` = (x, y, w, h), clipped to the image."""
    x, y, w, h = (int(v) for v in box)
    if w <= 0 or h <= 0:
        raise VideoError(f"crop box {box} has no area")
    height, width = image.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x0 >= x1 or y0 >= y1:
        raise VideoError(f"crop box {box} lies outside the {width}x{height} frame")
    return image[y0:y1, x0:x1]


def resize(image: np.ndarray, size: Size | int) -> np.ndarray:
    """``image`` resized to ``size`` = (height, width) (an int means square): area averaging when
    shrinking (no aliasing), bilinear when growing."""
    height, width = (size, size) if isinstance(size, int) else size
    if image.shape[:2] == (height, width):
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def _configure_decoder(
    stream: av.video.stream.VideoStream,
    threads: int,
    keyframes_only: bool,
    options: dict[str, str] | None = None,
) -> None:
    stream.thread_type = "AUTO"  # frame + slice threads
    stream.thread_count = threads  # 0: FFmpeg picks from the core count
    if keyframes_only:
        stream.codec_context.skip_frame = "NONKEY"
    if options:  # applied when the codec opens, at the first decode
        stream.codec_context.options = dict(options)


def _convert(frame: av.VideoFrame, box: Box | None, size: Size | int | None) -> np.ndarray:
    image = frame.to_ndarray(format="rgb24")
    if box is not None:
        image = crop(image, box)
    if size is not None:
        image = resize(image, size)
    return np.ascontiguousarray(image)


class _Decoder:
    """Frames of one stream with their indices, able to jump forward by seeking."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        threads: int,
        keyframes_only: bool,
        options: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.container, self.stream = _open(path)
        _configure_decoder(self.stream, threads, keyframes_only, options)
        self.fps = _fps(self.stream, self.path)
        self.time_base = self.stream.time_base
        self.start_pts = self.stream.start_time or 0
        self._frames: Iterator[av.VideoFrame] | None = None

    def close(self) -> None:
        self.container.close()

    def index_of(self, frame: av.VideoFrame) -> int:
        pts = frame.pts if frame.pts is not None else frame.dts
        return round(float((pts - self.start_pts) * self.time_base * self.fps))

    def seek(self, index: int) -> None:
        """Position before the key frame at or before frame ``index``."""
        pts = self.start_pts + round(index / (self.fps * self.time_base))
        try:
            self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
        except av.FFmpegError as err:
            raise VideoError(f"{self.path}: cannot seek to frame {index}: {err}") from err
        self._frames = None

    def frames(self) -> Iterator[av.VideoFrame]:
        """Decoded frames from the current position; the iterator survives until the next seek."""
        if self._frames is None:
            self._frames = self.container.decode(self.stream)
        while True:
            try:
                frame = next(self._frames)
            except StopIteration:
                return
            except av.FFmpegError as err:
                raise VideoError(f"{self.path}: corrupt or truncated video data: {err}") from err
            yield frame


def iter_frames(
    path: str | os.PathLike[str],
    *,
    start: float = 0.0,
    end: float | None = None,
    crop_box: Box | None = None,
    size: Size | int | None = None,
    keyframes_only: bool = False,
    threads: int = 0,
    convert: Callable[[av.VideoFrame], np.ndarray] | None = None,
    decoder_options: dict[str, str] | None = None,
) -> Iterator[DecodedFrame]:
    """Decode frames with ``start <= time < end`` (seconds; ``end=None``: to the end of the file).

    Seeks once to the key frame before ``start``, then decodes forward. Each frame is cropped to
    ``crop_box`` then resized to ``size`` (height, width) if given; or, with ``convert``, the frame's
    ``image`` is whatever ``convert(av_frame)`` returns (a caller that needs only part of each frame
    converts just that part, from the decoder's planes). ``decoder_options`` are libavcodec options
    for the decoder (e.g. ``{"skip_loop_filter": "all"}``). When the whole file is asked for
    and the container promised more frames than could be decoded, raises :class:`VideoError`
    (truncated file).
    """
    decoder = _Decoder(path, threads, keyframes_only, decoder_options)
    first = max(0, round(start * float(decoder.fps)))
    stop = None if end is None else round(end * float(decoder.fps))
    last = -1
    try:
        if first > 0:
            decoder.seek(first)
        for frame in decoder.frames():
            index = decoder.index_of(frame)
            if index < first:
                continue
            if stop is not None and index >= stop:
                break
            last = index
            image = _convert(frame, crop_box, size) if convert is None else convert(frame)
            yield DecodedFrame(index, index / float(decoder.fps), image)
        promised = decoder.stream.frames
        if end is None and not keyframes_only and promised and last < promised - 1:
            raise VideoError(f"{path}: truncated: decoded frames up to {last}, the file promises {promised}")
    finally:
        decoder.close()


def read_frames(
    path: str | os.PathLike[str],
    *,
    start_frame: int = 0,
    num_frames: int | None = None,
    crop_box: Box | None = None,
    size: Size | int | None = None,
    threads: int = 0,
) -> np.ndarray:
    """Frames ``start_frame .. start_frame + num_frames - 1`` as ``(N, H, W, 3)`` uint8.

    Raises :class:`VideoError` if the video ends before the last one (``num_frames=None``: to the end).
    """
    info = probe(path)
    end = None if num_frames is None else (start_frame + num_frames) / info.fps
    images = [
        f.image
        for f in iter_frames(
            path, start=start_frame / info.fps, end=end, crop_box=crop_box, size=size, threads=threads
        )
    ]
    if num_frames is not None and len(images) < num_frames:
        raise VideoError(
            f"{path}: wanted frames {start_frame}..{start_frame + num_frames - 1}, "
            f"the video ends after {start_frame + len(images)} frames (it has {info.num_frames})"
        )
    if not images:
        raise VideoError(f"{path}: no frames at or after frame {start_frame}")
    return np.stack(images)


def sample_frames(
    path: str | os.PathLike[str],
    n: int,
    *,
    keyframes_only: bool = False,
    crop_box: Box | None = None,
    size: Size | int | None = None,
    threads: int = 0,
    seek_threshold: int = DEFAULT_SEEK_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frames spread evenly over the whole video: ``(indices (n,) int64, frames (n, H, W, 3))``.

    Exact: the frames at ``round(linspace(0, num_frames - 1, n))``. Seeks only when the next one is
    more than ``seek_threshold`` frames ahead, so no frame is decoded twice. With ``keyframes_only``,
    each sample is instead the key frame at or before its target (much faster on long videos; the
    returned indices say which frames they are, and may repeat when key frames are sparse).
    """
    if n < 1:
        raise VideoError(f"sample_frames: n must be >= 1, got {n}")
    info = probe(path)
    targets = np.round(np.linspace(0, info.num_frames - 1, n)).astype(np.int64)
    decoder = _Decoder(path, threads, keyframes_only)
    indices: list[int] = []
    images: list[np.ndarray] = []
    position = -1  # index of the last decoded frame
    current: tuple[int, np.ndarray] | None = None
    try:
        for target in targets.tolist():
            if current is not None and current[0] == target:  # repeated target (n > num_frames)
                indices.append(current[0])
                images.append(current[1])
                continue
            if keyframes_only or target - position > seek_threshold or target < position:
                decoder.seek(target)
            for frame in decoder.frames():
                index = decoder.index_of(frame)
                position = index
                if keyframes_only or index >= target:
                    current = (index, _convert(frame, crop_box, size))
                    break
            else:
                raise VideoError(f"{path}: truncated: frame {target} of {info.num_frames} cannot be decoded")
            indices.append(current[0])
            images.append(current[1])
    finally:
        decoder.close()
    return np.asarray(indices, dtype=np.int64), np.stack(images)
