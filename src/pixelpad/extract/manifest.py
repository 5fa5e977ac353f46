"""The extraction manifest: one line of JSON per finished video, appended and flushed at once.

A batch over thousands of videos must survive crashes and be re-runnable. Each video's outcome is
appended to ``manifest.jsonl`` as soon as it is known (and fsync'ed), so a crash loses at most the
videos in flight, and a rerun skips every video whose last record is final. Only ``failed`` videos
are retried: ``no_overlay`` and ``too_idle`` are answers, not errors.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pixelpad.errors import PixelpadError

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"
DONE, NO_OVERLAY, TOO_IDLE, FAILED = "done", "no_overlay", "too_idle", "failed"
STATUSES: tuple[str, ...] = (DONE, NO_OVERLAY, TOO_IDLE, FAILED)
# Statuses a rerun does not redo.
FINAL: frozenset[str] = frozenset({DONE, NO_OVERLAY, TOO_IDLE})


class ManifestError(PixelpadError):
    """A manifest file that cannot be read or a record that does not fit the format."""


@dataclass(frozen=True)
class VideoRecord:
    """The outcome for one video.

    Attributes:
        video_id: stable id of the video (see :func:`pixelpad.extract.pipeline.video_id_for`).
        path: the video file as given.
        status: one of :data:`STATUSES`.
        reason: why, in words, for every status but ``done``.
        details: anything else worth keeping (skin, box, reader, scores, episodes, seconds).
    """

    video_id: str
    path: str
    status: str
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ManifestError(f"unknown status {self.status!r}; expected one of {', '.join(STATUSES)}")


class Manifest:
    """Append-only record of video outcomes under a dataset directory; the last record wins."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.path = Path(root) / MANIFEST_NAME
        self._records: dict[str, VideoRecord] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = VideoRecord(**json.loads(line))
            except (json.JSONDecodeError, TypeError) as err:
                # A crash mid-write can leave a torn last line; anything else is corruption.
                if lineno == len(lines) and not text.endswith("\n"):
                    log.warning("dropping a torn last line of %s (a crash mid-write)", self.path)
                    with self.path.open("r+b") as f:
                        f.truncate(len(text.encode("utf-8")) - len(line.encode("utf-8")))
                    continue
                raise ManifestError(f"{self.path}:{lineno}: not a manifest record ({err})") from err
            self._records[record.video_id] = record

    @property
    def records(self) -> dict[str, VideoRecord]:
        """The latest record of every video, by video id."""
        return dict(self._records)

    def is_final(self, video_id: str) -> bool:
        record = self._records.get(video_id)
        return record is not None and record.status in FINAL

    def append(self, record: VideoRecord) -> None:
        """Write one record durably (flush + fsync) before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(record), sort_keys=True, default=str)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._records[record.video_id] = record

    def counts(self) -> dict[str, int]:
        """How many videos have each status (latest record per video)."""
        out = dict.fromkeys(STATUSES, 0)
        for record in self._records.values():
            out[record.status] += 1
        return out

    def pending(self, video_ids: Iterable[str]) -> list[str]:
        """The ids among ``video_ids`` that still need work (no record, or last one ``failed``)."""
        return [v for v in video_ids if not self.is_final(v)]
