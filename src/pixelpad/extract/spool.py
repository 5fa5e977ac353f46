"""A frame spool: a video's stored frames encoded once, in the worker, ready to become episodes.

The pipeline knows which frames to keep only after the whole video has been read (refinement
needs every frame's action), yet decodes the video once. So the stored frames, already small (the
dataset's frame size), are H.264-encoded as they are decoded, with a key frame exactly every
``gop`` frames. Refinement keeps runs of whole chunks (``horizon`` frames, a multiple of ``gop``),
so every kept segment starts on a key frame and :meth:`FrameSpool.cut` copies its packets into an
episode file without re-encoding; the driver then only splices those packets into the dataset
(:meth:`pixelpad.dataset.EpisodeWriter.add_encoded_episode`). Encoding happens in parallel workers
instead of the one driver (which spent ~2 ms a frame decoding a JPEG spool and re-encoding it).

A spool also keeps, per chunk, the pixel statistics of the chunk's first frame (subsampled), so an
episode's image statistics are pooled from its chunks without decoding anything.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from pixelpad.errors import PixelpadError
from pixelpad.video import VideoError, VideoWriter, iter_frames

VIDEO_NAME = "frames.mp4"
STATS_NAME = "chunk_stats.npy"
_STAT_STRIDE = 4  # every 4th pixel of every 4th row of a chunk's first frame feeds the image stats


class SpoolError(PixelpadError):
    """A spool that is missing or damaged, or a cut that does not start on a key frame."""


class _I420Writer(VideoWriter):
    """A :class:`~pixelpad.video.VideoWriter` fed YUV 4:2:0 (I420) frames, RGB ones converted by OpenCV.

    FFmpeg's conversion of an RGB frame (what ``VideoWriter.write`` hands the encoder) costs ~0.77
    ms for a 320 x 180 frame, OpenCV's ~0.04 ms: the same BT.601 limited-range luma, chroma
    averaged over 2 x 2 pixels instead of FFmpeg's filter (~0.7 levels apart on average).
    """

    def write(self, image: np.ndarray) -> None:
        self.write_i420(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420))

    def write_i420(self, image: np.ndarray) -> None:
        """Append one ``(3H/2, W)`` I420 frame (BT.601, limited range)."""
        height, width = image.shape[0] * 2 // 3, image.shape[1]
        if self._container is None:
            self._start(height, width)
        if (height, width) != self._size or image.shape[0] != height * 3 // 2:
            raise VideoError(
                f"{self.path}: frame {self.frames_written} is not {self._size[1]}x{self._size[0]}"
            )
        frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
        frame.pts = self.frames_written
        frame.time_base = 1 / self.fps
        self._mux(self._stream.encode(frame))
        self.frames_written += 1


class FrameSpool:
    """Append-only H.264 spool in a directory: ``frames.mp4`` + ``chunk_stats.npy``.

    Args:
        path: the spool's directory (an older spool there is replaced).
        fps: the frames' rate.
        gop: frames between key frames; episodes can start at any multiple of it.
        crf, preset, x264_params: x264 settings (the dataset's).
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        gop: int,
        crf: int = 20,
        preset: str = "veryfast",
        x264_params: str = "",
    ) -> None:
        if gop < 1:
            raise SpoolError(f"gop must be >= 1, got {gop}")
        self.path, self.gop = Path(path), gop
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        # One thread: a batch runs one worker per core.
        self._writer = _I420Writer(
            self.path / VIDEO_NAME, fps, crf=crf, preset=preset, gop=gop, fixed_gop=True, threads=1,
            x264_params=x264_params,
        )  # fmt: skip
        self._stats: list[np.ndarray] = []  # per chunk: min (3), max (3), sum (3), sum of squares (3), count

    def append(self, image: np.ndarray) -> None:
        """Add one RGB ``(H, W, 3)`` uint8 frame (H and W even)."""
        self.append_i420(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420))

    def append_i420(self, image: np.ndarray) -> None:
        """Add one ``(3H/2, W)`` I420 uint8 frame (BT.601 limited range; H and W even), as the encoder
        takes it: no colour conversion but for the image statistics of a chunk's first frame."""
        if len(self) % self.gop == 0:
            rgb = cv2.cvtColor(image, cv2.COLOR_YUV2RGB_I420)
            pixels = rgb[::_STAT_STRIDE, ::_STAT_STRIDE].reshape(-1, 3).astype(np.float64) / 255.0
            self._stats.append(
                np.concatenate(
                    [pixels.min(0), pixels.max(0), pixels.sum(0), (pixels**2).sum(0), [len(pixels)]]
                )
            )
        self._writer.write_i420(image)

    def close(self) -> None:
        """Finish the video (a spool of no frames has none) and the chunk statistics."""
        if self._writer.frames_written:
            self._writer.close()
        np.save(self.path / STATS_NAME, np.asarray(self._stats, np.float64).reshape(-1, 13))

    def abort(self) -> None:
        self._writer.abort()
        self.remove(self.path)

    def __len__(self) -> int:
        return self._writer.frames_written

    @staticmethod
    def image_stats(path: str | Path, start: int, stop: int, gop: int) -> dict[str, list[float]]:
        """Per-channel min, max, mean and std (in [0, 1]) of frames ``start .. stop - 1``, pooled over
        the sampled first frames of their chunks."""
        try:
            table = np.load(Path(path) / STATS_NAME)
        except OSError as err:
            raise SpoolError(f"{path}: not a finished frame spool ({err})") from err
        rows = table[start // gop : -(-stop // gop)]
        if len(rows) == 0:
            raise SpoolError(f"{path}: no frames in {start}..{stop}")
        count = rows[:, 12].sum()
        mean = rows[:, 6:9].sum(0) / count
        var = np.maximum(rows[:, 9:12].sum(0) / count - mean**2, 0.0)
        return {
            "min": rows[:, 0:3].min(0).tolist(),
            "max": rows[:, 3:6].max(0).tolist(),
            "mean": mean.tolist(),
            "std": np.sqrt(var).tolist(),
        }

    @staticmethod
    def cut(path: str | Path, segments: list[tuple[int, int]], out: list[str | Path]) -> None:
        """Copy the packets of frames ``start .. stop - 1`` of the spool at ``path`` into ``out[i]``
        for each ``segments[i]`` (no re-encoding); every segment must start on a key frame."""
        if len(segments) != len(out):
            raise SpoolError(f"{len(segments)} segments but {len(out)} output files")
        source = Path(path) / VIDEO_NAME
        try:
            container = av.open(str(source), "r")
        except (av.FFmpegError, FileNotFoundError) as err:
            raise SpoolError(f"{source}: not a finished frame spool ({err})") from err
        outputs: list[Any] = []
        try:
            stream = container.streams.video[0]
            rate = Fraction(stream.average_rate)
            tb = stream.time_base
            frame_pts = 1 / (rate * tb)  # pts units per frame
            for target in out:
                output = av.open(str(target), "w", format="mp4")
                outputs.append((output, output.add_stream_from_template(stream)))
            ordered = sorted(range(len(segments)), key=lambda i: segments[i][0])
            k = 0
            for packet in container.demux(stream):
                if packet.dts is None:
                    continue
                index = round(packet.pts / frame_pts)
                while k < len(ordered) and index >= segments[ordered[k]][1]:
                    k += 1
                if k == len(ordered):
                    break
                start, _ = segments[ordered[k]]
                if index < start:
                    continue
                if index == start and not packet.is_keyframe:
                    raise SpoolError(f"{source}: frame {start} is not a key frame; cannot cut there")
                shift = round(start * frame_pts)
                packet.pts -= shift
                packet.dts -= shift
                output, out_stream = outputs[ordered[k]]
                packet.stream = out_stream
                output.mux(packet)
        except av.FFmpegError as err:
            raise SpoolError(f"{source}: cannot cut segments: {err}") from err
        finally:
            container.close()
            for output, _ in outputs:
                output.close()

    @staticmethod
    def read(path: str | Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames ``start .. stop - 1`` of the spool at ``path``, decoded, RGB ``(H, W, 3)`` uint8."""
        for frame in iter_frames(Path(path) / VIDEO_NAME, threads=1):
            if stop is not None and frame.index >= stop:
                break
            if frame.index >= start:
                yield frame.image

    @staticmethod
    def remove(path: str | Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
