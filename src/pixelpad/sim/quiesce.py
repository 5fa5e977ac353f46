"""Knowing when a stepped game has finished its work: every thread idle and the X server idle.

A game thread is idle when the kernel reports it sleeping (``S``) and it is either parked in the
shim (waiting for its release) or has used no CPU since the previous look. A thread in disk I/O
(``D``) or runnable (``R``) is busy. The X server must be idle too, so the last frame the game
sent has been drawn before we grab it. See :class:`QuiescenceWatch` for the exact rule.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable, Iterable

_IDLE_STATES = frozenset("SZTtI")


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("ascii", "replace")
    except OSError:
        return None


def _ppid(pid: int) -> int | None:
    stat = _read(f"/proc/{pid}/stat")
    return None if stat is None else int(stat[stat.rindex(")") + 2 :].split()[1])


def last_pid() -> int | None:
    """The id the kernel gave the newest process or thread (the last field of ``/proc/loadavg``)."""
    text = _read("/proc/loadavg")
    try:
        return int(text.split()[-1]) if text else None
    except ValueError:
        return None


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (one full scan of /proc)."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (ppid := _ppid(int(name))) is not None:
            parents.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


class ProcessTree:
    """The game's processes, kept up to date cheaply.

    A game that starts a helper process and waits for it must not look idle while the helper runs,
    so the watch refreshes this before it declares quiescence. A refresh scans ``/proc`` only when
    some process or thread was started anywhere since the last look (the kernel's last allocated id
    moved; a scan costs ~0.3 ms and a step refreshes 6-8 times), and then examines only the
    processes the previous scan did not list: on a busy machine ids wrap around (32,768 of them), so
    a new process's id can be lower than an old one's.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self._last_pid = last_pid()  # read before the scan: anything started later moves it
        self._seen = _all_pids()
        self._known = set(descendants(root))

    def pids(self) -> list[int]:
        return sorted(self._known)

    def refresh(self) -> bool:
        """Add processes started since the last look; True if there were any."""
        last = last_pid()
        if last is not None and last == self._last_pid:
            return False
        self._last_pid = last
        alive = _all_pids()
        parents = {pid: _ppid(pid) for pid in alive - self._seen}
        self._seen = alive
        self._known &= alive
        self._known.add(self.root)
        found: set[int] = set()
        while True:  # a child may be listed before its new parent
            more = {pid for pid, ppid in parents.items() if ppid in self._known and pid not in self._known}
            if not more:
                return bool(found)
            found |= more
            self._known |= more


def _all_pids() -> set[int]:
    return {int(n) for n in os.listdir("/proc") if n.isdigit()}


