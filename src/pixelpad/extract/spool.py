"""A frame spool: a video's stored frames as JPEGs in one file, written once, read in ranges.

The pipeline knows which frames to keep only after the whole video has been read (refinement
needs every frame's action), yet decodes the video once. So frames, already small (the dataset's
frame size), are spooled to disk as they are decoded — tens of kilobytes each, no matter how long
the video — and the driver later reads back the kept ranges to write the episodes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from pixelpad.errors import PixelpadError

FRAMES_NAME = "frames.bin"
INDEX_NAME = "index.npy"


class SpoolError(PixelpadError):
    """A spool that is missing or damaged (the worker that wrote it crashed?)."""


class FrameSpool:
    """Append-only JPEG spool in a directory: ``frames.bin`` + ``index.npy`` (byte offsets)."""

    def __init__(self, path: Path, quality: int) -> None:
        self.path = path
        self.quality = quality
        self._offsets: list[int] = [0]
        self._file = None

    @classmethod
    def create(cls, path: str | Path, quality: int = 95) -> FrameSpool:
        """A new, empty spool at ``path`` (an older one there is replaced)."""
        spool = cls(Path(path), quality)
        shutil.rmtree(spool.path, ignore_errors=True)
        spool.path.mkdir(parents=True)
        spool._file = (spool.path / FRAMES_NAME).open("wb")
        return spool

    def append(self, image: np.ndarray) -> None:
        """Add one RGB ``(H, W, 3)`` uint8 frame."""
        # cvtColor, not image[..., ::-1]: the encoder copies a strided view pixel by pixel (2x slower).
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise SpoolError(f"{self.path}: could not encode frame {len(self)} as JPEG")
        self._file.write(data.tobytes())
        self._offsets.append(self._offsets[-1] + len(data))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            np.save(self.path / INDEX_NAME, np.asarray(self._offsets, np.int64))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @staticmethod
    def read(path: str | Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames ``start .. stop - 1`` of the spool at ``path``, RGB ``(H, W, 3)`` uint8."""
        path = Path(path)
        try:
            offsets = np.load(path / INDEX_NAME)
        except OSError as err:
            raise SpoolError(f"{path}: not a finished frame spool ({err})") from err
        stop = len(offsets) - 1 if stop is None else stop
        with (path / FRAMES_NAME).open("rb") as f:
            f.seek(int(offsets[start]))
            for i in range(start, stop):
                data = np.frombuffer(f.read(int(offsets[i + 1] - offsets[i])), np.uint8)
                image = cv2.imdecode(data, cv2.IMREAD_COLOR)
                if image is None:
                    raise SpoolError(f"{path}: frame {i} is damaged")
                yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    @staticmethod
    def remove(path: str | Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
