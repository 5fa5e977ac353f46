"""Errors of the evaluation stage, each saying what was wrong and what to do."""

from pixelpad.errors import PixelpadError


class EvalError(PixelpadError):
    """A bad evaluation request: an unknown task or policy, inconsistent seeds, an unreadable run."""
