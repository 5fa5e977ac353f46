"""``pixelpad overlay train-parser``: train the overlay parser on synthetic pairs.

Registered under ``pixelpad overlay`` by :func:`add_train_parser`. A ``--recipe`` names a whole run
(model size, steps, batch, learning rate, which skins...); any flag given explicitly overrides its
recipe's value. The command only builds the pair source and the configs and calls :func:`train_parser`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipe:
    """Defaults of one kind of training run (each field is the flag of the same name)."""

    preset: str  # parser size (pixelpad.overlay.parser.PRESETS)
    steps: int
    batch_size: int
    lr: float
    warmup: int  # linear warm-up steps, then cosine decay to 10 % of lr
    weight_decay: float = 0.1
    button_weight: float = 10.0  # see parser_loss: at 1 the buttons stay at the prior for long
    only: tuple[str, ...] = ()  # keep skins whose name starts with one of these; () = all
    procedural: int = 0  # procedural skins added to the real ones
    footage_frames: int = 300
    workers: int = 0  # DataLoader processes drawing pairs
    log_every: int = 50
    save_every: int = 500  # also when the held-out set is scored


RECIPES: dict[str, Recipe] = {
    # NitroGen's recipe at full size, for a GPU: MiT-b0, AdamW lr 1e-4, wd 0.1, batch 256, ~8M pairs
    # (the paper's 8M images), every real skin plus procedural ones so that any skin is read;
    # bfloat16 autocast on CUDA; worker processes draw the pairs (~3 ms a pair on one core).
    "paper": Recipe(
        preset="b0", steps=32_000, batch_size=256, lr=1e-4, warmup=1_000, procedural=600,
        workers=min(12, max(1, (os.cpu_count() or 2) - 2)), log_every=100, save_every=2_000,
    ),
    # Shows that training learns, on one CPU thread: one layout in five colourways (the Xbox
    # controller), the small MiT at full input size, a large learning rate for a short run. Measured
    # (38,400 pairs, 11 CPU-minutes; 27 min wall on a 2-core machine shared by four jobs), on 512
    # held-out pairs: button F1 0.94 (majority prior 0), accuracy 0.995 (prior 0.951), stick R² 0.71
    # (prior 0). At 900 steps: F1 0.93, R² 0.51 -- sticks start late (R² ~0 until ~400 steps).
    "cpu-narrow": Recipe(
        preset="small", steps=1_200, batch_size=32, lr=2e-3, warmup=50,
        only=("input-overlay/xbox-controller",), footage_frames=100, save_every=300,
    ),
}  # fmt: skip


def add_train_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``train-parser`` to the ``pixelpad overlay`` sub-commands."""
    p = commands.add_parser(
        "train-parser",
        help="train the learned overlay parser on synthetic pairs (resumable, CPU or GPU)",
        description="Train the parser (Segformer encoder + MLP neck + button/stick/visible heads) on "
        "pairs drawn from skins over footage. Rerunning with the same --out resumes. --recipe paper "
        "(default) is NitroGen's: MiT-b0, AdamW lr 1e-4, weight decay 0.1, batch 256, for a GPU; "
        "--recipe cpu-narrow learns one layout in ~15 min on one CPU thread. Flags override the recipe.",
    )
    p.add_argument("--out", type=Path, required=True, help="run directory (checkpoint, metrics.jsonl)")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="paper", help="defaults of the run")
    p.add_argument("--skins", type=Path, nargs="*", default=None, help="skin directories (default: shared)")
    p.add_argument(
        "--only", nargs="*", default=None, metavar="PREFIX",
        help="keep skins whose name starts with one of these (narrow the task, e.g. one layout)",
    )  # fmt: skip
    p.add_argument("--procedural", type=int, default=None, help="add this many procedural skins")
    p.add_argument("--footage", default="procedural", help="'procedural' or a video to take backgrounds from")
    p.add_argument("--footage-frames", type=int, default=None, help="background frames kept in memory")
    p.add_argument("--preset", default=None, help="parser size: tiny, small, b0, b0_full")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--warmup", type=int, default=None, help="linear warm-up steps")
    p.add_argument("--button-weight", type=float, default=None, help="button loss weight (stick: 1)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument(
        "--bf16", action=argparse.BooleanOptionalAction, default=None,
        help="bfloat16 autocast of the forward pass (default: on for CUDA)",
    )  # fmt: skip
    p.add_argument("--workers", type=int, default=None, help="processes drawing pairs")
    p.add_argument("--log-every", type=int, default=None)
    p.add_argument("--save-every", type=int, default=None, help="checkpoint + held-out scores every N")
    p.add_argument("--eval-pairs", type=int, default=512, help="size of the fixed held-out set")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_train)


def resolve(args: argparse.Namespace) -> Recipe:
    """The run's settings: ``args.recipe`` with every flag the user gave put over it."""
    recipe = RECIPES[args.recipe]
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Recipe)}
    given = {k: tuple(v) if k == "only" else v for k, v in given.items() if v is not None}
    return dataclasses.replace(recipe, **given)


def _train(args: argparse.Namespace) -> int:
    import torch

    from pixelpad.overlay.footage import procedural_footage, video_footage
    from pixelpad.overlay.library import default_skins_dir, load_skins
    from pixelpad.overlay.pairs import PairGenerator
    from pixelpad.overlay.parser import ParserError, get_preset
    from pixelpad.overlay.parser_data import GeneratorSource
    from pixelpad.overlay.parser_train import TrainParserConfig, train_parser
    from pixelpad.overlay.procedural import procedural_skins

    run = resolve(args)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ParserError(f"--device {device}: no CUDA GPU is visible to torch; use --device cpu")
    dirs = args.skins if args.skins is not None else [default_skins_dir()]
    skins = load_skins([d for d in dirs if d is not None]) if any(d is not None for d in dirs) else []
    if run.only:
        skins = [s for s in skins if any(s.name.startswith(p) for p in run.only)]
    skins += procedural_skins(run.procedural, seed=args.seed) if run.procedural else []
    if not skins:
        raise ParserError("no skins to train on: check --skins, --only and --procedural")
    log.info("training on %d skins: %s", len(skins), ", ".join(s.name for s in skins[:8]))
    if args.footage == "procedural":
        footage = procedural_footage(run.footage_frames, seed=args.seed)
    else:
        footage = video_footage(args.footage, (360, 640), max_frames=run.footage_frames)
    preset = get_preset(run.preset)
    generator = PairGenerator(skins, footage=footage, seed=args.seed)
    bf16 = args.bf16 if args.bf16 is not None else device.startswith("cuda")
    config = TrainParserConfig(
        out_dir=str(args.out), steps=run.steps, batch_size=run.batch_size, lr=run.lr,
        weight_decay=run.weight_decay, warmup_steps=run.warmup, button_weight=run.button_weight,
        device=device, bf16=bf16, workers=run.workers, seed=args.seed, log_every=run.log_every,
        save_every=run.save_every, eval_pairs=args.eval_pairs,
    )  # fmt: skip
    log.info("recipe %s: %s", args.recipe, run)
    metrics = train_parser(GeneratorSource(generator), preset, config)
    print(json.dumps(metrics, indent=1))
    return 0
