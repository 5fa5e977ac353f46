"""``pixelpad overlay train-parser``: train the overlay parser on synthetic pairs.

Registered under ``pixelpad overlay`` by :func:`add_train_parser`; the command only builds the
pair source and the configs from its arguments and calls :func:`train_parser`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_train_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``train-parser`` to the ``pixelpad overlay`` sub-commands."""
    p = commands.add_parser(
        "train-parser",
        help="train the learned overlay parser on synthetic pairs (resumable, CPU or GPU)",
        description="Train the parser (Segformer encoder + MLP neck + button/stick/visible heads) on "
        "pairs drawn from skins over footage. Rerunning with the same --out resumes. Recipe: AdamW, "
        "lr 1e-4, weight decay 0.1, batch 256.",
    )
    p.add_argument("--out", type=Path, required=True, help="run directory (checkpoint, metrics.jsonl)")
    p.add_argument("--skins", type=Path, nargs="*", default=None, help="skin directories (default: shared)")
    p.add_argument(
        "--only", nargs="*", default=None, metavar="PREFIX",
        help="keep skins whose name starts with one of these (narrow the task, e.g. one layout)",
    )  # fmt: skip
    p.add_argument("--procedural", type=int, default=0, help="add this many procedural skins (default 0)")
    p.add_argument("--footage", default="procedural", help="'procedural' or a video to take backgrounds from")
    p.add_argument("--footage-frames", type=int, default=300, help="background frames kept in memory")
    p.add_argument("--preset", default="b0", help="parser size: tiny, b0 (default), b0_full")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=1_000, help="linear warm-up steps")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--workers", type=int, default=0, help="processes drawing pairs (default 0)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    import torch

    from pixelpad.overlay.footage import procedural_footage, video_footage
    from pixelpad.overlay.library import default_skins_dir, load_skins
    from pixelpad.overlay.pairs import PairGenerator
    from pixelpad.overlay.parser import ParserError, get_preset
    from pixelpad.overlay.parser_data import GeneratorSource
    from pixelpad.overlay.parser_train import TrainParserConfig, train_parser
    from pixelpad.overlay.procedural import procedural_skins

    dirs = args.skins if args.skins is not None else [default_skins_dir()]
    skins = load_skins([d for d in dirs if d is not None]) if any(d is not None for d in dirs) else []
    if args.only:
        skins = [s for s in skins if any(s.name.startswith(p) for p in args.only)]
    skins += procedural_skins(args.procedural, seed=args.seed) if args.procedural else []
    if not skins:
        raise ParserError("no skins to train on: check --skins, --only and --procedural")
    log.info("training on %d skins: %s", len(skins), ", ".join(s.name for s in skins[:8]))
    if args.footage == "procedural":
        footage = procedural_footage(args.footage_frames, seed=args.seed)
    else:
        footage = video_footage(args.footage, (360, 640), max_frames=args.footage_frames)
    preset = get_preset(args.preset)
    generator = PairGenerator(skins, footage=footage, seed=args.seed)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    config = TrainParserConfig(
        out_dir=str(args.out), steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, warmup_steps=args.warmup, device=device, workers=args.workers,
        seed=args.seed, log_every=args.log_every, save_every=args.save_every,
    )  # fmt: skip
    metrics = train_parser(GeneratorSource(generator), preset, config)
    print(json.dumps(metrics, indent=1))
    return 0
