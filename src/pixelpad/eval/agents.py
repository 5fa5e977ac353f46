"""The players an evaluation compares: baselines, the task's demonstrator, a checkpoint, a server.

A policy spec (the CLI's ``--policy``) names one of them:

* ``noop``: the null action every step, the floor every task must beat;
* ``random``: a random action held for a few steps, redrawn (seeded per episode);
* ``demonstrator``: the task's own scripted player (proves the task solvable);
* ``tcp://host:port``: a policy behind ``pixelpad serve``;
* anything else: a checkpoint path (a ``save_pretrained`` directory or the released ``ng.pt``).

Menu buttons (back, start, guide) are always released before an action reaches the game: one press
of start pauses most games, and no task needs it once play has started.

A policy's chunk is a span of time at the frame rate of its training data (``policy_fps``). A task
played at a lower rate (Neverball, 10 fps) takes every k-th action of each chunk (:func:`chunk_stride`),
so a chunk lasts in the game as long as it did in the data; played step by step, a 30 fps chunk would
run three times slower and every decision would come three times later than the policy learned. A
policy that also reads an earlier frame (``previous_frame_gap``, in frames of its training data) gets
the frame as many env steps back as span that time (:func:`previous_steps`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from pixelpad.actions import ACTION_DIM, AXIS_SLICE, BUTTON_SLICE, INDEX, MENU_BUTTONS, mask_buttons, validate
from pixelpad.eval.errors import EvalError
from pixelpad.eval.task import Agent, Task

BASELINES = ("noop", "random", "demonstrator")
_MENU = np.array([INDEX[name] for name in MENU_BUTTONS])


class NoopAgent:
    """Never touches the pad."""

    def reset(self, seed: int) -> None:
        pass

    def act(self, frame: np.ndarray) -> np.ndarray:
        return np.zeros(ACTION_DIM, np.float32)


@dataclasses.dataclass
class RandomAgent:
    """Random pad input: each button pressed with probability ``press_p``, sticks uniform in [-1, 1].

    A fresh action every frame would be a 30 Hz flicker no game reacts to the way a player's input
    makes it react, so each draw is held for ``hold`` steps -- the same cadence a policy playing
    chunks has.
    """

    press_p: float = 0.2
    hold: int = 8

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(0)
        self._action = np.zeros(ACTION_DIM, np.float32)
        self._left = 0

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._left = 0

    def act(self, frame: np.ndarray) -> np.ndarray:
        if self._left == 0:
            action = np.zeros(ACTION_DIM, np.float32)
            action[BUTTON_SLICE] = self._rng.random(BUTTON_SLICE.stop) < self.press_p
            action[AXIS_SLICE] = self._rng.uniform(-1.0, 1.0, AXIS_SLICE.stop - AXIS_SLICE.start)
            action[_MENU] = 0.0
            self._action, self._left = action, self.hold
        self._left -= 1
        return self._action.copy()


class ChunkAgent:
    """Receding-horizon play of a chunk predictor: predict ``(T, 21)`` from a frame, play the first
    ``execute`` actions, predict again.

    Args:
        predict: frame uint8 ``(H, W, 3)`` -> chunk float32 ``(T, 21)``; with ``frame_gap``, (frame,
            previous frame) -> chunk.
        on_reset: called with the episode seed at every reset (re-seeds noise, resets a server).
        execute: actions of each chunk played before predicting again, counted at the policy's rate.
        stride: every ``stride``-th action of a chunk is played, one per env step (see
            :func:`chunk_stride`); ``execute`` then covers ``ceil(execute / stride)`` env steps.
        frame_gap: the policy's ``previous_frame_gap`` (0: it reads the current frame only); the
            frame :func:`previous_steps` env steps back goes with the current one (the episode's first
            frame while it is younger, as in training).
    """

    def __init__(
        self,
        predict: Callable[..., np.ndarray],
        *,
        on_reset: Callable[[int], None] | None = None,
        execute: int = 8,
        stride: int = 1,
        frame_gap: int = 0,
    ) -> None:
        if execute < 1 or stride < 1 or frame_gap < 0:
            raise EvalError(
                f"execute and stride must be at least 1 and frame_gap at least 0, got {execute}, {stride} "
                f"and {frame_gap}"
            )
        self._predict, self._on_reset, self.execute, self.stride = predict, on_reset, execute, stride
        self.frame_gap = frame_gap
        self._chunk = np.zeros((0, ACTION_DIM), np.float32)
        self._position = 0
        self._frames: list[np.ndarray] = []  # the last previous_steps + 1 frames, oldest first

    def reset(self, seed: int) -> None:
        self._chunk, self._position, self._frames = np.zeros((0, ACTION_DIM), np.float32), 0, []
        if self._on_reset is not None:
            self._on_reset(seed)

    def act(self, frame: np.ndarray) -> np.ndarray:
        if self.frame_gap:
            keep = previous_steps(self.frame_gap, self.stride) + 1
            self._frames = [*self._frames[-(keep - 1) :], np.array(frame)]
        if self._position >= min(math.ceil(self.execute / self.stride), len(self._chunk)):
            chunk = self._predict(frame, self._frames[0]) if self.frame_gap else self._predict(frame)
            chunk = validate(chunk, where="policy output")
            if chunk.ndim != 2 or len(chunk) == 0:
                raise EvalError(f"a policy must predict a (T, 21) chunk, got shape {chunk.shape}")
            self._chunk, self._position = mask_buttons(chunk, MENU_BUTTONS)[:: self.stride], 0
        action = self._chunk[self._position]
        self._position += 1
        return action


def chunk_stride(policy_fps: float | None, env_fps: float) -> int:
    """Chunk actions per env step for a policy trained at ``policy_fps`` playing at ``env_fps``
    (30 fps data on a 10 fps task: 3); 1 when the policy's rate is unknown or not above the env's."""
    if policy_fps is None or policy_fps <= env_fps:
        return 1
    return max(1, round(policy_fps / env_fps))


def previous_steps(frame_gap: int, stride: int) -> int:
    """Env steps back to the frame a policy with ``previous_frame_gap = frame_gap`` (in frames of its
    training data) reads beside the current one, on a task played every ``stride`` data frames; at
    least one step (a 30 fps gap of 2 on a 10 fps task: the last frame)."""
    return max(1, round(frame_gap / stride))


def _checkpoint_agent(path: str, execute: int, device: str) -> ChunkAgent:
    import torch

    from pixelpad.serve import load_policy

    policy = load_policy(path, device=device)
    generator = torch.Generator(device=device)

    def predict(frame: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        earlier = None if previous is None else previous[None]
        return np.asarray(policy.predict(frame[None], generator=generator, previous=earlier))[0]

    return ChunkAgent(
        predict,
        on_reset=lambda seed: generator.manual_seed(seed),
        execute=execute,
        frame_gap=policy.config.previous_frame_gap,
    )


def _remote_agent(address: str, execute: int) -> ChunkAgent:
    from pixelpad.serve import Client

    client = Client(address)
    gap = int(client.info()["predictor"].get("previous_frame_gap", 0))
    return ChunkAgent(client.predict, on_reset=lambda seed: client.reset(), execute=execute, frame_gap=gap)


class AgentCache:
    """Builds the agent a policy spec names for a task, loading a checkpoint or connecting only once
    per process (a worker plays many episodes). ``policy_fps``: the frame rate of the policy's
    training data, which sets each task's :func:`chunk_stride` (None: one chunk action per step)."""

    def __init__(
        self, spec: str, *, execute: int = 8, device: str = "cpu", policy_fps: float | None = None
    ) -> None:
        self.spec, self.execute, self.device, self.policy_fps = spec, execute, device, policy_fps
        self._shared: ChunkAgent | None = None

    def get(self, task: Task) -> Agent:
        if self.spec == "noop":
            return NoopAgent()
        if self.spec == "random":
            return RandomAgent()
        if self.spec == "demonstrator":
            return _MaskedAgent(task.demonstrator())
        if self._shared is None:
            if self.spec.startswith("tcp://"):
                self._shared = _remote_agent(self.spec, self.execute)
            else:
                self._shared = _checkpoint_agent(self.spec, self.execute, self.device)
        self._shared.stride = chunk_stride(self.policy_fps, task.fps)
        return self._shared


@dataclasses.dataclass
class _MaskedAgent:
    """Releases menu buttons of a wrapped agent (a demonstrator obeys the same rule as a policy)."""

    inner: Any

    def reset(self, seed: int) -> None:
        self.inner.reset(seed)

    def act(self, frame: np.ndarray) -> np.ndarray:
        return mask_buttons(self.inner.act(frame), MENU_BUTTONS)


def policy_label(spec: str) -> str:
    """A short, file-name-safe label for a policy spec (``tcp://h:5555`` -> ``tcp-h-5555``)."""
    if spec in BASELINES:
        return spec
    tail = spec.removeprefix("tcp://").rstrip("/").split("/")[-1] or "policy"
    label = "".join(c if c.isalnum() or c in "._-" else "-" for c in tail)
    return ("tcp-" if spec.startswith("tcp://") else "") + label
