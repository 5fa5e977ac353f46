"""The universal simulator: unmodified Linux games as deterministic, frame-stepped Gymnasium envs.

Public names: :class:`GameEnv`, :func:`load_profile`, :func:`list_profiles`,
:func:`command_profile`, :class:`GameProfile`, :func:`virtual_display`, :func:`shim_path`, and the
errors (:class:`SimError` and subclasses).
"""

from pixelpad.sim.build import shim_path
from pixelpad.sim.display import VirtualDisplay, virtual_display
from pixelpad.sim.env import GameEnv, action_space
from pixelpad.sim.errors import (
    DisplayError,
    GameError,
    GameNotFoundError,
    ProfileError,
    ShimBuildError,
    SimError,
)
from pixelpad.sim.profiles import GameProfile, StartupInput, command_profile, list_profiles, load_profile

__all__ = [
    "DisplayError",
    "GameEnv",
    "GameError",
    "GameNotFoundError",
    "GameProfile",
    "ProfileError",
    "ShimBuildError",
    "SimError",
    "StartupInput",
    "VirtualDisplay",
    "action_space",
    "command_profile",
    "list_profiles",
    "load_profile",
    "shim_path",
    "virtual_display",
]
