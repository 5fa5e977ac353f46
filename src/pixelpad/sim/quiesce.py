"""Knowing when a stepped game has finished its work: every thread idle and the X server idle.

A game thread is idle when the kernel reports it sleeping (``S``) and it is either parked in the
shim (waiting for its release) or has used no CPU since the previous look. A thread in disk I/O
(``D``) or runnable (``R``) is busy. The X server must be idle too, so the last frame the game
sent has been drawn before we grab it. See :class:`QuiescenceWatch` for the exact rule.
"""

from __future__ import annotations

import os
import time
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
    """The game's processes, kept up to date cheaply: only processes newer than the last look are
    examined (pids grow until they wrap; a full scan runs when they do).

    A game that starts a helper process and waits for it must not look idle while the helper runs,
    so the watch refreshes this before it declares quiescence.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self._known = set(descendants(root))
        self._high = self._max_pid()

    @staticmethod
    def _max_pid() -> int:
        return max((int(n) for n in os.listdir("/proc") if n.isdigit()), default=0)

    def pids(self) -> list[int]:
        return sorted(self._known)

    def refresh(self) -> bool:
        """Add processes started since the last look; True if there were any."""
        names = sorted(int(n) for n in os.listdir("/proc") if n.isdigit())
        high = names[-1] if names else 0
        if high < self._high // 2:  # pids wrapped around
            found = set(descendants(self.root)) - self._known
        else:
            found = set()
            for pid in (p for p in names if p > self._high):
                if _ppid(pid) in self._known | found:
                    found.add(pid)
        self._high = high if high < self._high // 2 else max(high, self._high)
        alive = set(names)
        self._known = (self._known & alive) | found | {self.root}
        return bool(found)


def thread_states(pids: Iterable[int]) -> dict[int, tuple[str, int]]:
    """``{tid: (state letter, CPU nanoseconds)}`` for every thread of ``pids`` that still exists."""
    out: dict[int, tuple[str, int]] = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            stat = _read(f"/proc/{pid}/task/{tid}/stat")
            sched = _read(f"/proc/{pid}/task/{tid}/schedstat")
            if stat is None or sched is None:
                continue
            out[int(tid)] = (stat[stat.rindex(")") + 2], int(sched.split()[0]))
    return out


class QuiescenceWatch:
    """Waits until the game's threads and the X server are idle.

    A game thread is idle when it sleeps (``S``) and either waits in the shim or has used no CPU
    since the previous look -- that look may belong to the previous wait, so threads untouched by the
    last release or advance count as idle at once. The X server's threads must sleep with no CPU
    used since the previous look, so everything the game sent has been drawn. The process tree is
    refreshed before answering.

    Args:
        tree: the game's processes.
        server_pids: the X server's process ids.
        parked_tids: returns the threads parked in the shim and not yet released.
        interval_s: time between the first two looks; it grows by half each look up to
            ``max_interval_s``, so a game busy for long costs few looks.
    """

    def __init__(
        self,
        tree: ProcessTree,
        server_pids: list[int],
        parked_tids: Callable[[], set[int]],
        interval_s: float = 0.0002,
        max_interval_s: float = 0.003,
    ) -> None:
        self._tree = tree
        self._server_pids = server_pids
        self._parked_tids = parked_tids
        self._interval_s = interval_s
        self._max_interval_s = max_interval_s
        self._previous: dict[int, int] = {}  # tid -> CPU ns at the last look

    def wait(self, timeout_s: float) -> bool:
        """Block until quiescent (True) or ``timeout_s`` real seconds pass (False)."""
        deadline = time.monotonic() + timeout_s
        self._tree.refresh()
        pids = self._tree.pids()
        interval = self._interval_s
        while True:
            parked = self._parked_tids()
            game = thread_states(pids)
            server = thread_states(self._server_pids)
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
