"""Video decoding and encoding on PyAV: the one place that talks to FFmpeg.

Every stage that reads or writes pixels goes through here: the overlay stage decodes streamer
footage, the dataset stage stores episodes as H.264, the simulator and the play loop record what
they saw. Conventions, the same everywhere in pixelpad:

* a frame is a ``uint8`` array of shape ``(H, W, 3)`` in RGB order;
* a size is ``(height, width)``; a box is ``(x, y, w, h)`` in pixels of the frame it refers to;
* times are seconds from the first frame of the video, frame indices count from that frame
  (``index = round(time * fps)``), whatever the container's own start time or time base.

Decoding is threaded by FFmpeg (frame and slice threads). :func:`sample_frames` seeks only when the
next wanted frame is far ahead, so sampling N frames costs at most N seeks and never decodes a frame
twice; its ``keyframes_only`` variant decodes only key frames, for fast previews. Everything that
goes wrong with a file (missing, empty, truncated, not a video, corrupt) raises :class:`VideoError`
naming the file.

Example:
    >>> with VideoWriter("clip.mp4", fps=30) as out:          # doctest: +SKIP
    ...     for frame in frames:
    ...         out.write(frame)
    >>> video = probe("clip.mp4")                              # doctest: +SKIP
    >>> indices, images = sample_frames("clip.mp4", 8)         # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av
import cv2
import numpy as np

from pixelpad.errors import PixelpadError

log = logging.getLogger(__name__)

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


def _configure_decoder(stream: av.video.stream.VideoStream, threads: int, keyframes_only: bool) -> None:
    stream.thread_type = "AUTO"  # frame + slice threads
    stream.thread_count = threads  # 0: FFmpeg picks from the core count
    if keyframes_only:
        stream.codec_context.skip_frame = "NONKEY"


def _convert(frame: av.VideoFrame, box: Box | None, size: Size | int | None) -> np.ndarray:
    image = frame.to_ndarray(format="rgb24")
    if box is not None:
        image = crop(image, box)
    if size is not None:
        image = resize(image, size)
    return np.ascontiguousarray(image)


class _Decoder:
    """Frames of one stream with their indices, able to jump forward by seeking."""

    def __init__(self, path: str | os.PathLike[str], threads: int, keyframes_only: bool) -> None:
        self.path = Path(path)
        self.container, self.stream = _open(path)
        _configure_decoder(self.stream, threads, keyframes_only)
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
) -> Iterator[DecodedFrame]:
    """Decode frames with ``start <= time < end`` (seconds; ``end=None``: to the end of the file).

    Seeks once to the key frame before ``start``, then decodes forward. Each frame is cropped to
    ``crop_box`` then resized to ``size`` (height, width) if given. When the whole file is asked for
    and the container promised more frames than could be decoded, raises :class:`VideoError`
    (truncated file).
    """
    decoder = _Decoder(path, threads, keyframes_only)
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
            yield DecodedFrame(index, index / float(decoder.fps), _convert(frame, crop_box, size))
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
    ) -> None:
        if fps <= 0:
            raise VideoError(f"{path}: fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.frames_written = 0
        self._options = {
            "crf": str(crf),
            "preset": preset,
            "g": str(gop or max(1, round(2 * fps))),
            "bf": str(bframes),
            "x264-params": "repeat-headers=1",  # parameter sets with every key frame: safe to splice
        }
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
