"""``python -m pixelpad.train ...`` (what torchrun launches): the options of ``pixelpad train run``."""

import argparse
import logging
import sys

from pixelpad.errors import PixelpadError
from pixelpad.train.cli import add_run_arguments, run_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pixelpad.train", description="Train the policy (one rank)."
    )
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_command(args)
    except PixelpadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
