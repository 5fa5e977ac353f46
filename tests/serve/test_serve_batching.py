"""Micro-batching: a backlog joins at once, the window is waited only for sessions still expected."""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from pixelpad.serve.batching import Job, SessionTable, collect_batch, group_by_shape


def _job(session: str, shape: tuple[int, int] = (8, 8)) -> Job:
    return Job([b"id"], 1, session, np.zeros((*shape, 3), np.uint8), time.monotonic())


def test_a_backlog_joins_up_to_max_batch_without_waiting() -> None:
    jobs: queue.Queue[Job] = queue.Queue()
    for i in range(5):
        jobs.put(_job(f"s{i}"))
    start = time.monotonic()
    batch = collect_batch(jobs, SessionTable(), max_batch=3, window_s=5.0)
    assert [job.session for job in batch] == ["s0", "s1", "s2"] and time.monotonic() - start < 1.0
    assert jobs.qsize() == 2


def test_a_lone_active_session_does_not_wait_for_the_window() -> None:
    jobs: queue.Queue[Job] = queue.Queue()
    sessions = SessionTable()
    sessions.touch(["a"])
    jobs.put(_job("a"))
    start = time.monotonic()
    assert len(collect_batch(jobs, sessions, max_batch=8, window_s=5.0)) == 1
    assert time.monotonic() - start < 1.0


def test_the_window_waits_for_other_active_sessions() -> None:
    jobs: queue.Queue[Job] = queue.Queue()
    sessions = SessionTable()
    sessions.touch(["a", "b", "c"])
    jobs.put(_job("a"))
    threading.Timer(0.05, lambda: jobs.put(_job("b"))).start()
    start = time.monotonic()
    batch = collect_batch(jobs, sessions, max_batch=8, window_s=0.3)
    waited = time.monotonic() - start
    # "c" never comes: the batch closes at the window's end with a and b.
    assert [job.session for job in batch] == ["a", "b"] and 0.25 < waited < 2.0


def test_sessions_go_inactive_and_can_be_forgotten() -> None:
    sessions = SessionTable(active_s=1.0)
    sessions.touch(["a"], now=100.0)
    sessions.touch(["b"], now=100.5)
    assert sessions.active(now=100.9) == 2 and sessions.active(now=101.2) == 1
    sessions.forget("b")
    assert sessions.active(now=100.9) == 1


def test_nothing_queued_gives_an_empty_batch() -> None:
    assert collect_batch(queue.Queue(), SessionTable(), max_batch=4, window_s=0.0, poll_s=0.01) == []


def test_group_by_shape_keeps_order() -> None:
    batch = [_job("a", (8, 8)), _job("b", (9, 8)), _job("c", (8, 8))]
    assert [[job.session for job in group] for group in group_by_shape(batch)] == [["a", "c"], ["b"]]
