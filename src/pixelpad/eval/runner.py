"""The evaluation runner: every (task, seed) episode of one policy, in parallel envs, to result files.

Each episode starts a fresh game (``env.reset(seed=seed)``), plays the task's start-up inputs, then lets
the agent play until the task's judge gives a verdict or time runs out. An episode depends on nothing
but its task, its seed and the policy, so any number of workers, in any order, give the same results.

A crashed episode (the game, the env or the policy raised, or the env cut it off: a hung game) is
retried once; if it crashes again it is recorded with ``status="error"`` and its message -- never
dropped, so a success rate can always be checked against the number of episodes asked for.

Files, under ``out/<policy label>/``: ``episodes.jsonl`` (one :class:`EpisodeResult` per line, in
(task, seed) order), ``actions/<task>-seed<k>.npy`` (``(steps, 21)`` float32) and, when asked,
``videos/<task>-seed<k>.mp4``.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import importlib
import json
import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from pixelpad.actions import null_action
from pixelpad.eval.agents import AgentCache, policy_label
from pixelpad.eval.errors import EvalError
from pixelpad.eval.task import Agent, Judge, Task

log = logging.getLogger(__name__)

Status = Literal["success", "failure", "error"]
DEFAULT_ENV_FACTORY = "pixelpad.eval.env:make_env"


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """One evaluation run.

    Attributes:
        policy: a policy spec (see :mod:`pixelpad.eval.agents`).
        seeds: one episode per seed per task.
        out: the run directory; results go to ``out/<policy label>/``.
        workers: episodes played at once, each in its own process and game.
        record_video: also write an MP4 of each episode.
        execute: actions of each predicted chunk played before predicting again.
        device: torch device of a checkpoint policy.
        env_factory: ``module:function`` building an env: ``(task, seed) -> env``; tests swap in a
            fake game here (a string, so it travels to worker processes).
        policy_fps: frame rate of the policy's training data; a task played at a lower rate takes
            every k-th action of each chunk (see :func:`pixelpad.eval.agents.chunk_stride`).
    """

    policy: str
    seeds: tuple[int, ...]
    out: Path
    workers: int = 1
    record_video: bool = False
    execute: int = 8
    device: str = "cpu"
    env_factory: str = DEFAULT_ENV_FACTORY
    policy_fps: float | None = None

    def __post_init__(self) -> None:
        if not self.seeds:
            raise EvalError("no seeds: give at least one episode seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise EvalError(f"seeds repeat: {sorted(self.seeds)}; each episode needs its own seed")
        if self.workers < 1:
            raise EvalError(f"workers must be at least 1, got {self.workers}")

    @property
    def label(self) -> str:
        return policy_label(self.policy)


@dataclasses.dataclass(frozen=True)
class EpisodeResult:
    """What one episode did. ``time_to_success_s`` is virtual game time after start-up."""

    task: str
    category: str
    game: str
    policy: str
    seed: int
    status: Status
    time_to_success_s: float | None
    steps: int
    wall_s: float
    attempts: int
    error: str | None = None
    actions: str | None = None  # path relative to the policy's result folder
    video: str | None = None

    @property
    def success(self) -> bool:
        return self.status == "success"

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "success": self.success}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> EpisodeResult:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in fields})


def load_env_factory(spec: str) -> Callable[[Task, int], Any]:
    """``"package.module:function"`` -> the function."""
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise EvalError(f"env factory {spec!r} cannot be loaded ({err}); expected 'module:function'") from err


def play_episode(
    task: Task,
    agent: Agent,
    env: Any,
    seed: int,
    *,
    video_path: Path | None = None,
) -> tuple[Status, float | None, np.ndarray]:
    """One episode on an env that is already built: reset, start-up, a seed-drawn wait, play, judge.

    Returns:
        (status, time to success in virtual seconds or None, actions float32 ``(steps, 21)``).
    """
    fps = float(env.metadata.get("render_fps") or 30)
    obs, info = env.reset(seed=seed)
    delay = int(np.random.default_rng(seed).integers(0, round(task.random_start_s * fps) + 1))
    for action, count in (*task.startup, (null_action(), delay)):
        for _ in range(count):
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                raise EvalError(f"{task.name}: the game ended during start-up")
    agent.reset(seed)
    judge = Judge(task)
    actions: list[np.ndarray] = []
    writer = None
    if video_path is not None:
        from pixelpad.video import VideoWriter

        writer = VideoWriter(video_path, fps)
    try:
        verdict: bool | None = None
        for step in range(math.ceil(task.time_limit_s * fps)):
            action = agent.act(obs)
            actions.append(action)
            obs, _, terminated, truncated, info = env.step(action)
            if writer is not None:
                writer.write(obs)
            verdict = judge.observe(step, obs, info)
            if verdict is None and truncated:
                # The env cut the episode off (GameEnv: the game stopped responding): a fault of the
                # machine or the game, not the agent's failure; raised, so the episode is replayed.
                raise EvalError(f"{task.name}: the env cut the episode off: {info.get('error', 'truncated')}")
            if verdict is None and terminated:
                # The game ended by itself (a finished level quits SuperTux): judge its last frame.
                verdict = task.mode == "reach" and bool(task.check(obs, info))
            if verdict is not None:
                break
        if verdict is None:
            verdict = judge.at_time_limit()
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.abort()
    steps = len(actions)
    taken = np.stack(actions).astype(np.float32) if actions else np.zeros((0, 21), np.float32)
    time_to_success = steps / fps if verdict and task.mode == "reach" else None
    return ("success" if verdict else "failure"), time_to_success, taken


class _Worker:
    """One process's state: the env factory and the policy, loaded once, reused for many episodes."""

    def __init__(self, config: EvalConfig) -> None:
        self.config = config
        self.make_env = load_env_factory(config.env_factory)
        self.agents = AgentCache(
            config.policy, execute=config.execute, device=config.device, policy_fps=config.policy_fps
        )
        self.folder = config.out / config.label

    def run(self, task: Task, seed: int) -> EpisodeResult:
        stem = f"{task.name}-seed{seed}"
        video_rel = f"videos/{stem}.mp4" if self.config.record_video else None
        start = time.perf_counter()
        error: str | None = None
        for attempt in (1, 2):
            env = None
            try:
                env = self.make_env(task, seed)
                video = self.folder / video_rel if video_rel else None
                if video is not None:
                    video.parent.mkdir(parents=True, exist_ok=True)
                status, tts, actions = play_episode(task, self.agents.get(task), env, seed, video_path=video)
                break
            except Exception as err:  # any crash of game, env or policy: retried once, then recorded
                error = f"{type(err).__name__}: {err}"
                log.warning("%s seed %d attempt %d crashed: %s", task.name, seed, attempt, error)
            finally:
                if env is not None:
                    _close_quietly(env)
        else:
            return _error_result(self.config, task, seed, error or "", time.perf_counter() - start)
        actions_rel = f"actions/{stem}.npy"
        (self.folder / "actions").mkdir(parents=True, exist_ok=True)
        np.save(self.folder / actions_rel, actions)
        return EpisodeResult(
            task.name, task.category, task.game, self.config.policy, seed, status, tts, len(actions),
            time.perf_counter() - start, attempt, None, actions_rel, video_rel,
        )  # fmt: skip


