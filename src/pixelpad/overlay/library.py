"""Finding and loading skins on disk, whatever their format.

A skin directory is recognised by its contents: ``skin.xml`` (NintendoSpy/RetroSpy) or one ``*.json``
with ``*.png`` atlases (input-overlay). :func:`load_skins` walks directories for both, so the
shared skin collection, a user's folder of presets, or a single preset all work the same way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from pixelpad.overlay.input_overlay import load_input_overlay_dir
from pixelpad.overlay.nintendospy import load_nintendospy_dir
from pixelpad.overlay.skin import Skin, SkinError

log = logging.getLogger(__name__)

SKINS_ENV = "PIXELPAD_SKINS"


def default_skins_dir() -> Path | None:
    """``$PIXELPAD_SKINS`` if set, else ``../shared/skins`` beside the repository, else None."""
    if os.environ.get(SKINS_ENV):
        return Path(os.environ[SKINS_ENV])
    guess = Path(__file__).resolve().parents[4] / "shared" / "skins"
    return guess if guess.is_dir() else None


def _kind(directory: Path) -> str | None:
    if (directory / "skin.xml").is_file():
        return "nintendospy"
    if len(list(directory.glob("*.json"))) == 1 and any(directory.glob("*.png")):
        return "input-overlay"
    return None


def load_skin(path: str | os.PathLike[str]) -> list[Skin]:
    """The skins (one per colourway) of the skin directory ``path`` (or its ``skin.xml``/``.json``)."""
    path = Path(path)
    directory = path.parent if path.is_file() else path
    kind = _kind(directory)
    if kind == "nintendospy":
        return load_nintendospy_dir(directory)
    if kind == "input-overlay":
        return load_input_overlay_dir(directory)
    raise SkinError(
        f"{path}: not a skin: expected a NintendoSpy skin.xml or one input-overlay .json with .png atlases"
    )


def load_skins(dirs: Iterable[str | os.PathLike[str]]) -> list[Skin]:
    """Every skin found under ``dirs`` (searched recursively), sorted by name; names must be unique."""
    found: dict[str, Skin] = {}
    for root in dirs:
        root = Path(root)
        if not root.exists():
            raise SkinError(f"{root}: no such skin directory")
        candidates = [root] if root.is_file() else [root, *sorted(p for p in root.rglob("*") if p.is_dir())]
        for directory in candidates:
            if _kind(directory if directory.is_dir() else directory.parent) is None:
                continue
            for skin in load_skin(directory):
                if skin.name in found:
                    raise SkinError(
                        f"two skins are named {skin.name}: {found[skin.name].source}, {skin.source}"
                    )
                found[skin.name] = skin
    if not found:
        raise SkinError(f"no skins found under {', '.join(str(d) for d in dirs)}")
    log.info("loaded %d skins", len(found))
    return [found[name] for name in sorted(found)]
