"""Reading pictures for skins: any PNG/JPEG as RGBA uint8 ``(H, W, 4)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixelpad.overlay.skin import SkinError


def load_rgba(path: str | Path) -> np.ndarray:
    """``path`` as RGBA uint8 ``(H, W, 4)``; pictures without alpha are opaque."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGBA")).copy()
    except (OSError, UnidentifiedImageError) as err:
        raise SkinError(f"{path}: cannot read picture ({err})") from err


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an RGB or RGBA uint8 picture as PNG."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path
