"""``pixelpad policy``: create, inspect and convert policy checkpoints.

pixelpad policy init --preset tiny OUT          # random-init policy saved to OUT
pixelpad policy init --preset base --vision SIGLIP_DIR OUT
pixelpad policy info PATH                       # a saved policy dir or an official ng.pt
pixelpad policy convert ng.pt OUT               # the released checkpoint → our format
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("policy", help="create, inspect and convert policy checkpoints")
    commands = parser.add_subparsers(dest="policy_command", metavar="ACTION", required=True)

    init = commands.add_parser("init", help="save a randomly initialised policy of a preset")
    init.add_argument("out", type=Path, help="directory to write (config.json + model.safetensors)")
    init.add_argument("--preset", default="tiny", help="tiny, base or nitrogen_500m (default: tiny)")
    init.add_argument("--vision", type=Path, help="local Hugging Face SigLIP directory for the encoder")
    init.add_argument("--image-size", type=int, help="override the preset's frame size (random init only)")
    init.add_argument("--horizon", type=int, help="override the preset's action horizon")
    init.add_argument("--seed", type=int, default=0, help="random seed of the initialisation")
    init.set_defaults(func=_init)

    info = commands.add_parser("info", help="print a checkpoint's config and parameter count as JSON")
    info.add_argument("path", type=Path, help="a saved policy directory or an official ng.pt file")
    info.set_defaults(func=_info)

    convert = commands.add_parser("convert", help="convert the official ng.pt to a pixelpad policy")
    convert.add_argument("checkpoint", type=Path, help="the released NitroGen ng.pt")
    convert.add_argument("out", type=Path, help="directory to write")
    convert.add_argument("--vision-heads", type=int, help="SigLIP heads if not inferable from the name")
    convert.set_defaults(func=_convert)


def _init(args: argparse.Namespace) -> int:
    import torch

    from pixelpad.policy import Policy, get_preset
    from pixelpad.policy.vision import config_with_vision_dir

    config = get_preset(args.preset)
    changes = {k: v for k, v in (("image_size", args.image_size), ("horizon", args.horizon)) if v}
    if changes:
        config = config.replace(**changes)
    if args.vision:
        config = config_with_vision_dir(config, args.vision)
    torch.manual_seed(args.seed)
    policy = Policy(config, vision_weights=args.vision)
    policy.save_pretrained(args.out)
    print(f"saved {args.preset} policy ({policy.num_parameters():,} parameters) to {args.out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    import torch

    from pixelpad.policy import Policy
    from pixelpad.policy.nitrogen import read_nitrogen_config
    from pixelpad.policy.pretrained import read_config

    config = read_config(args.path) if args.path.is_dir() else read_nitrogen_config(args.path)
    with torch.device("meta"):
        parameters = Policy(config).num_parameters()
    print(
        json.dumps({"path": str(args.path), "parameters": parameters, "config": config.to_dict()}, indent=2)
    )
    return 0


def _convert(args: argparse.Namespace) -> int:
    from pixelpad.policy import Policy

    policy = Policy.from_nitrogen_checkpoint(args.checkpoint, vision_heads=args.vision_heads)
    policy.save_pretrained(args.out)
    print(f"converted {args.checkpoint} ({policy.num_parameters():,} parameters) to {args.out}")
    return 0
