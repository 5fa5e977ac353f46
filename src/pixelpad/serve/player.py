"""The play loop: a policy (local, or remote through a Client) plays a game env.

Receding horizon: the policy predicts a chunk of T actions from the current frame, the first
``execute`` of them are played one per env step, then it predicts again from the frame it has now.
``execute = T`` plays whole chunks blind, as the released player does; smaller values react sooner
at the cost of more predictions. Menu buttons (back, start, guide) are released before an action
reaches the game unless allowed: a policy trained on gameplay presses them by accident, and one
press of start pauses most games.

A policy that reads an earlier frame beside the current one (``previous_frame_gap``) gets the
observation ``previous_steps`` env steps back (the episode's first while it is younger), locally or
through a server.

Time stands still while the policy thinks: a :class:`pixelpad.sim.GameEnv` advances the game's
virtual clock only inside ``step``, so a slow CPU plays exactly as a fast GPU would.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from pixelpad.actions import BUTTONS, MENU_BUTTONS, ActionError, mask_buttons, validate
from pixelpad.serve.client import Client
from pixelpad.serve.protocol import ServeError
from pixelpad.serve.recording import PlayRecorder

log = logging.getLogger(__name__)


class Env(Protocol):
    """The part of a gymnasium env the loop uses (a :class:`pixelpad.sim.GameEnv`)."""

    metadata: dict[str, Any]

    def reset(self, *, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]: ...

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]: ...


@dataclasses.dataclass(frozen=True)
class PlayResult:
    """What a play did."""

    steps: int
    episodes: int  # episodes started (1 + the number of resets after an episode ended)
    chunks: int  # predictions made
    total_reward: float
    think_ms: list[float]  # time each prediction took, policy or round trip
    final_info: dict[str, Any]  # the env's info after the last step (virtual time, frames...)
    video: Path | None = None
    actions: Path | None = None

    @property
    def mean_think_ms(self) -> float:
        return float(np.mean(self.think_ms)) if self.think_ms else 0.0


def chunk_source(policy: Any) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
    """(frame ``(H, W, 3)``, previous frame or None) -> one chunk ``(T, 21)``, from a Client, a Policy
    or a predictor.

    A :class:`Client` sends one frame (and the previous one when given); a policy or server-side
    predictor takes a batch, and the previous frames as ``previous=`` when given.
    """
    if isinstance(policy, Client):
        return policy.predict
    if not callable(getattr(policy, "predict", None)):
        raise ServeError(f"{type(policy).__name__} has no predict(frames); expected a Policy or a Client")

    def predict(frame: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        if previous is None:
            return np.asarray(policy.predict(frame[None]))[0]
        return np.asarray(policy.predict(frame[None], previous=previous[None]))[0]

    return predict


def play(
    env: Env,
    policy: Any,
    steps: int,
    execute: int | None = None,
    record_dir: str | os.PathLike[str] | None = None,
    *,
    allow_buttons: tuple[str, ...] = (),
    seed: int | None = None,
    progress: bool = True,
    previous_steps: int = 0,
) -> PlayResult:
    """Let ``policy`` play ``env`` for ``steps`` env steps.

    Args:
        env: a game env; reset here, and again whenever an episode ends.
        policy: a :class:`pixelpad.policy.Policy`, a server-side predictor, or a :class:`Client`.
        steps: env steps to play.
        execute: actions of each chunk to play before predicting again (receding horizon);
            the whole chunk when None.
        record_dir: where to write ``play.mp4`` (game | controller and chunk) and ``actions.parquet``.
        allow_buttons: menu buttons (``back``, ``start``, ``guide``) to let through.
        seed: seeds the env's first reset.
        progress: show a progress bar.
        previous_steps: for a policy that reads an earlier frame too, how many env steps back it is
            (:func:`pixelpad.eval.agents.previous_steps`); 0: the policy reads the current frame only.
    """
    if steps < 1:
        raise ServeError(f"steps must be at least 1, got {steps}")
    if execute is not None and execute < 1:
        raise ServeError(f"execute must be at least 1 (or omitted for the whole chunk), got {execute}")
    unknown = [name for name in allow_buttons if name not in BUTTONS]
    if unknown:
        raise ServeError(f"unknown button(s) {unknown} in allow_buttons; menu buttons: {list(MENU_BUTTONS)}")
    masked = tuple(name for name in MENU_BUTTONS if name not in allow_buttons)
    is_client = isinstance(policy, Client)
    if previous_steps < 0:
        raise ServeError(f"previous_steps must be >= 0, got {previous_steps}")
    predict = chunk_source(policy)
    fps = float(env.metadata.get("render_fps") or 30)
    recorder = PlayRecorder(record_dir, fps) if record_dir is not None else None

    obs, info = env.reset(seed=seed)
    seen = [obs]  # the last previous_steps + 1 observations of this episode, oldest first
    if is_client:
        policy.reset()
    episodes, chunks, total_reward = 1, 0, 0.0
    think_ms: list[float] = []
    chunk = np.zeros((0, 0), np.float32)
    position = plan_length = 0
    try:
        for step in tqdm(range(steps), desc="play", unit="step", disable=not progress):
            if position >= plan_length:  # re-plan from the current frame
                start = time.perf_counter()
                chunk = _checked_chunk(predict(obs, seen[0] if previous_steps else None))
                think_ms.append((time.perf_counter() - start) * 1000)
                chunk = mask_buttons(chunk, masked)
                plan_length = len(chunk) if execute is None else min(execute, len(chunk))
                position = 0
                chunks += 1
            action = chunk[position]
            next_obs, reward, terminated, truncated, info = env.step(action)
            total_reward += float(reward)
            if recorder is not None:
                recorder.add(
                    obs, action, chunk=chunk, position=position, execute=plan_length, episode=episodes - 1,
                    chunk_index=chunks - 1, reward=float(reward), think_ms=think_ms[-1],
                    virtual_time=info.get("virtual_time"),
                )  # fmt: skip
            position += 1
            obs = next_obs
            seen = [*seen[-previous_steps:], obs] if previous_steps else [obs]
            if (terminated or truncated) and step < steps - 1:  # no restart after the last step
                log.info("episode %d ended after %d chunks; resetting", episodes, chunks)
                obs, info = env.reset()
                seen = [obs]
                if is_client:
                    policy.reset()
                episodes += 1
                position = plan_length  # a new episode starts with a new plan
    finally:
        video = actions = None
        if recorder is not None and recorder.steps:
            video, actions = recorder.close()  # also after an error: keep what was played
        elif recorder is not None:
            recorder.abort()
    return PlayResult(
        steps=steps,
        episodes=episodes,
        chunks=chunks,
        total_reward=total_reward,
        think_ms=think_ms,
        final_info=dict(info),
        video=video,
        actions=actions,
    )


def _checked_chunk(chunk: np.ndarray) -> np.ndarray:
    """The policy's answer as a valid ``(T, 21)`` chunk, or a ServeError that says what is wrong."""
    arr = np.asarray(chunk)
    if arr.ndim != 2 or len(arr) == 0:
        raise ServeError(f"the policy returned shape {arr.shape}; expected one chunk (T, 21)")
    try:
        return validate(arr, where="predicted chunk")
    except ActionError as err:
        raise ServeError(f"the policy returned invalid actions: {err}") from err
