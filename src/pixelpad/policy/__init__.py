"""The policy stage: SigLIP vision encoder + VL mixer + flow-matching DiT action head.

Public names: :class:`PolicyConfig`, ``PRESETS`` (``tiny``, ``base``, ``nitrogen_500m``),
:func:`get_preset`, :class:`Policy` (``Policy(config)``, ``from_pretrained``, ``save_pretrained``,
``from_nitrogen_checkpoint``, ``loss``, ``sample``, ``predict``) and the errors. ``Policy`` pulls in
torch and transformers, so it is imported lazily: the configs stay cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelpad.policy.config import PRESETS, PolicyConfig, get_preset
from pixelpad.policy.errors import CheckpointError, PolicyConfigError, PolicyError, PolicyInputError

if TYPE_CHECKING:
    from pixelpad.policy.model import Policy

__all__ = [
    "PRESETS",
    "CheckpointError",
    "Policy",
    "PolicyConfig",
    "PolicyConfigError",
    "PolicyError",
    "PolicyInputError",
    "get_preset",
]


def __getattr__(name: str) -> Any:
    if name == "Policy":
        from pixelpad.policy.model import Policy

        return Policy
    raise AttributeError(f"module 'pixelpad.policy' has no attribute {name!r}")
