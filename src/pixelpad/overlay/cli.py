"""``pixelpad overlay``: skins (list, show, render), synthetic overlay videos, and finding the overlay.

Only argument parsing here; the work is done by the library (heavy imports stay inside handlers).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from pixelpad.overlay.parser_cli import add_train_parser

log = logging.getLogger(__name__)


def _add_skin_sources(parser: argparse.ArgumentParser, procedural_default: int = 0) -> None:
    parser.add_argument(
        "--skins", nargs="+", type=Path, metavar="DIR",
        help="skin directories, searched recursively (default: $PIXELPAD_SKINS or ../shared/skins)",
    )  # fmt: skip
    parser.add_argument(
        "--procedural", type=int, default=procedural_default, metavar="N",
        help=f"also use N procedural skins (default {procedural_default})",
    )  # fmt: skip
    parser.add_argument("--procedural-seed", type=int, default=0, help="seed of the procedural skins")


def _skins(args: argparse.Namespace):
    from pixelpad.overlay.library import default_skins_dir, load_skins
    from pixelpad.overlay.procedural import procedural_skins
    from pixelpad.overlay.skin import SkinError

    dirs = args.skins
    if dirs is None:
        default = default_skins_dir()
        dirs = [default] if default else []
    skins = load_skins(dirs) if dirs else []
    skins += procedural_skins(args.procedural, args.procedural_seed)
    if not skins:
        raise SkinError("no skins: give --skins DIR or --procedural N")
    return skins


def _find(skins, name: str):
    from pixelpad.overlay.skin import SkinError

    matches = [s for s in skins if s.name == name] or [s for s in skins if s.name.startswith(name)]
    if not matches:
        raise SkinError(f"no skin named {name!r} (see `pixelpad overlay skins list`)")
    return matches[0]


def _list(args: argparse.Namespace) -> int:
    for skin in _skins(args):
        absent = ", ".join(skin.absent) or "-"
        print(f"{skin.name}\t{skin.size[1]}x{skin.size[0]}\tabsent: {absent}")
    return 0


def _show(args: argparse.Namespace) -> int:
    skin = _find(_skins(args), args.name)
    info = {
        "name": skin.name, "layout": skin.layout, "source": skin.source, "size": list(skin.size),
        "controls": list(skin.controls), "absent": list(skin.absent),
        "regions": {k: list(v) for k, v in skin.regions().items()},
        "sticks": {k: {"rest": list(g.rest), "range": list(g.range)} for k, g in skin.sticks().items()},
    }  # fmt: skip
    print(json.dumps(info, indent=1))
    return 0


def _render(args: argparse.Namespace) -> int:
    import numpy as np

    from pixelpad.overlay.images import save_png
    from pixelpad.overlay.sequences import random_actions
    from pixelpad.overlay.skin import fit_skin

    skin = fit_skin(_find(_skins(args), args.name), args.max_side)
    actions = random_actions(args.count * 15, args.seed)[::15]  # far apart: varied states
    cols = int(np.ceil(np.sqrt(args.count)))
    rows = int(np.ceil(args.count / cols))
    h, w = skin.size
    grid = np.zeros((rows * h, cols * w, 4), np.uint8)
    for i, action in enumerate(actions):
        r, c = divmod(i, cols)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = skin.render(action)
    print(save_png(args.out, grid))
    return 0


def _footage(args: argparse.Namespace, size: tuple[int, int]):
    from pixelpad.overlay.footage import procedural_footage, record_game, video_footage

    source = args.footage
    if source == "procedural":
        return procedural_footage(args.frames, size, args.seed)
    if source.startswith("game:"):
        return record_game(source[5:], args.frames, size, fps=args.fps, seed=args.seed)
    return video_footage(source, size, max_frames=args.frames)


def _synth(args: argparse.Namespace) -> int:
    from pixelpad.overlay.composite import Placement
    from pixelpad.overlay.synth import synthesize_video

    skin = _find(_skins(args), args.skin)
    footage = _footage(args, (args.height, args.width))
    placement = Placement(args.corner, args.scale, args.opacity)
    truth = synthesize_video(
        footage, skin, args.out, placement=placement, bitrate=args.bitrate, fps=args.fps, gop=args.gop,
        seed=args.seed,
    )  # fmt: skip
    print(
        f"{truth.video}: {truth.num_frames} frames, skin {truth.skin}, box {truth.box}; "
        f"truth in {truth.video}.json"
    )
    return 0


def _locate(args: argparse.Namespace) -> int:
    from pixelpad.overlay.bank import TemplateBank, default_cache_dir
    from pixelpad.overlay.locate import LocateConfig, locate

    cache = None if args.no_cache else default_cache_dir()
    bank = TemplateBank(_skins(args), args.features.split(","), cache_dir=cache)
    overrides = {k: getattr(args, k) for k in ("min_inliers", "min_distinct") if getattr(args, k) is not None}
    config = LocateConfig(**overrides)
    status = 0
    for video in args.videos:
        found = locate(video, bank, config)
        if args.json:
            print(json.dumps({"video": str(video), "overlay": found.to_dict() if found else None}))
        elif found is None:
            print(f"{video}: no overlay found")
            status = 1
        else:
            note = "" if found.support >= 0.8 else f" (seen in only {found.support:.0%} of sampled frames)"
            print(
                f"{video}: {found.skin} at box {found.box} scale {found.scale:.3f} "
                f"inliers {found.inliers} ({found.distinct} distinct) confidence {found.confidence:.2f}{note}"
            )
    return status


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``pixelpad overlay ...``."""
    overlay = subparsers.add_parser(
        "overlay", help="controller overlays: skins, synthetic videos, localisation"
    )
    commands = overlay.add_subparsers(dest="overlay_command", metavar="COMMAND", required=True)

    skins = commands.add_parser("skins", help="list, inspect and render skins")
    skin_commands = skins.add_subparsers(dest="skins_command", metavar="COMMAND", required=True)
    p = skin_commands.add_parser("list", help="every skin found, its size and the controls it does not show")
    _add_skin_sources(p)
    p.set_defaults(func=_list)
    p = skin_commands.add_parser("show", help="one skin's controls, regions and stick geometry as JSON")
    p.add_argument("name", help="skin name (or a prefix of it)")
    _add_skin_sources(p)
    p.set_defaults(func=_show)
    p = skin_commands.add_parser("render", help="a PNG grid of one skin under random actions")
    p.add_argument("name", help="skin name (or a prefix of it)")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--count", type=int, default=9, help="number of random actions (default 9)")
    p.add_argument("--max-side", type=int, default=400, help="draw the skin this large (default 400)")
    p.add_argument("--seed", type=int, default=0)
    _add_skin_sources(p)
    p.set_defaults(func=_render)

    p = commands.add_parser("synth", help="a synthetic overlay video with its ground truth")
    p.add_argument("--skin", required=True, help="skin name (or a prefix of it)")
    p.add_argument(
        "--out", type=Path, required=True, help="MP4 to write (truth goes to OUT.json, OUT.actions.npy)"
    )
    p.add_argument(
        "--footage", default="procedural",
        help="'procedural', 'game:NAME' (record a simulator game, e.g. game:chromium-bsu) or a video path",
    )  # fmt: skip
    p.add_argument("--frames", type=int, default=150, help="number of frames (default 150)")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--corner", choices=("tl", "tr", "bl", "br"), default="br")
    p.add_argument("--scale", type=float, default=1.0, help="1 = 30%% of the frame width")
    p.add_argument("--opacity", type=float, default=1.0)
    p.add_argument("--bitrate", type=float, default=3e6, help="bits per second (default 3e6)")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--gop", type=int, default=None, help="key-frame interval in frames (default 2 s)")
    p.add_argument("--seed", type=int, default=0)
    _add_skin_sources(p)
    p.set_defaults(func=_synth)

    p = commands.add_parser(
        "locate",
        help="find which skin is in a video, and where",
        description="Find which skin is in each video, and where. Exit status 1 if some video has no overlay "
        "(with --json: 0, and the overlay is null).",
    )
    p.add_argument("videos", nargs="+", type=Path, metavar="VIDEO")
    p.add_argument("--features", default="sift,xfeat", help="comma-separated: sift, xfeat (default both)")
    p.add_argument(
        "--min-distinct", type=int, default=None,
        help="override the calibrated acceptance threshold (distinct template keypoints among the inliers)",
    )  # fmt: skip
    p.add_argument("--min-inliers", type=int, default=None, help="override the floor on pooled inliers")
    p.add_argument(
        "--no-cache", action="store_true",
        help="extract the templates' features afresh instead of reusing $PIXELPAD_CACHE/banks "
        "(default ~/.cache/pixelpad/banks)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON line per video")
    _add_skin_sources(p)
    p.set_defaults(func=_locate)

    add_train_parser(commands)  # the parser's training command lives with the parser (parser_cli.py)
