"""Where pixelpad keeps what it can rebuild: one cache root for every stage.

``$PIXELPAD_CACHE``, else ``$XDG_CACHE_HOME/pixelpad``, else ``~/.cache/pixelpad``. Each stage keeps
its own sub-folder (the simulator's compiled shims, the overlay's template features), so one
variable moves them all (tests point it at a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The cache root (see the module docstring); not created here."""
    root = os.environ.get("PIXELPAD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pixelpad"
    )
    return Path(root)
