"""The ``pixelpad`` command: one sub-command per stage.

The CLI only parses arguments and calls the library. Each stage keeps its sub-commands in its own
``<stage>/cli.py`` exposing ``register(subparsers)``; this module lists those modules and imports
them lazily, so ``pixelpad --help`` stays fast and a stage's heavy imports happen only when used.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pixelpad.errors import PixelpadError

# Modules that each define ``register(subparsers: argparse._SubParsersAction) -> None``.
STAGE_COMMANDS: tuple[str, ...] = (
    "pixelpad.dataset.cli",
    "pixelpad.demo.cli",
    "pixelpad.eval.cli",
    "pixelpad.extract.cli",
    "pixelpad.overlay.cli",
    "pixelpad.serve.cli",
    "pixelpad.policy.cli",
    "pixelpad.sim.cli",
    "pixelpad.train.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixelpad",
        description="Learn to play games from gameplay videos with a gamepad overlay, and play real games.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in STAGE_COMMANDS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except PixelpadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
