"""The simulator's errors: each says what went wrong with the game, the display or the shim."""

from __future__ import annotations

from pixelpad.errors import PixelpadError


class SimError(PixelpadError):
    """Base of every simulator error."""


class ShimBuildError(SimError):
    """The clock shim could not be compiled (no C compiler, or the compiler failed)."""


class DisplayError(SimError):
    """The private X server could not be started or reached."""


class ProfileError(SimError):
    """A game profile that is missing or malformed."""


class GameError(SimError):
    """The game could not be started, exited, crashed or hung; the message carries its stderr tail."""


class GameNotFoundError(GameError):
    """The game's command is not an executable on this machine."""
