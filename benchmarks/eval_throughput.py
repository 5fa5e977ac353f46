"""Evaluation throughput: episodes per hour per core for each game, and the runner's overhead.

For each game (its first task in the suite):

* bare: a :class:`pixelpad.sim.GameEnv` made, reset and stepped ``--steps`` times with null actions,
  then closed -- the floor any evaluation pays;
* runner: one episode of the same task cut to the same number of steps, played by the no-op policy
  through :func:`pixelpad.eval.run_eval` (env factory, start-up, agent, judge every step, action
  files, result rows).

The ratio runner / bare is the runner's overhead, measured in the same run (the machine is shared
and noisy, so only the ratio is comparable across runs). Episodes per hour per core assume one game
per core at the task's full time limit: 3600 / (reset + full-length steps).

Usage: ``python benchmarks/eval_throughput.py [--steps 150] [--games chromium-bsu supertux neverball]``
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def bare(task, steps: int) -> tuple[float, float]:
    """(seconds to make + reset + close, seconds per step) for the task's env with null actions."""
    from pixelpad.actions import null_action
    from pixelpad.eval.env import make_env

    start = time.perf_counter()
    env = make_env(task, 0)
    env.reset(seed=0)
    for action, count in task.startup:
        for _ in range(count):
            env.step(action)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        env.step(null_action())
    per_step = (time.perf_counter() - start) / steps
    start = time.perf_counter()
    env.close()
    return setup + time.perf_counter() - start, per_step


def runner(task, steps: int, fps: float) -> float:
    """Wall seconds of one no-op episode of ``steps`` steps through the runner."""
    from pixelpad.eval.runner import EvalConfig, run_eval

    short = dataclasses.replace(task, time_limit_s=steps / fps)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        (result,) = run_eval(EvalConfig("noop", (0,), Path(out)), [short], progress=False)
        wall = time.perf_counter() - start
    if result.status == "error":
        raise SystemExit(f"{task.name}: the episode crashed: {result.error}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=150, help="env steps timed per game")
    parser.add_argument("--games", nargs="+", default=["chromium-bsu", "supertux", "neverball"])
    args = parser.parse_args()

    from pixelpad.eval.registry import all_tasks

    tasks = list(all_tasks().values())
    print(f"{'game':13s} {'task':20s} {'reset s':>8s} {'step ms':>8s} {'x realtime':>10s} "
          f"{'ep/h/core':>9s} {'bare s':>7s} {'runner s':>8s} {'overhead':>8s}")  # fmt: skip
    for game in args.games:
        task = next(t for t in tasks if t.game == game)
        setup, per_step = bare(task, args.steps)
        bare_total = setup + per_step * args.steps
        run_total = runner(task, args.steps, task.fps)
        full_steps = math.ceil(task.time_limit_s * task.fps)
        per_hour = 3600.0 / (setup + per_step * full_steps)
        realtime = (1.0 / task.fps) / per_step
        print(
            f"{game:13s} {task.name:20s} {setup:8.1f} {per_step * 1000:8.1f} {realtime:10.2f} "
            f"{per_hour:9.1f} {bare_total:7.1f} {run_total:8.1f} {run_total / bare_total:7.2f}x"
        )


if __name__ == "__main__":
    main()