def _error_result(
    config: EvalConfig, task: Task, seed: int, error: str, wall_s: float = 0.0
) -> EpisodeResult:
    """The row of an episode that crashed on both attempts."""
    return EpisodeResult(
        task.name, task.category, task.game, config.policy, seed, "error", None, 0, wall_s, 2, error
    )


def _close_quietly(env: Any) -> None:
    try:
        env.close()
    except Exception as err:  # a game that crashed may fail to close; the episode's verdict stands
        log.warning("closing the env failed: %s", err)


_PROCESS_WORKERS: dict[EvalConfig, _Worker] = {}  # a pool process's workers, one per policy, made lazily


def _run_in_process(config: EvalConfig, task: Task, seed: int) -> EpisodeResult:
    worker = _PROCESS_WORKERS.get(config)
    if worker is None:
        worker = _PROCESS_WORKERS[config] = _Worker(config)
    return worker.run(task, seed)


Job = tuple[EvalConfig, Task, int]


def _run_in_pool(workers: int, jobs: list[Job], record: Callable[[EvalConfig, EpisodeResult], None]) -> None:
    """Play ``jobs`` in ``workers`` processes.

    A dead worker process (killed, out of memory) breaks the whole pool, failing every episode still
    queued in it. Each failed episode is played once more, alone in a fresh one-process pool so no
    other episode can take it down, and recorded as an error if it fails again.
    """
    context = multiprocessing.get_context("spawn")  # no forked copies of X connections or torch state
    retry: list[Job] = []
    with cf.ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {pool.submit(_run_in_process, *job): job for job in jobs}
        for future in cf.as_completed(futures):
            config, task, seed = futures[future]
            try:
                record(config, future.result())
            except Exception as err:
                log.warning("%s seed %d: worker process failed (%s); retrying alone", task.name, seed, err)
                retry.append((config, task, seed))
    for config, task, seed in retry:
        with cf.ProcessPoolExecutor(1, mp_context=context) as pool:
            try:
                record(config, pool.submit(_run_in_process, config, task, seed).result())
            except Exception as err:
                message = f"worker process failed twice: {type(err).__name__}: {err}"
                record(config, _error_result(config, task, seed, message))


