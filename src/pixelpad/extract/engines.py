"""Run one per-video function over many videos: in-process, on a local process pool, or on Ray Data.

Every engine takes a *factory* (a picklable callable that builds the per-video worker once per
process or actor, so models and skin banks load once, not once per video) and a list of task
dicts, and yields ``(task, result)`` pairs as videos finish, in completion order. The worker must
turn its own errors into a result (status ``failed`` + reason); the engines only handle what a
worker cannot: a process that dies (segfault in a decoder, out of memory) costs the videos it had
in flight one retry, then a ``failed`` result, and never stops the batch.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pixelpad.errors import PixelpadError

log = logging.getLogger(__name__)

Task = dict[str, Any]
Result = dict[str, Any]
Worker = Callable[[Task], Result]
WorkerFactory = Callable[[], Worker]
ENGINES: tuple[str, ...] = ("local", "ray")


class EngineError(PixelpadError):
    """An engine that cannot run (unknown name, Ray unavailable)."""


def crashed_result(task: Task, why: str) -> Result:
    """The result recorded for a task whose worker process died twice."""
    return {"video_id": task["video_id"], "path": task["path"], "status": "failed", "reason": why}


def run_serial(factory: WorkerFactory, tasks: list[Task]) -> Iterator[tuple[Task, Result]]:
    """Run every task in this process, one after another (``--workers 0``; debugging, tests)."""
    worker = factory()
    for task in tasks:
        yield task, worker(task)


# Each pool process builds its worker once, in the initializer, and keeps it here.
_PROCESS_WORKER: Worker | None = None


def _init_process(factory: WorkerFactory) -> None:
    global _PROCESS_WORKER
    _PROCESS_WORKER = factory()


def _call_process_worker(task: Task) -> Result:
    if _PROCESS_WORKER is None:  # pragma: no cover - the initializer always runs first
        raise EngineError("pool process started without its worker")
    return _PROCESS_WORKER(task)


def run_local(factory: WorkerFactory, tasks: list[Task], workers: int) -> Iterator[tuple[Task, Result]]:
    """Run tasks on a pool of ``workers`` processes (spawned: safe with torch and threads).

    At most ``workers`` tasks are in flight, so a pool that breaks loses only those; each is retried
    once, alone on a fresh pool (so a video that kills its process takes no other video down), and
    recorded as failed if its process dies again.
    """
    if workers < 1:
        yield from run_serial(factory, tasks)
        return
    queue = list(reversed(tasks))
    attempts: dict[str, int] = {}
    context = multiprocessing.get_context("spawn")
    while queue:
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_process, initargs=(factory,)
        )
        in_flight: dict[Future[Result], Task] = {}
        broken = False
        try:
            while (queue and not broken) or in_flight:
                # A task that was in flight when a process died runs alone, so it cannot take others down.
                alone = any(attempts.get(t["video_id"]) for t in in_flight.values())
                while queue and not broken and not alone and len(in_flight) < workers:
                    if attempts.get(queue[-1]["video_id"]) and in_flight:
                        break
                    task = queue.pop()
                    in_flight[pool.submit(_call_process_worker, task)] = task
                    alone = bool(attempts.get(task["video_id"]))
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = in_flight.pop(future)
                    try:
                        yield task, future.result()
                    except BrokenProcessPool:
                        broken = True
                        attempts[task["video_id"]] = attempts.get(task["video_id"], 0) + 1
                        if attempts[task["video_id"]] >= 2:
                            yield task, crashed_result(task, "worker process died while processing it")
                        else:
                            queue.append(task)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if broken:
            log.warning("a worker process died; restarting the pool for %d remaining video(s)", len(queue))


class _RayWorker:
    """A Ray Data actor: builds the worker once, then maps one-row batches of tasks."""

    def __init__(self, factory: WorkerFactory) -> None:
        self.worker = factory()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        import json

        tasks = [json.loads(t) for t in batch["task"]]
        return {"task": [json.dumps(t) for t in tasks], "result": [json.dumps(self.worker(t)) for t in tasks]}


def run_ray(
    factory: WorkerFactory, tasks: list[Task], workers: int, *, gpus_per_worker: float = 0.0
) -> Iterator[tuple[Task, Result]]:
    """Run tasks on Ray Data: ``workers`` actors each holding one worker (models load once per actor).

    Connects to a running cluster when ``RAY_ADDRESS`` is set, else starts a local one. Tasks and
    results travel as JSON strings so Arrow never has to guess a schema for nested dicts.
    """
    import json

    try:
        import ray
    except ImportError as err:  # pragma: no cover - ray[data] is a dependency
        raise EngineError(f"--engine ray needs ray[data] installed ({err})") from err
    if not tasks:
        return
    if not ray.is_initialized():
        # A local cluster sees the driver's import path, as spawned pool processes do.
        env = {} if os.environ.get("RAY_ADDRESS") else {"PYTHONPATH": os.pathsep.join(sys.path)}
        ray.init(
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": env},
        )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    dataset = ray.data.from_items([{"task": json.dumps(t)} for t in tasks], override_num_blocks=len(tasks))
    results = dataset.map_batches(
        _RayWorker,
        fn_constructor_kwargs={"factory": factory},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=max(1, workers)),
        num_cpus=1,
        num_gpus=gpus_per_worker,
    )
    for row in results.iter_rows():
        yield json.loads(row["task"]), json.loads(row["result"])


def run_engine(
    engine: str, factory: WorkerFactory, tasks: list[Task], workers: int, *, gpus_per_worker: float = 0.0
) -> Iterator[tuple[Task, Result]]:
    """Dispatch to :func:`run_local` (``workers`` 0 = in-process) or :func:`run_ray` by name."""
    if engine == "local":
        return run_local(factory, tasks, workers)
    if engine == "ray":
        return run_ray(factory, tasks, workers, gpus_per_worker=gpus_per_worker)
    raise EngineError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
