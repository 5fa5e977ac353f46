"""``pixelpad sim``: run a game under the simulator and record what it shows."""

from __future__ import annotations

import argparse


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from err
    return w, h


def register(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser("sim", help="run games as deterministic, frame-stepped environments")
    sub = sim.add_subparsers(dest="sim_command", metavar="SUBCOMMAND", required=True)

    run = sub.add_parser(
        "run",
        help="run a game for N steps and record frames, actions and a video",
        description="Run a game under the clock shim, write DIR/frames/*.png, DIR/actions.parquet and "
        "DIR/run.mp4, and print 'frames sha256: <hex>' (one digest over all raw frames) last.",
    )
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--game", help="a shipped game profile (see 'pixelpad sim profiles')")
    which.add_argument("--cmd", help="any game command line, run with default key bindings")
    run.add_argument("--steps", type=int, required=True, help="env steps to take")
    run.add_argument("--fps", type=float, default=30.0, help="virtual frames per second (default 30)")
    run.add_argument("--exact", action="store_true", help="fire every timer at its exact virtual time")
    run.add_argument(
        "--actions", default="noop", help="'random', 'noop' or a parquet file of actions (default noop)"
    )
    run.add_argument("--seed", type=int, default=0, help="seed of the game and of random actions")
    run.add_argument("--size", type=_size, default=None, help="screen size WIDTHxHEIGHT (default: profile's)")
    run.add_argument("--out", required=True, help="output directory")
    run.add_argument("--no-video", action="store_true", help="skip run.mp4")
    run.set_defaults(func=_run)

    profiles = sub.add_parser("profiles", help="list the shipped game profiles")
    profiles.set_defaults(func=_profiles)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from pixelpad.actions import null_action
    from pixelpad.sim.env import GameEnv
    from pixelpad.sim.errors import SimError
    from pixelpad.sim.record import load_actions, random_actions, record_run

    if args.steps < 0:
        raise SimError(f"--steps must be >= 0, got {args.steps}")
    if args.actions == "random":
        actions = random_actions(args.steps, args.seed)
    elif args.actions == "noop":
        actions = np.repeat(null_action()[None], args.steps, axis=0)
    else:
        actions = load_actions(args.actions)
        if len(actions) < args.steps:
            raise SimError(f"{args.actions} holds {len(actions)} actions, fewer than --steps {args.steps}")
        actions = actions[: args.steps]
    env = GameEnv(args.game, cmd=args.cmd, fps=args.fps, exact=args.exact, size=args.size, seed=args.seed)
    try:
        result = record_run(env, actions, args.out, seed=args.seed, video=not args.no_video)
    finally:
        env.close()
    print(f"{result.frames} frames, {result.steps} steps -> {args.out}")
    if result.error:
        print(f"the game ended early: {result.error}")
    print(f"frames sha256: {result.digest}")
    return 0 if result.error is None else 1


def _profiles(args: argparse.Namespace) -> int:
    from pixelpad.sim.profiles import list_profiles, load_profile

    for name in list_profiles():
        p = load_profile(name)
        print(f"{name:16s} {p.size[0]}x{p.size[1]}  input={p.input:8s} {' '.join(p.command)}")
    return 0
