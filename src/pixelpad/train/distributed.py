"""Process groups, model wrapping (DDP or FSDP2) and full (unsharded) state for checkpoints.

Launched by ``torchrun`` the environment says the rank and world size; launched plainly it is one
process and nothing is wrapped (FSDP2 still gets a one-rank group so the same code path runs).
NCCL on CUDA, gloo on CPU.

Why the policy is wrapped the way it is: training calls ``policy.loss(batch)``, not ``forward``.
DDP only prepares its gradient reducer inside ``forward``, so under DDP the loss goes through a
tiny :class:`LossModule` whose ``forward`` is the loss. FSDP2 shards the units in
:data:`FSDP_UNITS` and the policy itself, and registers ``loss`` and ``sample`` as forward methods so
its all-gather/reduce-scatter hooks run around them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from pixelpad.train.errors import TrainError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dist:
    """Where this process stands in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    initialized: bool  # a process group exists (torchrun, or FSDP2 on one rank)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto", *, need_group: bool = False) -> Dist:
    """Join the torchrun job (if any) and pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainError(f"device {device} asked for, but CUDA is not available here; use --device cpu")
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    initialized = dist.is_available() and dist.is_initialized()
    if not initialized and world > 1:
        dist.init_process_group(backend, device_id=dev if dev.type == "cuda" else None)
        initialized = True
    elif not initialized and need_group:
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
        initialized = True
    return Dist(rank=rank, world_size=world, local_rank=local_rank, device=dev, initialized=initialized)


def shutdown(d: Dist) -> None:
    if d.initialized and dist.is_initialized():
        dist.destroy_process_group()


# FSDP2 units of pixelpad.policy.Policy, innermost first: (module path, "*" = every element of a
# ModuleList; methods other than forward that use the unit's weights). A unit's weights are gathered
# only around forward and those methods, so a block whose weights are also read from outside
# (the DiT blocks' AdaLN modulations are computed by DiT.modulations) must not be a unit of its own.
FSDP_UNITS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vision.encoder.layers.*", ()),
    ("mixer.*", ()),
    ("dit", ("modulations", "cross_kv")),
)


def _resolve(root: nn.Module, path: str) -> list[nn.Module]:
    """Modules at a dotted ``path`` (a trailing ``.*`` expands a ModuleList); [] if absent."""
    base, star = (path[:-2], True) if path.endswith(".*") else (path, False)
    try:
        module = root.get_submodule(base)
    except AttributeError:
        log.debug("no module %s to shard", base)
        return []
    return list(module) if star else [module]


class LossModule(nn.Module):
    """``forward(batch) = policy.loss(batch)``: what DDP wraps."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.policy.loss(batch)


def wrap(policy: nn.Module, strategy: str, d: Dist, *, bf16: bool = False) -> nn.Module:
    """The module whose ``forward(batch)`` is the training loss, wrapped for ``strategy``.

    The policy object stays usable for ``loss``/``sample``/``state_dict`` (under FSDP2 its parameters
    become DTensor shards in place). With ``bf16`` FSDP2 gathers weights in bf16 (half the traffic)
    and reduces gradients in fp32; the sharded master weights and AdamW state stay fp32.
    """
    if strategy == "fsdp":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard, register_fsdp_forward_method

        mesh = init_device_mesh(d.device.type, (d.world_size,), mesh_dim_names=("shard",))
        precision = (
            MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else None
        )
        kwargs = {"mesh": mesh, "mp_policy": precision} if precision else {"mesh": mesh}
        for path, methods in FSDP_UNITS:
            for unit in _resolve(policy, path):
                fully_shard(unit, **kwargs)
                for method in methods:
                    register_fsdp_forward_method(unit, method)
        fully_shard(policy, **kwargs)
        for method in ("loss", "sample"):
            register_fsdp_forward_method(policy, method)
        return LossModule(policy)
    if d.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        ids = [d.device.index] if d.device.type == "cuda" else None
        return DistributedDataParallel(LossModule(policy), device_ids=ids)
    return LossModule(policy)


@contextmanager
def grad_sync(model: nn.Module, policy: nn.Module, sync: bool) -> Iterator[None]:
    """Skip the gradient all-reduce on all but the last micro-batch of an accumulation."""
    if hasattr(model, "no_sync"):  # DDP
        with nullcontext() if sync else model.no_sync():
            yield
    elif hasattr(policy, "set_requires_gradient_sync"):  # FSDP2
        policy.set_requires_gradient_sync(sync)
        yield
    else:
        yield


def _full(t: torch.Tensor) -> torch.Tensor:
    from torch.distributed.tensor import DTensor

    return (t.full_tensor() if isinstance(t, DTensor) else t).detach().cpu()


def full_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Gather DTensor shards into full CPU tensors (a collective under FSDP2: call on every rank)."""
    return {name: _full(t) for name, t in state.items()}


@torch.no_grad()
def load_into(targets: dict[str, torch.Tensor], full: dict[str, torch.Tensor]) -> None:
    """Copy full tensors into (possibly sharded) target tensors of the same names."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    for name, target in targets.items():
        value = full[name]
        if isinstance(target, DTensor):
            value = value.to(target.device, target.dtype)
            value = distribute_tensor(value, target.device_mesh, target.placements)
        target.copy_(value)


def _options(**kw: Any):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, **kw)


def model_state(policy: nn.Module) -> dict[str, torch.Tensor]:
    """Full model state dict on CPU (every rank calls; values are complete on every rank)."""
    return full_tensors(policy.state_dict())


def optimizer_state(policy: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Full optimiser state keyed by parameter name (works for plain, DDP'd and FSDP2 policies)."""
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(policy, optimizer, options=_options(cpu_offload=True))


def load_optimizer_state(policy: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    set_optimizer_state_dict(policy, optimizer, state, options=_options())


def all_gather_objects(obj: Any, d: Dist) -> list[Any]:
    if not d.initialized or d.world_size == 1:
        return [obj]
    out: list[Any] = [None] * d.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(values: torch.Tensor, d: Dist) -> torch.Tensor:
    """Sum a small float64 tensor over ranks (on the CPU for gloo, the device for NCCL)."""
    if d.initialized and d.world_size > 1:
        values = values.to(d.device)
        dist.all_reduce(values)
    return values.cpu()


def barrier(d: Dist) -> None:
    if d.initialized and d.world_size > 1:
        dist.barrier()
