"""The universal simulator: unmodified Linux games as deterministic, frame-stepped Gymnasium envs.

Public names: :class:`GameEnv`, :func:`action_space`, :func:`load_profile`, :func:`list_profiles`,
:func:`command_profile`, :class:`GameProfile`, :class:`StartupInput`, :class:`ScreenCheck`,
:func:`virtual_display`,
:class:`VirtualDisplay`, :func:`shim_path`, and the errors (:class:`SimError` and subclasses).
They are imported on first use, so ``import pixelpad.sim`` stays cheap.
"""

from __future__ import annotations

from pixelpad._lazy import lazy_getattr

_EXPORTS = {
    "GameEnv": "env",
    "action_space": "env",
    "GameProfile": "profiles",
    "StartupInput": "profiles",
    "ScreenCheck": "profiles",
    "command_profile": "profiles",
    "list_profiles": "profiles",
    "load_profile": "profiles",
    "VirtualDisplay": "display",
    "virtual_display": "display",
    "shim_path": "build",
    "SimError": "errors",
    "ShimBuildError": "errors",
    "DisplayError": "errors",
    "ProfileError": "errors",
    "GameError": "errors",
    "GameNotFoundError": "errors",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
