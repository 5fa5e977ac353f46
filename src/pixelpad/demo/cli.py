"""``pixelpad demo`` (the main job end to end) and ``pixelpad study transfer`` (the transfer study)."""

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

    study = subparsers.add_parser("study", help="studies built on the demo's stages")
    studies = study.add_subparsers(dest="study", metavar="STUDY", required=True)
    transfer = studies.add_parser(
        "transfer",
        help="pre-train on other games, then fine-tune vs from scratch on a held-out game",
        description="Hold one game out, pre-train on the other games' extracted episodes, then give a "
        "fine-tuned and a from-scratch policy the same small budget of held-out-game data and steps, "
        "evaluate both on the held-out game's tasks over seeds, and report the relative improvement "
        "with confidence intervals (OUT/STUDY.md). Stages are cached under --out.",
    )
    transfer.add_argument(
        "--out", type=Path, default=Path("out/study"), help="run directory (default: out/study)"
    )
    transfer.add_argument(
        "--data-from",
        type=Path,
        help="a finished `pixelpad demo` run whose videos and datasets to reuse (e.g. out/demo); "
        "without it the demo's record and extract stages run here",
    )
    transfer.add_argument("--held-out", default="supertux", help="the game left out of pre-training")
    transfer.add_argument("--size", choices=("default", "toy"), default="default", help="default or toy")
    transfer.add_argument("--pretrain-steps", type=int, help="steps on the other games (default 600)")
    transfer.add_argument(
        "--budget-steps", type=int, help="steps of each arm on the held-out game (default 200)"
    )
    transfer.add_argument("--train-seeds", type=int, help="policies per arm (default 3)")
    transfer.add_argument("--eval-seeds", type=int, help="episodes per task and policy (default 10)")
    transfer.add_argument(
        "--force", nargs="*", default=(), metavar="STAGE", help="rerun these stages and later ones"
    )
    transfer.set_defaults(func=_transfer)


def _demo(args: argparse.Namespace) -> int:
    from pixelpad.demo import DemoConfig, run_demo

    summaries = run_demo(args.out, DemoConfig.named(args.size), force=tuple(args.force))
    print(f"report: {summaries['report']['report']}")
    return 0


def _transfer(args: argparse.Namespace) -> int:
    import dataclasses

    from pixelpad.demo.study import StudyConfig, run_study

    data_from = str(args.data_from) if args.data_from else None
    config = StudyConfig.toy(data_from) if args.size == "toy" else StudyConfig(data_from=data_from)
    changes = {"held_out": args.held_out}
    if args.pretrain_steps is not None:
        changes["pretrain_steps"] = args.pretrain_steps
    if args.budget_steps is not None:
        changes["budget_steps"] = args.budget_steps
    if args.train_seeds is not None:
        changes["train_seeds"] = tuple(range(args.train_seeds))
    if args.eval_seeds is not None:
        changes["eval_seeds"] = tuple(range(args.eval_seeds))
    result = run_study(args.out, dataclasses.replace(config, **changes), force=tuple(args.force))
    print(f"report: {result['report']}")
    return 0
