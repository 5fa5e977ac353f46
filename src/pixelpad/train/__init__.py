"""Behaviour cloning of the policy: the training loop and everything around it.

Public names (imports kept light; torch-heavy modules load on first use):

* :class:`TrainConfig` and :func:`train` — run a training (single process or under torchrun);
* :class:`WSDSchedule`, :class:`EMA`, :class:`AugmentConfig` / :func:`augment` — the recipe's parts;
* :func:`load_checkpoint`, :func:`latest_checkpoint` — read what a run wrote;
* :func:`make_report` — PNG plots of a run's metrics;
* :class:`TrainError` and its subclasses.
"""

from pixelpad.train.errors import CheckpointError, DataError, TrainError

__all__ = [
    "EMA",
    "AugmentConfig",
    "CheckpointError",
    "DataError",
    "TrainConfig",
    "TrainError",
    "WSDSchedule",
    "augment",
    "latest_checkpoint",
    "load_checkpoint",
    "make_report",
    "train",
]

_LAZY = {
    "TrainConfig": "pixelpad.train.config",
    "train": "pixelpad.train.loop",
    "WSDSchedule": "pixelpad.train.schedule",
    "EMA": "pixelpad.train.ema",
    "AugmentConfig": "pixelpad.train.augment",
    "augment": "pixelpad.train.augment",
    "load_checkpoint": "pixelpad.train.checkpoint",
    "latest_checkpoint": "pixelpad.train.checkpoint",
    "make_report": "pixelpad.train.report",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pixelpad.train' has no attribute {name!r}")
