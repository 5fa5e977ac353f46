"""``pixelpad train ...``: run, resume or fine-tune a training, and plot a run (thin over the library).

``pixelpad train run --data DS --out RUN`` trains in this process; ``--nproc-per-node N`` relaunches it
under torchrun (the same as ``torchrun --nproc-per-node N -m pixelpad.train --data DS --out RUN``).
``--resume`` continues RUN from its latest checkpoint, taking unspecified options from RUN/config.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# TrainConfig fields given as lists on the command line
_TUPLE_FIELDS = ("data", "data_weights", "freeze", "betas")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of a training run (every default is TrainConfig's, or the resumed run's)."""
    g = parser.add_argument_group("data")
    g.add_argument("--data", nargs="+", help="dataset directories (pixelpad.dataset layout)")
    g.add_argument("--data-weights", nargs="+", type=float, help="sampling share of each dataset")
    g.add_argument("--val-fraction", type=float, help="share of episodes held out (default 0.1)")
    g.add_argument("--no-augment", dest="augment", action="store_const", const="off", help="no augmentation")
    g.add_argument("--no-mask-overlay", dest="mask_overlay", action="store_false", default=None)
    g.add_argument("--num-workers", type=int, help="data loader processes per rank (default 2)")
    g = parser.add_argument_group("model")
    g.add_argument("--preset", help="policy preset: tiny, base, nitrogen_500m (default tiny)")
    g.add_argument("--init-from", help="fine-tune from ng.pt, a saved policy, or a pixelpad run/checkpoint")
    g.add_argument("--freeze", nargs="+", help="parameter prefixes to freeze, e.g. vision")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--steps", type=int, help="optimiser steps (default 1000)")
    g.add_argument("--batch-size", type=int, help="global batch, all ranks together (default 32)")
    g.add_argument("--micro-batch-size", type=int, help="samples per forward per rank (default batch/ranks)")
    g.add_argument("--lr", type=float, help="peak learning rate (default 1e-4)")
    g.add_argument("--warmup-steps", type=int, help="linear warmup steps (default 100)")
    g.add_argument(
        "--decay-fraction", type=float, help="last share of steps that decays the lr (default 0.2)"
    )
    g.add_argument("--decay-shape", choices=("linear", "cosine", "sqrt"))
    g.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 0.001)")
    g.add_argument("--grad-clip", type=float, help="max grad norm, 0 = off (default 1.0)")
    g.add_argument("--ema-decay", type=float, help="EMA decay (default 0.9999)")
    g.add_argument("--seed", type=int)
    g = parser.add_argument_group("run")
    g.add_argument("--out", required=True, help="run directory")
    g.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its latest checkpoint"
    )
    g.add_argument("--val-every", type=int, help="steps between validations (default 500)")
    g.add_argument("--val-samples", type=int, help="held-out chunks scored per validation (default 256)")
    g.add_argument(
        "--val-sample-steps", type=int, help="denoising steps of sampled chunks (default: policy's)"
    )
    g.add_argument("--ckpt-every", type=int, help="steps between checkpoints (default 500)")
    g.add_argument("--keep-last", type=int, help="checkpoints kept (default 3)")
    g.add_argument("--log-every", type=int, help="steps between metric rows (default 10)")
    g.add_argument("--strategy", choices=("ddp", "fsdp"), help="data parallel (default) or FSDP2 sharding")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16"), help="auto: bf16 on GPU, fp32 on CPU")
    g.add_argument("--device", help="auto (default), cpu, cuda")


def config_from_args(args: argparse.Namespace):
    """TrainConfig from parsed options over the resumed run's saved config (if any) or the defaults."""
    from pixelpad.train.config import TrainConfig
    from pixelpad.train.errors import TrainError

    base: dict = {}
    saved = Path(args.out) / "config.json"
    if args.resume and saved.is_file():
        base = json.loads(saved.read_text())
    names = {f for f in TrainConfig.__dataclass_fields__}
    overrides = {k: v for k, v in vars(args).items() if k in names and v is not None and k != "augment"}
    for name in _TUPLE_FIELDS:
        if name in overrides:
            overrides[name] = tuple(overrides[name])
    if args.augment == "off":
        overrides["augment"] = None
    values = {**base, **overrides, "out": str(args.out)}
    if not values.get("data"):
        raise TrainError("give --data DIR [DIR ...] (or --resume a run that has a config.json)")
    return TrainConfig.from_dict(values)


def run_command(args: argparse.Namespace) -> int:
    nproc = getattr(args, "nproc_per_node", None)
    if nproc and nproc > 1 and "RANK" not in os.environ:
        argv = _drop_option(sys.argv[sys.argv.index("run") + 1 :], "--nproc-per-node")
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
        os.execv(sys.executable, [*cmd, "-m", "pixelpad.train", *argv])
    from pixelpad.train.loop import train

    run = train(config_from_args(args), resume=args.resume)
    if os.environ.get("RANK", "0") == "0":
        print(f"run: {run}\nfinal EMA policy: {run / 'policy'}")
    return 0


def _drop_option(argv: list[str], name: str) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            out.append(arg)
    return out


def report_command(args: argparse.Namespace) -> int:
    from pixelpad.train.report import make_report

    for path in make_report(args.run, args.out):
        print(path)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train or fine-tune the policy; plot runs", description=__doc__
    )
    commands = parser.add_subparsers(dest="train_command", metavar="SUBCOMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="train (or --resume, or fine-tune with --init-from)",
        description="Train the policy by behaviour cloning on episode datasets.",
    )
    add_run_arguments(run)
    run.add_argument("--nproc-per-node", type=int, help="relaunch under torchrun with this many processes")
    run.set_defaults(func=run_command)
    report = commands.add_parser("report", help="PNG plots of a run", description="Plot a run's metrics.")
    report.add_argument("run", type=Path, help="run directory")
    report.add_argument("--out", type=Path, help="where to write the PNGs (default RUN/report)")
    report.set_defaults(func=report_command)
