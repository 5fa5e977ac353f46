"""The controller's side of the virtual clock: a shared page the shim maps into the game.

The page is an anonymous memory file (``memfd``) that the game opens by its ``/proc`` path
(``PIXELPAD_SHM``), so no shared-memory file is ever left behind.

The page layout mirrors ``shim/pixelpad_shim.h`` (offsets below). Only the controller writes the
time. Game threads publish in their slot that they are parked, on what (a deadline, or any advance
for a thread caught spinning on the clock) and a ticket (the order they parked in). A parked thread
leaves only when released: :meth:`VirtualClock.due` lists the threads whose wait is over, in
(deadline, ticket) order, and the stepper releases them one at a time, waiting for quiescence in
between, so threads that wake at the same virtual instant always run in the same order.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct

import numpy as np

MAGIC = 0x50584C50
VERSION = 2
SHM_SIZE = 16384
MAX_SLOTS = 256
PAD_AXES = 6
OFF_SEQ, OFF_PID, OFF_NOW, OFF_FRAMES = 8, 12, 16, 24
OFF_BUSY, OFF_PAD_ATTACHED, OFF_PAD_BUTTONS, OFF_PAD_AXES = 32, 36, 40, 44
OFF_PAD_UPDATES, OFF_FALLBACK, OFF_SEED, OFF_SLOTS = 56, 60, 64, 128
SLOT_DTYPE = np.dtype(
    [("tid", "<i4"), ("parked", "<u4"), ("seen_seq", "<u4"), ("kind", "<u4"), ("deadline", "<i8"),
     ("release", "<u4"), ("ticket", "<u4")]
)  # fmt: skip
SLOT_SIZE = SLOT_DTYPE.itemsize  # 32
OFF_RELEASE = SLOT_DTYPE.fields["release"][1]
WAIT_DEADLINE, WAIT_ADVANCE = 0, 1
_SYS_FUTEX = 202  # x86-64
_FUTEX_WAKE = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _futex_wake(addr: int) -> None:
    _libc.syscall(
        ctypes.c_long(_SYS_FUTEX), ctypes.c_void_p(addr), ctypes.c_long(_FUTEX_WAKE),
        ctypes.c_long(2**31 - 1), ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_long(0),
    )  # fmt: skip


class VirtualClock:
    """One shared clock page in ``/dev/shm`` for one game process tree.

    Args:
        busy_limit: unchanged clock reads after which a spinning game thread is parked.
        seed: seeds the game's ``getrandom()`` (the shim's deterministic replacement).
        real_time: let the game run on real time from the start (the shim then only counts
            frames): how the game runs free, for comparison.
    """

    def __init__(self, *, busy_limit: int = 2000, seed: int = 0, real_time: bool = False) -> None:
        # An anonymous memory file: nothing in /dev/shm to leak, whatever kills this process. The
        # game opens it through this process's fd table while this process lives.
        self._fd = os.memfd_create("pixelpad-clock", os.MFD_CLOEXEC)
        self.path = f"/proc/{os.getpid()}/fd/{self._fd}"
        try:
            os.ftruncate(self._fd, SHM_SIZE)
            self._mm = mmap.mmap(self._fd, SHM_SIZE)
        except BaseException:
            os.close(self._fd)
            raise
        struct.pack_into("<IIIi", self._mm, 0, MAGIC, VERSION, 0, os.getpid())
        struct.pack_into("<I", self._mm, OFF_BUSY, busy_limit)
        struct.pack_into("<Q", self._mm, OFF_SEED, seed & (2**64 - 1))
        struct.pack_into("<I", self._mm, OFF_FALLBACK, int(real_time))
        self._slots = np.ndarray((MAX_SLOTS,), dtype=SLOT_DTYPE, buffer=self._mm, offset=OFF_SLOTS)
        self._seq_ref = ctypes.c_uint32.from_buffer(self._mm, OFF_SEQ)
        self._seq_addr = ctypes.addressof(self._seq_ref)
        self._base_addr = self._seq_addr - OFF_SEQ

    # ------------------------------------------------------------------ time
    @property
    def now_ns(self) -> int:
        """Virtual nanoseconds since the game started."""
        return struct.unpack_from("<q", self._mm, OFF_NOW)[0]

    @property
    def seq(self) -> int:
        """How many times the clock was advanced (the futex word the game threads wait on)."""
        return self._seq_ref.value

    def advance_to(self, now_ns: int) -> None:
        """Set virtual time (never backwards); wakes only threads that had no slot (unordered)."""
        if now_ns < self.now_ns:
            raise ValueError(f"virtual time cannot go back: {now_ns} < {self.now_ns}")
        struct.pack_into("<q", self._mm, OFF_NOW, now_ns)
        self._seq_ref.value = (self._seq_ref.value + 1) & 0xFFFFFFFF
        _futex_wake(self._seq_addr)

    def release(self, slot: int) -> None:
        """Let the thread parked in ``slot`` go on."""
        struct.pack_into("<I", self._mm, OFF_SLOTS + slot * SLOT_SIZE + OFF_RELEASE, 1)
        _futex_wake(self._base_addr + OFF_SLOTS + slot * SLOT_SIZE + OFF_RELEASE)

    # ------------------------------------------------------------------ what the game reports
    @property
    def frames_presented(self) -> int:
        return struct.unpack_from("<Q", self._mm, OFF_FRAMES)[0]

    @property
    def fallback(self) -> bool:
        """True once the game lost its controller and fell back to real time."""
        return bool(struct.unpack_from("<I", self._mm, OFF_FALLBACK)[0])

    @property
    def pad_attached(self) -> bool:
        return bool(struct.unpack_from("<I", self._mm, OFF_PAD_ATTACHED)[0])

    @property
    def pad_updates(self) -> int:
        return struct.unpack_from("<I", self._mm, OFF_PAD_UPDATES)[0]

    def _parked(self) -> np.ndarray:
        slots = self._slots.copy()
        return slots, (slots["tid"] != 0) & (slots["parked"] == 1) & (slots["release"] == 0)

    def parked_tids(self) -> set[int]:
        """Threads parked in the shim and not yet released: idle, whatever the kernel says."""
        slots, ok = self._parked()
        return set(slots["tid"][ok].tolist())

    def due(self) -> list[int]:
        """Slots of parked threads whose wait is over, in the order they must be released."""
        slots, ok = self._parked()
        now, seq = self.now_ns, self.seq
        timed = (slots["kind"] == WAIT_DEADLINE) & (slots["deadline"] <= now)
        spinning = (slots["kind"] == WAIT_ADVANCE) & (slots["seen_seq"] != seq)
        idx = np.flatnonzero(ok & (timed | spinning))
        keys = [
            (int(slots["deadline"][i]) if slots["kind"][i] == WAIT_DEADLINE else now, int(slots["ticket"][i]))
            for i in idx
        ]
        return [int(i) for _, i in sorted(zip(keys, idx, strict=True))]

    def next_deadline(self) -> int | None:
        """Earliest future deadline a parked thread waits for, or None."""
        slots, ok = self._parked()
        ok &= (slots["kind"] == WAIT_DEADLINE) & (slots["deadline"] > self.now_ns)
        return int(slots["deadline"][ok].min()) if ok.any() else None

    def set_pad(self, buttons: int, axes: tuple[int, ...]) -> None:
        """The virtual controller's state: SDL button bitmask and 6 int16 axes (SDL order)."""
        struct.pack_into("<I6h", self._mm, OFF_PAD_BUTTONS, buttons, *axes)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Unmap and release the page (idempotent); a game still running keeps its own mapping."""
        if self._mm.closed:
            return
        del self._slots, self._seq_ref
        self._mm.close()
        os.close(self._fd)

    def __enter__(self) -> VirtualClock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
