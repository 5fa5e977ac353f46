"""``GameEnv``: any Linux game as a deterministic, frame-stepped Gymnasium environment.

Example:
    >>> env = GameEnv("supertux", fps=30)                      # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)                          # obs: uint8 (480, 640, 3)
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> env.close()

Each ``reset`` restarts the game process from scratch (fresh private HOME, clock at its fixed
start), waits for its first frame, then plays the profile's start-up inputs. Each ``step`` holds
the action's inputs for one frame of virtual time (1/fps) and returns the screen. The same seed
and the same actions give the same frames, bit for bit. The reward is always 0: success checks and
rewards belong to tasks (pixelpad.eval). A game that exits ends the episode (``terminated``), one
that stays busy past ``step_timeout_s`` is cut off (``truncated``); ``info["error"]`` says why.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from pixelpad.actions import ACTION_DIM, INDEX, NUM_BUTTONS, ActionError, null_action
from pixelpad.sim.display import VirtualDisplay
from pixelpad.sim.errors import GameError, SimError
from pixelpad.sim.profiles import GameProfile, command_profile, load_profile
from pixelpad.sim.session import GameSession

log = logging.getLogger(__name__)
DEFAULT_SEED = 0


def action_space() -> gym.spaces.Box:
    """The unified action space as a Box: 17 buttons in [0, 1], 4 axes in [-1, 1]."""
    low = np.array([0.0] * NUM_BUTTONS + [-1.0] * (ACTION_DIM - NUM_BUTTONS), dtype=np.float32)
    return gym.spaces.Box(low=low, high=np.ones(ACTION_DIM, dtype=np.float32), dtype=np.float32)


def _buttons_action(names: tuple[str, ...]) -> np.ndarray:
    a = null_action()
    for n in names:
        a[INDEX[n]] = 1.0
    return a


class GameEnv(gym.Env):
    """A game run under the clock shim on a private X server.

    Args:
        game: a shipped profile name (``pixelpad.sim.list_profiles()``), or a :class:`GameProfile`.
        cmd: instead of ``game``: any game command line, run with default bindings.
        fps: virtual frames per second: each step advances the game's clocks by 1/fps.
        exact: advance to every pending timer deadline inside a step (timers fire on time).
        size: (W, H) of the screen and observation; default the profile's (640x480).
        render_mode: only ``"rgb_array"``.
        seed: default seed of the first reset (the game's ``getrandom()`` and start-up).
        step_timeout_s: real seconds a step may take before the game counts as hung.
        start_timeout_s: real seconds the game has to draw its first frame.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        game: str | GameProfile | None = None,
        *,
        cmd: str | list[str] | None = None,
        fps: float = 30.0,
        exact: bool = False,
        size: tuple[int, int] | None = None,
        render_mode: str | None = "rgb_array",
        seed: int | None = None,
        step_timeout_s: float = 60.0,
        start_timeout_s: float = 120.0,
    ) -> None:
        if (game is None) == (cmd is None):
            raise SimError("give exactly one of game (a profile name) or cmd (a command line)")
        if not fps > 0:
            raise SimError(f"fps must be positive, got {fps}")
        if render_mode not in (None, "rgb_array"):
            raise SimError(f"render_mode must be 'rgb_array', got {render_mode!r}")
        if isinstance(game, GameProfile):
            profile = game
        elif game is not None:
            profile = load_profile(game)
        else:
            profile = command_profile(cmd, size=size or (640, 480))
        if size is not None:
            profile = GameProfile(**{**profile.__dict__, "size": (int(size[0]), int(size[1]))})
        self.profile = profile
        self.fps = float(fps)
        self.exact = exact
        self.render_mode = render_mode
        self.step_timeout_s = step_timeout_s
        self.start_timeout_s = start_timeout_s
        self.metadata = {**self.metadata, "render_fps": self.fps}
        w, h = profile.size
        self.observation_space = gym.spaces.Box(0, 255, (h, w, 3), dtype=np.uint8)
        self.action_space = action_space()
        self._default_seed = DEFAULT_SEED if seed is None else int(seed)
        self._display: VirtualDisplay | None = None
        self._session: GameSession | None = None
        self._obs = np.zeros((h, w, 3), dtype=np.uint8)
        self._steps = 0
        self._frames_at_reset = 0
        self._failed: str | None = None  # why the episode ended early: the game exited or hung
        self._failed_exit = False

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is None and self._session is None and self._np_random is None:
            seed = self._default_seed
        super().reset(seed=seed)
        game_seed = int(self.np_random.integers(0, 2**63 - 1)) if seed is None else int(seed)
        self._stop_game()
        if self._display is None:
            self._display = VirtualDisplay(self.profile.size)
        self._session = GameSession(
            self.profile, self._display, seed=game_seed, step_timeout_s=self.step_timeout_s
        )
        self._steps = 0
        self._failed = None
        try:
            self._wait_first_frame()
            self._session.focus()
            for item in self.profile.startup:
                action = _buttons_action(item.press)
                for _ in range(item.steps):
                    self._advance(action, during="start-up")
            self._session.apply(null_action())
        except BaseException:
            self._stop_game()
            raise
        self._obs = self._session.grab()
        return self._obs.copy(), self._info()

    def step(self, action):
        if self._session is None:
            raise SimError("call reset() before step()")
        a = np.asarray(action, dtype=np.float32)
        if a.shape != (ACTION_DIM,) or not np.isfinite(a).all():
            raise ActionError(f"action must be a finite float array of shape ({ACTION_DIM},), got {a.shape}")
        if self._failed is not None:  # the episode already ended: repeat its end
            return self._obs.copy(), 0.0, self._failed_exit, not self._failed_exit, self._info()
        if not self._advance(a, during=None):
            return self._obs.copy(), 0.0, self._failed_exit, not self._failed_exit, self._info()
        self._obs = self._session.grab()
        info = self._info()
        hits = [i for i, check in enumerate(self.profile.done) if check.matches(self._obs)]
        if hits:
            info["done_check"] = hits[0]
        return self._obs.copy(), 0.0, bool(hits), False, info

    def render(self) -> np.ndarray:
        """The last observation, RGB ``(H, W, 3)`` uint8."""
        return self._obs.copy()

    def close(self) -> None:
        """Stop the game and the X server; removes every process, file and shm page the env made."""
        self._stop_game()
        if self._display is not None:
            self._display.close()
            self._display = None

    # ------------------------------------------------------------------ internals
    def _target_ns(self, step: int) -> int:
        return round(step * 1e9 / self.fps)

    def _advance(self, action: np.ndarray, *, during: str | None) -> bool:
        """One step of virtual time with ``action`` held; on failure record why (or raise at start-up)."""
        s = self._session
        if s.alive():
            s.apply(action)
        ok = s.alive() and s.advance(self._target_ns(self._steps + 1), exact=self.exact)
        self._steps += 1
        if ok and s.alive():
            return True
        self._failed_exit = not s.alive()
        self._failed = s.exit_message() + (
            "" if self._failed_exit else f" (busy for over {self.step_timeout_s} s)"
        )
        if during is not None:
            raise GameError(f"during {during}: {self._failed}")
        log.warning("%s", self._failed)
        return False

    def _wait_first_frame(self) -> None:
        s = self._session
        deadline = time.monotonic() + self.start_timeout_s
        while s.clock.frames_presented < self.profile.startup_frames:
            if not s.alive():
                raise GameError(f"the game exited before drawing: {s.exit_message()}")
            if time.monotonic() > deadline:
                raise GameError(
                    f"the game drew nothing within {self.start_timeout_s} s "
                    f"({self._steps / self.fps:.1f} s of game time): {s.exit_message()}"
                )
            self._advance(null_action(), during="start-up")

    def _info(self) -> dict[str, Any]:
        s = self._session
        info: dict[str, Any] = {
            "frames_presented": s.clock.frames_presented if s else 0,
            "virtual_time": self._steps / self.fps,
            "step": self._steps,
            "pad_attached": s.clock.pad_attached if s else False,
        }
        if self._failed is not None:
            info["error"] = self._failed
        return info

    def _stop_game(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: nothing left to report to
            self.close()
