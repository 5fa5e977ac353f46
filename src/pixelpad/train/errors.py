"""Errors of the training stage: each says what was wrong and what to do about it."""

from __future__ import annotations

from pixelpad.errors import PixelpadError


class TrainError(PixelpadError):
    """A training run cannot start or continue as asked (bad option, data, preset or checkpoint)."""


class DataError(TrainError):
    """The training data is empty, inconsistent across datasets, or too small for the split asked."""


class CheckpointError(TrainError):
    """A checkpoint is missing, incomplete, or was written by a run with a different configuration."""
