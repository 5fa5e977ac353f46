"""Fixtures of the overlay tests: the shared real skins, small procedural skins, footage clips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pixelpad.overlay.library import SKINS_ENV


@pytest.fixture(scope="session")
def skins_dir() -> Path:
    """The real skin collection: ``$PIXELPAD_SKINS``, else ``../shared/skins`` beside the repository."""
    path = Path(os.environ.get(SKINS_ENV) or Path(__file__).resolve().parents[3] / "shared" / "skins")
    if not (path / "input-overlay").is_dir() or not (path / "nintendospy").is_dir():
        pytest.skip(f"real skins not found at {path}; set {SKINS_ENV}")
    return path
