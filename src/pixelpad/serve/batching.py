"""Micro-batching: gather concurrent predict requests into one forward pass, waiting milliseconds.

A batch opens with the first waiting request and closes when it is full, when the window has
passed, or as soon as every *active* session is in it: nobody else is coming, so waiting longer
would only add latency. A session is active while it keeps asking: its last request was received
or answered within ``active_s``. Counting answers matters for slow models: with seconds per batch,
every client is waiting for its reply, not idle, and should be waited for.

With one client this means no wait at all; with several in lock-step (vector envs) they are batched
without paying the full window.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time

import numpy as np

# A session that neither asked nor was answered for this long is no longer waited for.
ACTIVE_SESSION_S = 1.0
# Forget sessions idle this long (bounds the table).
FORGET_SESSION_S = 300.0
_MAX_SESSIONS = 1024


@dataclasses.dataclass
class Job:
    """A checked predict request waiting for its batch."""

    envelope: list[bytes]  # routing frames for the reply
    request_id: int | None
    session: str
    frame: np.ndarray  # uint8 (H, W, 3)
    received: float  # time.monotonic()
    previous: np.ndarray | None = None  # the earlier frame a two-frame policy reads, frame's shape


class SessionTable:
    """When each session last asked or was answered; thread-safe."""

    def __init__(self, active_s: float = ACTIVE_SESSION_S) -> None:
        self.active_s = active_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def touch(self, sessions: list[str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for session in sessions:
                self._last[session] = now
            if len(self._last) > _MAX_SESSIONS:
                self._last = {s: t for s, t in self._last.items() if now - t < FORGET_SESSION_S}

    def forget(self, session: str) -> None:
        with self._lock:
            self._last.pop(session, None)

    def active(self, now: float | None = None) -> int:
        """How many sessions asked or were answered within ``active_s``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return sum(now - t < self.active_s for t in self._last.values())


def collect_batch(
    jobs: queue.Queue[Job], sessions: SessionTable, *, max_batch: int, window_s: float, poll_s: float = 0.1
) -> list[Job]:
    """The next batch from ``jobs``: empty if nothing arrived within ``poll_s``.

    A backlog joins at once; otherwise it waits up to ``window_s`` after the first job, and not at
    all once every active session has a job in the batch.
    """
    try:
        batch = [jobs.get(timeout=poll_s)]
    except queue.Empty:
        return []
    deadline = time.monotonic() + window_s
    while len(batch) < max_batch:
        try:
            batch.append(jobs.get_nowait())
            continue
        except queue.Empty:
            pass
        remaining = deadline - time.monotonic()
        if remaining <= 0 or len({job.session for job in batch}) >= sessions.active():
            break
        try:
            batch.append(jobs.get(timeout=remaining))
        except queue.Empty:
            break
    return batch


def group_by_shape(batch: list[Job]) -> list[list[Job]]:
    """Jobs split by frame shape (only same-sized frames stack) and by whether they carry a previous
    frame, in order of first appearance."""
    groups: dict[tuple[tuple[int, ...], bool], list[Job]] = {}
    for job in batch:
        groups.setdefault((job.frame.shape, job.previous is not None), []).append(job)
    return list(groups.values())
