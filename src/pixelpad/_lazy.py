"""Lazy package exports: ``import pixelpad.<stage>`` stays cheap until a name is used.

Stages export their public names from ``__init__.py`` but their modules import torch, OpenCV,
PyAV or X libraries; importing those only when a name is first used keeps ``pixelpad --help`` and
light users (the CLI, other stages' imports) fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package`` that imports ``exports[name]`` on first use.

    ``exports`` maps each public name to the module defining it: a full dotted path
    (``"pixelpad.serve.client"``) or a submodule of ``package`` (``"client"``).
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = exports[name]
        if not module.startswith("pixelpad."):
            module = f"{package}.{module}"
        return getattr(importlib.import_module(module), name)

    return __getattr__
