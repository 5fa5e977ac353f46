"""``pixelpad demo``: the main job end to end on embedded defaults."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the main job end to end on embedded defaults",
        description="Run the main job end to end on embedded defaults. Stages cache their outputs under "
        "--out, so a rerun after an interruption resumes where it stopped.",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("out/demo"), help="run directory (default: out/demo)"
    )
    parser.add_argument(
        "--force", nargs="*", default=(), metavar="STAGE", help="rerun these stages and later ones"
    )
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from pixelpad.demo import run_demo

    summaries = run_demo(args.out, force=tuple(args.force))
    print(json.dumps(summaries, indent=2))
    return 0
