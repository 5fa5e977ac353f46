"""Errors of the policy stage: bad configs, unreadable or mismatched checkpoints, bad inputs."""

from pixelpad.errors import PixelpadError


class PolicyError(PixelpadError):
    """Base of every error the policy stage raises about what a user gave it."""


class PolicyConfigError(PolicyError, ValueError):
    """A policy configuration whose sizes or options do not fit together."""


class CheckpointError(PolicyError):
    """A checkpoint (ours or the official ``ng.pt``) that cannot be read or does not fit its config."""


class PolicyInputError(PolicyError, ValueError):
    """Frames or actions of the wrong shape, dtype or horizon."""
