"""One running game under the simulator: its display, virtual clock, process, inputs and stepping.

This is the Linux backend behind :class:`pixelpad.sim.GameEnv`; another backend (Wine, Windows)
would provide the same few methods: ``apply``, ``advance``, ``grab``, ``alive``, ``close``.

Stepping: set virtual time forward, then release the game's parked threads whose wait is over one
at a time in (deadline, park order), waiting for quiescence after each, so the game does the same
work in the same order on every run. Exact mode stops at every pending timer deadline inside the
step, so timers fire at their exact virtual times rather than late at the end of the step.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from pixelpad.sim.build import shim_path
from pixelpad.sim.clock import VirtualClock
from pixelpad.sim.display import VirtualDisplay
from pixelpad.sim.inputs import KeyboardInput, PointerInput, pad_state
from pixelpad.sim.process import GameProcess
from pixelpad.sim.profiles import GameProfile
from pixelpad.sim.quiesce import ProcessTree, QuiescenceWatch

log = logging.getLogger(__name__)


class GameSession:
    """Start ``profile``'s game on ``display`` with a fresh clock, HOME and process.

    Args:
        profile: what to run and how it takes input.
        display: the X server to run it on (owned by the caller).
        seed: seeds the game's ``getrandom()``.
        step_timeout_s: real seconds the game may stay busy inside one step before it counts as hung.
        real_time: run the game free on real time (no stepping; frames are still counted).
    """

    def __init__(
        self,
        profile: GameProfile,
        display: VirtualDisplay,
        *,
        seed: int,
        step_timeout_s: float,
        real_time: bool = False,
    ) -> None:
        self.profile = profile
        self.display = display
        self.step_timeout_s = step_timeout_s
        self.clock = VirtualClock(busy_limit=profile.busy_limit, seed=seed, real_time=real_time)
        self.home = tempfile.mkdtemp(prefix="pixelpad-home-")
        self.process: GameProcess | None = None
        try:
            for rel, text in profile.files.items():
                path = Path(self.home, rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                w, h = profile.size
                path.write_text(text.replace("{width}", str(w)).replace("{height}", str(h)))
            env = {
                **profile.env,
                "DISPLAY": display.name,
                "LD_PRELOAD": str(shim_path()),
                "PIXELPAD_SHM": self.clock.path,
                "PIXELPAD_PAD": "1" if profile.input in ("pad", "both") else "0",
            }
            self.process = GameProcess(profile.argv(home=self.home), env=env, home=self.home)
        except BaseException:
            self.close()
            raise
        self._watch = QuiescenceWatch(ProcessTree(self.process.pid), [display.pid], self.clock.parked_tids)
        self._keys = (
            KeyboardInput(display, profile.keys, stick_to_dpad=profile.stick_to_dpad)
            if profile.input in ("keyboard", "both")
            else None
        )
        self._use_pad = profile.input in ("pad", "both")
        self._pointer = (
            PointerInput(display, profile.mouse_stick, profile.mouse_speed) if profile.mouse_stick else None
        )

    # ------------------------------------------------------------------ stepping
    def apply(self, action: np.ndarray) -> None:
        """Make ``action`` (21,) the held input from now on."""
        if self._keys is not None:
            self._keys.apply(action)
        if self._pointer is not None:
            self._pointer.apply(action)
        if self._use_pad:
            self.clock.set_pad(*pad_state(action))

    def _settle(self) -> bool:
        """Release due threads one by one until none is due and all are idle; False if it timed out."""
        while True:
            if not self._watch.wait(self.step_timeout_s):
                return False
            due = self.clock.due()
            if not due:
                return True
            self.clock.release(due[0])

    def advance(self, target_ns: int, *, exact: bool = False) -> bool:
        """Run the game up to virtual time ``target_ns``; False if it did not go idle (hung or gone)."""
        # Settle first: the game may still be starting, or reacting to the input just applied, at the
        # current virtual time; only then does time move.
        if not self._settle():
            return False
        if exact:
            while (deadline := self.clock.next_deadline()) is not None and deadline < target_ns:
                self.clock.advance_to(deadline)
                if not self._settle():
                    return False
        self.clock.advance_to(target_ns)
        return self._settle()

    def grab(self) -> np.ndarray:
        """The screen now, RGB ``(H, W, 3)`` uint8."""
        return self.display.grab()

    # ------------------------------------------------------------------ state
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_message(self) -> str:
        """Why the game is gone (or stuck), with the end of its output."""
        code = self.process.poll() if self.process else None
        what = "is not responding" if code is None else f"exited with code {code}"
        tail = self.process.output_tail() if self.process else ""
        return f"game {self.profile.name!r} {what}" + (f"; its output ends with:\n{tail}" if tail else "")

    def focus(self) -> bool:
        return self.display.focus_largest_window()

    def close(self) -> None:
        """Stop the game, release held keys, remove the clock page and HOME (idempotent)."""
        if getattr(self, "_keys", None) is not None:
            try:
                self._keys.release_all()
            except Exception as err:  # the display may already be gone
                log.debug("releasing keys failed: %s", err)
            self._keys = None
        if self.process is not None:
            self.process.close()
            self.process = None
        if getattr(self, "_watch", None) is not None:
            self._watch.close()
        self.clock.close()
        if os.path.isdir(self.home):
            shutil.rmtree(self.home, ignore_errors=True)
