"""``pixelpad extract``: videos with an input overlay → a dataset of episodes, resumable."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``pixelpad extract``."""
    p = subparsers.add_parser(
        "extract",
        help="read gamepad overlays in videos and write the actions + frames as episodes",
        description="Per video: locate the overlay, read it frame by frame (template reader and/or "
        "parser), refine, write the kept segments as episodes. Every video's outcome goes to "
        "OUT/extract/manifest.jsonl (done / no_overlay / too_idle / failed + reason); a rerun skips "
        "what is final and retries failures.",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, or folders searched for videos")
    p.add_argument("--skins", nargs="+", required=True, metavar="DIR", help="skin directories")
    p.add_argument("--out", required=True, type=Path, metavar="DATASET", help="dataset directory")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local process pool (default) or Ray Data (RAY_ADDRESS joins a cluster)")  # fmt: skip
    p.add_argument("--workers", type=int, default=1, help="worker processes / Ray actors (0: in-process)")
    p.add_argument(
        "--reader", choices=("auto", "template", "parser"), default="auto",
        help="auto: template reader, plus the parser if --parser is given, best per video",
    )  # fmt: skip
    p.add_argument("--parser", default=None, metavar="DIR", help="parser checkpoint (train-parser --out)")
    p.add_argument("--gpus-per-worker", type=float, default=0.0, help="Ray: GPUs per actor (parser on GPU)")
    p.add_argument("--fps", type=float, default=30.0, help="dataset frame rate; videos are resampled to it")
    p.add_argument("--frame-size", type=int, nargs=2, default=(180, 320), metavar=("H", "W"),
                   help="stored frame size, letterboxed (default 180 320)")  # fmt: skip
    p.add_argument("--mask", default="footprint",
                   help="what of the overlay to black out of the stored frames: footprint (the pixels "
                   "its pictures can cover; the game around it stays) or box (the bounding box)")  # fmt: skip
    p.add_argument("--preset", default="veryfast", help="x264 preset of the stored frames (the workers "
                   "encode them; see ExtractConfig.x264_params for measured costs and sizes)")  # fmt: skip
    p.add_argument("--x264-params", default=None, help="x264 options over the preset, a:b=c:... (default: "
                   "ExtractConfig.x264_params, measured there; '': the preset's own)")  # fmt: skip
    p.add_argument("--crf", type=int, default=20, help="x264 quality of the stored frames (lower: better)")
    p.add_argument("--features", default="sift,xfeat", help="localisation features (default sift,xfeat)")
    p.add_argument("--min-density", type=float, default=0.1, help="drop videos with less action than this")
    p.add_argument("--max-hours", type=float, default=12.0, help="fail longer videos (default 12)")
    p.add_argument("--game", default="unknown", help="game name stored with every episode")
    p.set_defaults(func=_extract)


def _extract(args: argparse.Namespace) -> int:
    from pixelpad.extract.pipeline import ExtractConfig
    from pixelpad.extract.run import extract
    from pixelpad.overlay.refine import RefineConfig

    encoding = {} if args.x264_params is None else {"x264_params": args.x264_params}
    config = ExtractConfig(
        out=str(args.out), skins=tuple(str(s) for s in args.skins), reader=args.reader, parser=args.parser,
        fps=args.fps, frame_size=tuple(args.frame_size), features=tuple(args.features.split(",")),
        mask=args.mask, max_hours=args.max_hours, game=args.game, preset=args.preset, crf=args.crf,
        parser_device="cuda" if args.gpus_per_worker > 0 else "cpu",
        refine=RefineConfig(min_density=args.min_density), **encoding,
    )  # fmt: skip
    counts = extract(args.videos, config, engine=args.engine, workers=args.workers,
                     gpus_per_worker=args.gpus_per_worker)  # fmt: skip
    print(json.dumps(counts))
    return 0 if counts.get("failed", 0) == 0 else 1
