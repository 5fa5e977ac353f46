"""Evaluation throughput: episodes per hour per core for each task, CPU per step, the runner's overhead.

For each task (by default the demo's three):

* bare: a :class:`pixelpad.sim.GameEnv` made, reset and stepped ``--steps`` times with null actions,
  then closed -- the floor any evaluation pays; its CPU per step is split into the controller's
  (this process: stepping, quiescence looks, screen grabs) and the game's with its X server;
* runner: one episode of the same task cut to the same number of steps, played by the no-op policy
  through :func:`pixelpad.eval.run_eval` (env factory, start-up, agent, judge every step, action
  files, result rows).

The ratio runner / bare is the runner's overhead, measured in the same run (the machine is shared
and noisy, so only the ratio is comparable across runs). Episodes per hour per core assume one game
per core at the task's full time limit: 3600 / (reset + full-length steps). CPU times depend far
less on other work than wall times: "ep CPU s" is an episode at the full time limit (reset and
start-up CPU + full-length steps at the measured CPU per step), what a quiet core would spend.
Before and after this session's controller work (same machine, load 9-10), ep CPU s: chromium-score-100
14.1 -> 8.4, supertux-finish 8.7 -> 5.6, neverball-unlock 51.6 -> 31.5 (controller ms a step 12.6 -> 4.0,
15.0 -> 4.7, 48.7 -> 14.1; Neverball's own 131.9 -> 93.9 without the ball's shadow).

Usage: ``python benchmarks/eval_throughput.py [--steps 150] [--tasks chromium-score-100 ...]``
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


def _cpu(pids: list[int]) -> tuple[float, float]:
    """(this process's CPU seconds, CPU seconds of every thread of ``pids``)."""
    own = time.process_time()
    theirs = 0
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                theirs += int(f.read().split()[0])
    return own, theirs / 1e9


def bare(task, steps: int) -> dict[str, float]:
    """Wall and CPU seconds of the task's env with null actions: ``setup`` (make + reset + start-up +
    close), ``step`` (wall per step), ``setup_cpu``, ``ctl_step`` and ``game_step`` (CPU per step)."""
    from pixelpad.actions import null_action
    from pixelpad.eval.env import make_env

    start, own = time.perf_counter(), time.process_time()
    env = make_env(task, 0)
    env.reset(seed=0)
    for action, count in task.startup:
        for _ in range(count):
            env.step(action)
    setup = time.perf_counter() - start
    pids = [env._display._proc.pid, *env._session._watch._tree.pids()]
    (own_0, game_0), start = _cpu(pids), time.perf_counter()
    for _ in range(steps):
        env.step(null_action())
    per_step = (time.perf_counter() - start) / steps
    own_1, game_1 = _cpu(pids)
    start = time.perf_counter()
    env.close()
    setup_cpu = own_0 - own + game_0  # the game's CPU before its first timed step
    return {"setup": setup + time.perf_counter() - start, "step": per_step, "setup_cpu": setup_cpu,
            "ctl_step": (own_1 - own_0) / steps, "game_step": (game_1 - game_0) / steps}  # fmt: skip


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
    parser.add_argument("--steps", type=int, default=150, help="env steps timed per task")
    demo = ["chromium-score-100", "supertux-finish", "neverball-unlock"]
    parser.add_argument("--tasks", nargs="+", default=demo, help="task names (default: the demo's)")
    args = parser.parse_args()

    from pixelpad.eval import select_tasks

    print(f"{'task':20s} {'reset s':>8s} {'step ms':>8s} {'x realtime':>10s} {'ep/h/core':>9s} {'ctl ms':>7s}"
          f" {'game ms':>7s} {'ep CPU s':>8s} {'bare s':>7s} {'runner s':>8s} {'overhead':>8s}")  # fmt: skip
    for task in select_tasks(args.tasks):
        b = bare(task, args.steps)
        bare_total = b["setup"] + b["step"] * args.steps
        run_total = runner(task, args.steps, task.fps)
        full_steps = math.ceil(task.time_limit_s * task.fps)
        per_hour = 3600.0 / (b["setup"] + b["step"] * full_steps)
        realtime = (1.0 / task.fps) / b["step"]
        episode_cpu = b["setup_cpu"] + (b["ctl_step"] + b["game_step"]) * full_steps
        print(
            f"{task.name:20s} {b['setup']:8.1f} {b['step'] * 1000:8.1f} {realtime:10.2f} {per_hour:9.1f} "
            f"{b['ctl_step'] * 1000:7.1f} {b['game_step'] * 1000:7.1f} {episode_cpu:8.1f} "
            f"{bare_total:7.1f} {run_total:8.1f} {run_total / bare_total:7.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