def run_eval(config: EvalConfig, tasks: Sequence[Task], *, progress: bool = True) -> list[EpisodeResult]:
    """Play every (task, seed) episode of ``config.policy`` and write the result files.

    ``episodes.jsonl`` is rewritten after every episode, so an interrupted run keeps what it played.

    Returns:
        the results in (task, seed) order, the order of ``episodes.jsonl``.
    """
    return run_evals([config], tasks, progress=progress)[config.label]


def run_evals(
    configs: Sequence[EvalConfig], tasks: Sequence[Task], *, progress: bool = True
) -> dict[str, list[EpisodeResult]]:
    """:func:`run_eval` for several policies at once, their episodes sharing one pool of processes.

    One pool (as many processes as the most any config asks for) has no idle tail and no start-up per
    policy; longer tasks are dealt out first, so no long episode starts when every other one is done.
    Each config writes its own ``out/<label>/`` exactly as :func:`run_eval` would.

    Returns:
        each config's results by its label, in (task, seed) order.
    """
    if not tasks:
        raise EvalError("no tasks to run")
    labels = [config.out / config.label for config in configs]
    if len(set(labels)) != len(labels):
        raise EvalError(f"two policies would write the same results folder: {sorted(map(str, labels))}")
    order = {id(config): [(t.name, s) for t in tasks for s in config.seeds] for config in configs}
    results: dict[int, dict[tuple[str, int], EpisodeResult]] = {id(config): {} for config in configs}
    for folder in labels:
        folder.mkdir(parents=True, exist_ok=True)
    jobs = [(config, task, seed) for config in configs for task in tasks for seed in config.seeds]
    jobs.sort(key=lambda job: -job[1].time_limit_s)  # stable: (policy, task, seed) order within a length
    bar = tqdm(total=len(jobs), desc="eval " + ", ".join(c.label for c in configs), unit="episode",
               disable=not progress)  # fmt: skip

    def record(config: EvalConfig, result: EpisodeResult) -> None:
        done = results[id(config)]
        done[result.task, result.seed] = result
        ordered = [done[key] for key in order[id(config)] if key in done]
        write_results(config.out / config.label / "episodes.jsonl", ordered)
        bar.update()

    workers = max(config.workers for config in configs)
    if workers == 1:
        serial = {id(config): _Worker(config) for config in configs}
        for config, task, seed in jobs:
            record(config, serial[id(config)].run(task, seed))
    else:
        _run_in_pool(workers, jobs, record)
    bar.close()
    return {config.label: [results[id(config)][key] for key in order[id(config)]] for config in configs}


def write_results(path: Path, results: Sequence[EpisodeResult]) -> None:
    """Write results as JSON lines, atomically (a reader never sees half a file)."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("w") as f:
        for result in results:
            f.write(json.dumps(result.to_json(), sort_keys=True) + "\n")
    partial.replace(path)


def read_results(path: Path) -> list[EpisodeResult]:
    """Read an ``episodes.jsonl`` written by :func:`write_results`."""
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise EvalError(f"{path}: cannot read results ({err})") from err
    try:
        return [EpisodeResult.from_json(json.loads(line)) for line in lines if line.strip()]
    except (json.JSONDecodeError, TypeError) as err:
        raise EvalError(f"{path}: not an episodes.jsonl written by pixelpad eval ({err})") from err
