"""``pixelpad dataset ...``: inspect, import and view episode datasets (thin over the library)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pixelpad.errors import PixelpadError


def _size(text: str) -> tuple[int, int]:
    """``WxH`` (or one number for a square) → (height, width)."""
    try:
        if "x" in text.lower():
            width, height = (int(v) for v in text.lower().split("x"))
        else:
            width = height = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 256x256, got {text!r}") from err
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"sizes must be positive and even (H.264), got {text!r}")
    return height, width


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dataset", help="episode datasets: info, import, view", description=__doc__
    )
    commands = parser.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND", required=True)

    info = commands.add_parser("info", help="summarise a dataset", description="Summarise a dataset.")
    info.add_argument("root", type=Path, help="dataset directory")
    info.add_argument("--episodes", action="store_true", help="also list every episode")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(func=_info)

    imp = commands.add_parser(
        "import-nitrogen",
        help="import a NitroGen action shard with local videos",
        description="Import a NitroGen action shard (SHARD/<video_id>/<video_id>_chunk_NNNN/...) into a "
        "dataset, pairing each chunk with a local video. Failed chunks are reported; the rest go on.",
    )
    imp.add_argument("shard", type=Path, help="the SHARD_NNNN directory")
    imp.add_argument(
        "--videos",
        required=True,
        nargs="+",
        help="a directory of <video_id>.<ext> files, or VIDEO_ID=PATH pairs",
    )
    imp.add_argument("--out", type=Path, required=True, help="dataset to create or append to")
    imp.add_argument("--size", type=_size, default=(256, 256), help="stored frame size WxH (default 256x256)")
    imp.add_argument(
        "--fps", type=float, default=None, help="dataset fps (default: existing, else the video's)"
    )
    imp.add_argument("--actions", choices=("auto", "raw", "processed"), default="auto", help="actions file")
    imp.add_argument("--report", type=Path, default=None, help="write the per-chunk report as JSON here")
    imp.set_defaults(func=_import_nitrogen)

    view = commands.add_parser(
        "view",
        help="render an episode with a drawn controller, and its action timeline",
        description="Render an episode as an MP4 with a drawn gamepad under each frame (sticks as dots, "
        "pressed buttons lit) and a PNG timeline of its actions.",
    )
    view.add_argument("root", type=Path, help="dataset directory")
    view.add_argument("--episode", type=int, default=0, help="episode index (default 0)")
    view.add_argument("--out", type=Path, default=Path("out/view"), help="output directory")
    view.add_argument("--start", type=int, default=0, help="first frame")
    view.add_argument("--frames", type=int, default=None, help="number of frames (default: all)")
    view.set_defaults(func=_view)

    toy = commands.add_parser(
        "make-toy", help="write a small synthetic dataset", description="Write a synthetic toy dataset."
    )
    toy.add_argument("root", type=Path, help="dataset directory to create or append to")
    toy.add_argument("--episodes", type=int, default=4)
    toy.add_argument("--length", type=int, default=64, help="frames per episode")
    toy.add_argument("--size", type=_size, default=(96, 128), help="frame size WxH (default 128x96)")
    toy.add_argument("--fps", type=float, default=15.0)
    toy.add_argument("--seed", type=int, default=0)
    toy.set_defaults(func=_make_toy)


def _info(args: argparse.Namespace) -> int:
    from pixelpad.dataset.store import EpisodeStore

    store = EpisodeStore(args.root)
    summary = store.summary()
    if args.episodes:
        summary["episode_list"] = store.episodes
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    height, width = store.image_size
    print(f"{store.root}: {store.num_episodes} episodes, {store.num_frames} frames ({summary['hours']} h)")
    print(f"  {store.fps:g} fps, frames {width}x{height}, games: {summary['games']}")
    for ep in summary.get("episode_list", []):
        box = ep["overlay_box"] or "-"
        game, video_id = ep["game"] or "-", ep["video_id"] or "-"
        print(f"  #{ep['index']:<5} {ep['length']:>6} frames  {game:<20} {video_id:<16} overlay {box}")
    return 0


def _parse_videos(items: list[str]) -> object:
    if len(items) == 1 and "=" not in items[0]:
        return Path(items[0])
    pairs = {}
    for item in items:
        if "=" not in item:
            raise PixelpadError(f"--videos: expected one directory or VIDEO_ID=PATH pairs, got {item!r}")
        key, value = item.split("=", 1)
        pairs[key] = Path(value)
    return pairs


def _import_nitrogen(args: argparse.Namespace) -> int:
    from pixelpad.dataset.nitrogen import import_nitrogen_shard

    report = import_nitrogen_shard(
        args.shard, _parse_videos(args.videos), args.out, size=args.size, fps=args.fps, actions=args.actions
    )
    print(
        f"imported {report.count('imported')}, skipped {report.count('skipped')}, "
        f"failed {report.count('failed')} chunk(s) into {args.out}"
    )
    for failure in report.failures:
        print(f"  FAILED {failure.chunk}: {failure.message}", file=sys.stderr)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 1 if report.failures and not report.count("imported") else 0


def _view(args: argparse.Namespace) -> int:
    from pixelpad.dataset.view import render_episode

    movie, timeline = render_episode(args.root, args.episode, args.out, start=args.start, frames=args.frames)
    print(f"wrote {movie} and {timeline}")
    return 0


def _make_toy(args: argparse.Namespace) -> int:
    from pixelpad.dataset.toy import make_toy_dataset

    root = make_toy_dataset(
        args.root, episodes=args.episodes, length=args.length, size=args.size, fps=args.fps, seed=args.seed
    )
    print(f"wrote {args.episodes} toy episodes to {root}")
    return 0
