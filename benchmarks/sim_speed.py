"""How fast the simulator steps each profiled game, against the same game running free.

For each game: (a) the game's free-running frame rate on real time on this machine (the shim only
counts presented frames), (b) stepped env steps per second at 30 virtual fps with random inputs,
and (c) the controller's own CPU milliseconds per step (this process: stepping, quiescence checks,
input, capture). The ratio (b)/(a) says how much of the game's own speed stepping keeps; both are
measured in the same run, so the machine's load affects both.

    python benchmarks/sim_speed.py [--games supertux neverball] [--steps 60] [--free-seconds 5]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from pixelpad.sim import GameEnv, list_profiles, load_profile
from pixelpad.sim.display import VirtualDisplay
from pixelpad.sim.record import random_actions
from pixelpad.sim.session import GameSession


def free_fps(game: str, seconds: float) -> float:
    """Frames per second the game presents on real time, after its first frame."""
    profile = load_profile(game)
    with VirtualDisplay(profile.size) as display:
        session = GameSession(profile, display, seed=0, step_timeout_s=60, real_time=True)
        try:
            deadline = time.monotonic() + 120
            while session.clock.frames_presented < 1 and time.monotonic() < deadline and session.alive():
                time.sleep(0.05)
            start, t0 = session.clock.frames_presented, time.monotonic()
            time.sleep(seconds)
            return (session.clock.frames_presented - start) / (time.monotonic() - t0)
        finally:
            session.close()


def stepped(game: str, steps: int) -> tuple[float, float]:
    """(steps per second, controller CPU ms per step) at 30 virtual fps with random actions."""
    env = GameEnv(game, fps=30)
    try:
        env.reset(seed=0)
        actions = random_actions(steps, seed=0)
        cpu0, t0 = time.process_time(), time.perf_counter()
        for a in actions:
            env.step(a)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        env.close()
    return steps / wall, 1000 * cpu / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", nargs="*", default=list_profiles())
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--free-seconds", type=float, default=5.0)
    args = parser.parse_args()
    rows = []
    for game in args.games:
        fps = free_fps(game, args.free_seconds)
        sps, cpu_ms = stepped(game, args.steps)
        rows.append((game, load_profile(game).size, fps, sps, sps / fps if fps else float("nan"), cpu_ms))
    print(
        f"{'game':14s} {'size':>8s} {'free fps':>9s} {'steps/s':>8s} {'ratio':>6s} {'ctl CPU ms/step':>16s}"
    )
    for game, (w, h), fps, sps, ratio, cpu_ms in rows:
        print(f"{game:14s} {f'{w}x{h}':>8s} {fps:9.1f} {sps:8.1f} {ratio:6.2f} {cpu_ms:16.2f}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
