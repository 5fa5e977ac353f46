"""Recorded game frames for the success checks.

Fixtures are small crops of real frames (``fixtures/*.png``, recorded by playing the games under the
simulator) with their position in the 640x480 frame (``fixtures.json``); :func:`frame` pastes one onto
a black frame, which is what a check sees apart from regions it ignores.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FIXTURES = Path(__file__).parent / "fixtures"


def load_frame(*names: str) -> np.ndarray:
    meta = json.loads((FIXTURES / "fixtures.json").read_text())
    first = meta[names[0]]
    frame = np.zeros((first["height"], first["width"], 3), np.uint8)
    for name in names:
        crop = np.array(Image.open(FIXTURES / f"{name}.png").convert("RGB"))
        x, y = meta[name]["x"], meta[name]["y"]
        frame[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
    return frame


@pytest.fixture
def frame():
    return load_frame
