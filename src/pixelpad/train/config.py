"""The training configuration: one frozen dataclass, every default explained.

A run directory stores it as ``config.json``; every checkpoint stores it too, so ``--resume`` can
refuse a checkpoint written under a different recipe (see :data:`RESUME_MUST_MATCH`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from pixelpad.train.augment import AugmentConfig
from pixelpad.train.errors import TrainError
from pixelpad.train.schedule import DecayShape

Strategy = Literal["ddp", "fsdp"]
Precision = Literal["auto", "fp32", "bf16"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    Batch sizes are *global* and the schedule counts optimiser steps, so the same config gives the
    same training on 1 or 64 ranks; set ``micro_batch_size`` explicitly to make it bit-for-bit the same
    (it fixes how samples are grouped for the forward pass and its noise).
    """

    data: tuple[str, ...]  # dataset roots (pixelpad.dataset layout)
    out: str  # run directory: config, metrics, checkpoints, report
    data_weights: tuple[float, ...] | None = None  # sampling share of each dataset; None = by size
    preset: str = "tiny"  # policy preset (pixelpad.policy.PRESETS) when not fine-tuning
    init_from: str | None = None  # fine-tune: pixelpad checkpoint/run/policy dir, or official ng.pt
    freeze: tuple[str, ...] = ()  # parameter-name prefixes to freeze ("vision" = the vision tower)
    steps: int = 1000  # optimiser steps
    batch_size: int = 32  # global batch (samples per optimiser step, all ranks together)
    micro_batch_size: int | None = None  # samples per forward on one rank; None = batch/world
    lr: float = 1e-4  # peak (stable-phase) learning rate
    warmup_steps: int = 100
    decay_fraction: float = 0.2  # last fraction of steps decays the lr
    decay_shape: DecayShape = "linear"
    final_lr_ratio: float = 0.0  # lr at the end as a fraction of the peak
    weight_decay: float = 0.001
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0  # max global grad norm; 0 disables clipping
    ema_decay: float = 0.9999
    ema_warmup: bool = True  # decay min(ema_decay, (1+t)/(10+t)); see pixelpad.train.ema
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)  # None = no augmentation
    mask_overlay: bool = True  # black out the recorded overlay box before resizing
    val_fraction: float = 0.1  # share of episodes held out for validation (seeded)
    val_every: int = 500  # steps between validations (and at the end); 0 = only at the end
    val_samples: int = 256  # held-out chunks per validation (evenly spaced)
    val_sample_steps: int | None = None  # denoising steps for sampled chunks; None = policy default
    ckpt_every: int = 500  # steps between checkpoints (and at the end)
    keep_last: int = 3  # checkpoints kept on disk
    log_every: int = 10  # steps between metric rows
    seed: int = 0
    strategy: Strategy = "ddp"  # "fsdp" shards weights, grads and optimiser state (FSDP2)
    precision: Precision = "auto"  # auto = bf16 autocast on CUDA, fp32 on CPU
    device: str = "auto"  # auto = this rank's CUDA device if any, else CPU
    num_workers: int = 2  # data loader processes per rank

    def __post_init__(self) -> None:
        if not self.data:
            raise TrainError("give at least one dataset (--data DIR)")
        if self.data_weights is not None and len(self.data_weights) != len(self.data):
            raise TrainError(f"{len(self.data_weights)} weights for {len(self.data)} datasets")
        for name in ("steps", "batch_size", "val_samples"):
            if getattr(self, name) < 1:
                raise TrainError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.micro_batch_size is not None and self.micro_batch_size < 1:
            raise TrainError(f"micro_batch_size must be >= 1, got {self.micro_batch_size}")
        for name in ("val_every", "ckpt_every", "log_every", "keep_last", "num_workers", "warmup_steps"):
            if getattr(self, name) < 0:
                raise TrainError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.lr <= 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise TrainError("lr must be > 0, weight_decay and grad_clip >= 0")
        if self.strategy not in ("ddp", "fsdp"):
            raise TrainError(f"strategy must be ddp or fsdp, got {self.strategy!r}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise TrainError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TrainError(f"unknown training options {unknown}")
        values = dict(values)
        for name in ("data", "freeze", "betas"):
            if name in values and values[name] is not None:
                values[name] = tuple(values[name])
        if values.get("data_weights") is not None:
            values["data_weights"] = tuple(values["data_weights"])
        if isinstance(values.get("augment"), dict):
            values["augment"] = AugmentConfig(**values["augment"])
        return cls(**values)


# Fields that decide the numbers a run computes: resuming under a different value would silently
# produce a different run, so it is refused. (steps may grow: the schedule is re-planned.)
RESUME_MUST_MATCH: tuple[str, ...] = (
    "data",
    "data_weights",
    "preset",
    "init_from",
    "freeze",
    "batch_size",
    "lr",
    "warmup_steps",
    "decay_fraction",
    "decay_shape",
    "final_lr_ratio",
    "weight_decay",
    "betas",
    "grad_clip",
    "ema_decay",
    "ema_warmup",
    "augment",
    "mask_overlay",
    "val_fraction",
    "seed",
    "num_workers",  # the loader's workers split each micro-batch (see sampling.RankBatchSampler)
)


def config_differences(saved: dict[str, Any], current: TrainConfig) -> list[str]:
    """Human-readable ``name: saved → current`` for each RESUME_MUST_MATCH field that differs."""
    now = TrainConfig.from_dict(saved).to_dict()
    cur = current.to_dict()
    return [f"{name}: {now[name]!r} → {cur[name]!r}" for name in RESUME_MUST_MATCH if now[name] != cur[name]]
