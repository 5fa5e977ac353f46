"""``pixelpad demo``: the main job end to end on embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the main job end to end on embedded defaults",
        description="Record demonstrators playing real games as overlay videos, extract their actions, train "
        "a small policy on them, evaluate it against random and no-op, and write one report "
        "(OUT/REPORT.md). Stages cache their outputs under --out, so a rerun after an interruption "
        "resumes where it stopped.",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("out/demo"), help="run directory (default: out/demo)"
    )
    parser.add_argument(
        "--size",
        choices=("default", "toy"),
        default="default",
        help="default: under an hour on 2 cores; toy: seconds per stage (default: default)",
    )
    parser.add_argument(
        "--force", nargs="*", default=(), metavar="STAGE", help="rerun these stages and later ones"
    )
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from pixelpad.demo import DemoConfig, run_demo

    summaries = run_demo(args.out, DemoConfig.named(args.size), force=tuple(args.force))
    print(f"report: {summaries['report']['report']}")
    return 0