class ThreadReader:
    """``{tid: (state letter, CPU nanoseconds)}`` of every thread of some processes, read through
    ``/proc`` files kept open and read again with ``pread``.

    A stepped game is looked at 30-150 times a step; opening and closing two ``/proc`` files per
    thread per look cost the controller more CPU than Neverball's own rendering of the frame (a
    look at its 8 threads: 315 us, 57 us with the files kept open). The thread list is read afresh
    each look, so a new thread is never missed. A kept file of a thread that exited fails to read
    (the kernel ties it to that thread, not to its number), so a reused thread id is opened anew.
    """

    def __init__(self) -> None:
        self._files: dict[tuple[int, int], tuple[int, int]] = {}
        self._last_running: tuple[int, int] | None = None
        self._finalizer = weakref.finalize(self, _close_all, self._files)

    def states(self, pids: Iterable[int]) -> dict[int, tuple[str, int]]:
        out: dict[int, tuple[str, int]] = {}
        seen: set[tuple[int, int]] = set()
        for pid in pids:
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for name in tids:
                key = (pid, int(name))
                seen.add(key)
                state = self._look(key)
                if state is None and key in self._files:  # a stale file: the id was reused
                    self._drop(key)
                    state = self._look(key)
                if state is not None:
                    out[key[1]] = state
                else:
                    self._drop(key)
        for key in self._files.keys() - seen:
            self._drop(key)
        return out

    def _look(self, key: tuple[int, int]) -> tuple[str, int] | None:
        files = self._files.get(key)
        try:
            if files is None:
                folder = f"/proc/{key[0]}/task/{key[1]}"
                stat_fd = os.open(f"{folder}/stat", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    sched_fd = os.open(f"{folder}/schedstat", os.O_RDONLY | os.O_CLOEXEC)
                except OSError:
                    os.close(stat_fd)
                    raise
                files = self._files[key] = (stat_fd, sched_fd)
            stat, sched = os.pread(files[0], 4096, 0), os.pread(files[1], 256, 0)
        except OSError:  # the thread is gone
            return None
        if not stat or not sched:
            return None
        return chr(stat[stat.rindex(b")") + 2]), int(sched.split()[0])

    def running(self) -> bool:
        """Whether a thread the last :meth:`states` listed runs (or waits on the disk) now.

        The cheap look while a game is busy: one read per thread up to the first that runs (the one
        found running last time is read first), no thread list, no CPU times. False proves nothing
        (a new thread is not listed): only a look through :meth:`states` can find the game idle.
        """
        order = sorted(self._files, key=lambda key: key != self._last_running)
        for key in order:
            try:
                stat = os.pread(self._files[key][0], 4096, 0)
            except OSError:  # gone: the next full look drops it
                continue
            if stat and chr(stat[stat.rindex(b")") + 2]) not in _IDLE_STATES:
                self._last_running = key
                return True
        return False

    def _drop(self, key: tuple[int, int]) -> None:
        for fd in self._files.pop(key, ()):
            os.close(fd)

    def close(self) -> None:
        """Close every kept file (idempotent)."""
        self._finalizer()


def _close_all(files: dict[tuple[int, int], tuple[int, int]]) -> None:
    for pair in files.values():
        for fd in pair:
            os.close(fd)
    files.clear()


class QuiescenceWatch:
    """Waits until the game's threads and the X server are idle.

    A game thread is idle when it sleeps (``S``) and either waits in the shim or has used no CPU
    since the previous look -- that look may belong to the previous wait, so threads untouched by the
    last release or advance count as idle at once. The X server's threads must sleep with no CPU
    used since the previous look, so everything the game sent has been drawn. The process tree is
    refreshed before answering. While a thread is seen running (:meth:`ThreadReader.running`, a
    read or two) the full look is not taken: it could not find the game idle.

    Args:
        tree: the game's processes.
        server_pids: the X server's process ids.
        parked_tids: returns the threads parked in the shim and not yet released.
        interval_s: time between the first two looks; it grows by half each look up to
            ``max_interval_s``, so a game busy for long costs few looks. The cap is what a step
            loses (up to twice: the look that sees the game asleep, the one that confirms it) after
            the game is done; with the running-thread look a few microseconds, 1 ms costs less
            than 0.3 ms of controller CPU a step more than 3 ms did.
    """

    def __init__(
        self,
        tree: ProcessTree,
        server_pids: list[int],
        parked_tids: Callable[[], set[int]],
        interval_s: float = 0.0002,
        max_interval_s: float = 0.001,
    ) -> None:
        self._tree = tree
        self._server_pids = server_pids
        self._parked_tids = parked_tids
        self._interval_s = interval_s
        self._max_interval_s = max_interval_s
        self._previous: dict[int, int] = {}  # tid -> CPU ns at the last look
        self._game_threads, self._server_threads = ThreadReader(), ThreadReader()

    def wait(self, timeout_s: float) -> bool:
        """Block until quiescent (True) or ``timeout_s`` real seconds pass (False)."""
        deadline = time.monotonic() + timeout_s
        self._tree.refresh()
        pids = self._tree.pids()
        interval = self._interval_s
        while True:
            if self._game_threads.running() or self._server_threads.running():
                if time.monotonic() > deadline:
                    return False
                time.sleep(interval)
                interval = min(interval * 1.5, self._max_interval_s)
                continue
            parked = self._parked_tids()
            game = self._game_threads.states(pids)
            server = self._server_threads.states(self._server_pids)
            idle = bool(game) and all(
                st in _IDLE_STATES and (tid in parked or self._previous.get(tid) == cpu)
                for tid, (st, cpu) in game.items()
            )
            idle = idle and all(
                st in _IDLE_STATES and self._previous.get(tid) == cpu for tid, (st, cpu) in server.items()
            )
            self._previous = {tid: cpu for tid, (_, cpu) in (game | server).items()}
            if idle:
                if not self._tree.refresh():
                    return True
                pids = self._tree.pids()  # it started a process: watch that too
                continue
            if not game:
                return False  # the game is gone; the caller finds out why
            if time.monotonic() > deadline:
                return False
            time.sleep(interval)
            interval = min(interval * 1.5, self._max_interval_s)

    def close(self) -> None:
        """Close the files the watch keeps open (idempotent)."""
        self._game_threads.close()
        self._server_threads.close()
