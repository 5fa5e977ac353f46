"""Fixtures of the overlay tests: the shared real skins, small procedural skins, footage clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixelpad.overlay.library import SKINS_ENV, default_skins_dir


@pytest.fixture(scope="session")
def skins_dir() -> Path:
    """The real skin collection: ``$PIXELPAD_SKINS``, else ``../shared/skins`` beside the repository."""
    path = default_skins_dir()
    if path is None or not (path / "input-overlay").is_dir() or not (path / "nintendospy").is_dir():
        pytest.fail(f"real skins not found (at {path}): set {SKINS_ENV} to a copy of shared/skins")
    return path


@pytest.fixture(scope="session")
def game_clip() -> np.ndarray:
    """90 frames (240, 320, 3) of chromium-bsu played by a random player in the simulator."""
    from pixelpad.overlay.footage import record_game
    from pixelpad.sim import SimError

    try:
        return record_game("chromium-bsu", 90, (240, 320), seed=3)
    except SimError as err:
        pytest.fail(f"cannot record real game footage (run make install): {err}")


@pytest.fixture(scope="session")
def real_skins(skins_dir):
    """A few real skins of both formats (colourways included)."""
    from pixelpad.overlay.library import load_skins

    dirs = [
        "input-overlay/dualsense",
        "input-overlay/gamepad",
        "nintendospy/pc360-default",
        "nintendospy/gamecube-default",
    ]
    return load_skins([skins_dir / d for d in dirs])


@pytest.fixture(scope="session")
def bank(real_skins):
    """A small template bank: the real skins above plus 12 procedural ones, SIFT and XFeat."""
    import torch

    from pixelpad.overlay.bank import TemplateBank
    from pixelpad.overlay.procedural import procedural_skins

    torch.set_num_threads(1)
    return TemplateBank(real_skins + procedural_skins(12, seed=5), progress=False)
