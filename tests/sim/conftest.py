"""Fixtures for the simulator tests: the tiny SDL2 probe game, compiled from source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).parent / "programs"


@pytest.fixture(scope="session")
def probe_game(tmp_path_factory) -> str:
    """Path of ``programs/sdl_probe.c`` built with the system compiler and SDL2."""
    out = tmp_path_factory.mktemp("probe") / "sdl_probe"
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "sdl2"], capture_output=True, text=True, check=True
    )
    subprocess.run(
        [
            shutil.which("gcc") or "gcc",
            "-O1",
            "-o",
            str(out),
            str(PROGRAMS / "sdl_probe.c"),
            *flags.stdout.split(),
        ],
        check=True,
    )
    return str(out)
