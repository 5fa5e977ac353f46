"""``pixelpad eval``: run the task suite with a policy and write the report.

Examples::

    pixelpad eval --list
    pixelpad eval --policy demonstrator --tasks all --episodes 10 --workers 2 --out out/eval
    pixelpad eval --policy random --tasks combat --episodes 10 --out out/eval   # same folder: compared
    pixelpad eval --policy ckpt/ --tasks supertux-finish --seeds 0-4 --video --out out/eval
    pixelpad eval --report-only --out out/eval
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pixelpad.eval.errors import EvalError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a policy on the task suite (success rates with 95%% CIs, chart, summary)",
        description="Play every (task, seed) episode with a policy in parallel game envs, write per-episode "
        "results under OUT/<policy>/ and a report over every policy in OUT (report.md, summary.json, "
        "success_rates.png).",
    )
    parser.add_argument(
        "--policy",
        default="demonstrator",
        help="CHECKPOINT (save_pretrained dir or ng.pt), tcp://HOST:PORT (pixelpad serve), random, noop, "
        "or demonstrator (the task's scripted player); default: demonstrator",
    )
    parser.add_argument(
        "--tasks", nargs="+", default=["all"], help="task names, categories, or 'all' (default); see --list"
    )
    parser.add_argument("--episodes", type=int, help="episodes per task (default: 10, or one per --seeds)")
    parser.add_argument(
        "--seeds", nargs="+", help="episode seeds: integers and ranges like 0-9 (default 0..N-1)"
    )
    parser.add_argument("--workers", type=int, default=1, help="episodes played at once (one game each)")
    parser.add_argument("--out", type=Path, default=Path("out/eval"), help="run directory (default out/eval)")
    parser.add_argument("--video", action="store_true", help="also write an MP4 of every episode")
    parser.add_argument("--execute", type=int, default=8, help="actions of each predicted chunk to play")
    parser.add_argument("--device", default="cpu", help="torch device of a checkpoint policy")
    parser.add_argument(
        "--policy-fps",
        type=float,
        help="frame rate of the policy's training data: a task played at a lower rate takes every k-th "
        "action of each chunk, so a chunk spans the time it was trained on (default: one per step)",
    )
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    parser.add_argument("--report-only", action="store_true", help="only (re)write the report of OUT")
    parser.set_defaults(func=_eval)


def parse_seeds(specs: list[str] | None, episodes: int | None) -> tuple[int, ...]:
    """``["0-2", "7"]`` -> ``(0, 1, 2, 7)``; without specs, ``0 .. episodes-1`` (10 by default)."""
    if not specs:
        count = 10 if episodes is None else episodes
        if count < 1:
            raise EvalError(f"--episodes must be at least 1, got {count}")
        return tuple(range(count))
    seeds: list[int] = []
    for spec in specs:
        first, dash, last = spec.partition("-")
        try:
            seeds += list(range(int(first), int(last) + 1)) if dash and first else [int(spec)]
        except ValueError as err:
            raise EvalError(f"bad seed {spec!r}: use integers or ranges like 0-9") from err
    if episodes is not None and episodes != len(seeds):
        raise EvalError(
            f"--episodes {episodes} but --seeds gives {len(seeds)} seeds; give one or make them agree"
        )
    return tuple(seeds)


def _eval(args: argparse.Namespace) -> int:
    from pixelpad.eval.registry import all_tasks, select_tasks
    from pixelpad.eval.report import markdown, write_report
    from pixelpad.eval.runner import EvalConfig, run_eval

    if args.list:
        for task in all_tasks().values():
            print(f"{task.name:24s} {task.category:14s} {task.game:13s} {task.description}")
        return 0
    if not args.report_only:
        config = EvalConfig(
            policy=args.policy,
            seeds=parse_seeds(args.seeds, args.episodes),
            out=args.out,
            workers=args.workers,
            record_video=args.video,
            execute=args.execute,
            device=args.device,
            policy_fps=args.policy_fps,
        )
        run_eval(config, select_tasks(args.tasks))
    summary = write_report(args.out)
    print(markdown(summary))
    print(f"report: {args.out / 'report.md'}, chart: {args.out / 'success_rates.png'}")
    return 0
