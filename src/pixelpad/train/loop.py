"""The training loop: ``train(config)``, in one process or as one rank of a torchrun job.

One optimiser step = ``accum`` micro-batches per rank (see :mod:`pixelpad.train.sampling`):

    for each micro-batch:  seed the global RNG from the micro-batch → loss = policy.loss(batch) / accum
                           → backward (gradients all-reduced on the last one only)
    clip the global grad norm → AdamW at lr = peak · WSD(step) → EMA update
    every log_every: metrics; every val_every: validation with the EMA weights; every
    ckpt_every (and at the end): an atomic checkpoint.

Everything random is a function of the seed, the step and the stream position, so a resumed run
repeats an uninterrupted one exactly (fp32 on CPU), and a run on W ranks repeats a run on one rank.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from tqdm import tqdm

from pixelpad.train import distributed as D
from pixelpad.train.checkpoint import (
    Checkpoint,
    atomic_write_text,
    latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from pixelpad.train.config import TrainConfig, config_differences
from pixelpad.train.data import make_loader, open_splits
from pixelpad.train.ema import EMA
from pixelpad.train.errors import CheckpointError, TrainError
from pixelpad.train.finetune import POLICY_EXPORT, check_fits, freeze, initial_policy
from pixelpad.train.metrics import MetricsLogger
from pixelpad.train.sampling import accumulation_steps
from pixelpad.train.schedule import WSDSchedule
from pixelpad.train.validate import validate

log = logging.getLogger(__name__)


def train(config: TrainConfig, *, resume: bool = False) -> Path:
    """Run (or with ``resume`` continue) the training ``config`` describes; returns the run directory.

    The final EMA policy is written to ``RUN/policy`` (``Policy.from_pretrained`` layout).
    """
    d = D.init_distributed(config.device, need_group=config.strategy == "fsdp")
    try:
        return _train(config, resume, d)
    finally:
        D.shutdown(d)


def _open_resume(config: TrainConfig, resume: bool) -> Checkpoint | None:
    run = Path(config.out)
    found = latest_checkpoint(run)
    if not resume:
        if found is not None:
            raise TrainError(
                f"{run} already holds checkpoints; pass --resume to continue it, or another --out"
            )
        return None
    if found is None:
        raise CheckpointError(f"nothing to resume in {run}: no complete checkpoint; start without --resume")
    ckpt = load_checkpoint(found)
    diffs = config_differences(ckpt.state["config"], config)
    if diffs:
        raise CheckpointError(f"{found} was written by another configuration: " + "; ".join(diffs))
    return ckpt


def _autocast_factory(config: TrainConfig, device: torch.device):
    use_bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
    if not use_bf16:
        return nullcontext
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)


def _train(config: TrainConfig, resume: bool, d: D.Dist) -> Path:
    run = Path(config.out)
    ckpt = _open_resume(config, resume)
    torch.manual_seed(config.seed)  # identical initialisation on every rank
    if ckpt is not None:
        from pixelpad.policy import Policy, PolicyConfig

        policy = Policy(PolicyConfig.from_dict(ckpt.state["policy_config"]))
    else:
        policy = initial_policy(config.preset, config.init_from)
    freeze(policy, config.freeze)
    shards = d.world_size if config.strategy == "fsdp" else 1
    check_fits(policy, d.device, shards=shards, preset=config.init_from or config.preset)
    policy.to(d.device)

    micro = config.micro_batch_size or max(1, config.batch_size // d.world_size)
    accum = accumulation_steps(config.batch_size, micro, d.world_size)
    splits = open_splits(
        config.data,
        image_size=policy.config.image_size,
        horizon=policy.config.horizon,
        val_fraction=config.val_fraction,
        mask_overlay=config.mask_overlay,
        seed=config.seed,
        val_samples=config.val_samples,
        previous_gap=policy.config.previous_frame_gap,
    )
    if ckpt is not None:  # weights before wrapping: plain tensors, identical on every rank
        policy.load_state_dict(ckpt.model)
    autocast = _autocast_factory(config, d.device)
    model = D.wrap(policy, config.strategy, d, bf16=autocast is not nullcontext)
    trainable = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, foreach=True
    )
    ema = EMA(policy, config.ema_decay, warmup=config.ema_warmup)
    schedule = WSDSchedule(
        total_steps=config.steps,
        warmup_steps=min(config.warmup_steps, config.steps),
        decay_fraction=config.decay_fraction,
        final_ratio=config.final_lr_ratio,
        shape=config.decay_shape,
    )
    start = 0
    if ckpt is not None:
        D.load_into(ema.shadow, ckpt.ema)
        D.load_optimizer_state(policy, optimizer, ckpt.optimizer)
        if len(ckpt.rng) == d.world_size:
            set_rng_state(ckpt.rng[d.rank])
        else:  # harmless: every random draw of training is re-seeded from the step and stream position
            log.info("checkpoint from %d ranks, now %d: RNG states not restored", len(ckpt.rng), d.world_size)
        start = ckpt.step
        log.info("resumed from %s at step %d", ckpt.path, start)
    if start >= config.steps:
        log.info("nothing to do: the run is already at step %d of %d", start, config.steps)
        return run

    if d.is_main:
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    metrics = MetricsLogger(run, enabled=d.is_main, resume_step=start if ckpt is not None else None)
    loader, parts = make_loader(
        splits,
        weights=config.data_weights,
        seed=config.seed,
        augment_config=config.augment,
        global_batch=config.batch_size,
        micro_batch=micro,
        world_size=d.world_size,
        rank=d.rank,
        start_step=start,
        end_step=config.steps,
        num_workers=config.num_workers,
        pin_memory=d.device.type == "cuda",
    )
    state = {
        "config": config.to_dict(),
        "policy_config": policy.config.to_dict(),
        "world_size": d.world_size,
        "schedule": dataclasses.asdict(schedule),
    }

    def checkpoint(step: int) -> None:
        model_state = D.model_state(policy)
        ema_state = D.full_tensors(ema.state_dict())
        optim_state = D.optimizer_state(policy, optimizer)
        rngs = D.all_gather_objects(rng_state(), d)
        if d.is_main:
            save_checkpoint(
                run,
                step,
                state={**state, "data_position": step * config.batch_size},
                model=model_state,
                ema=ema_state,
                optimizer=optim_state,
                rng=rngs,
                export=lambda tmp: _export_ema(policy.config, model_state, ema_state, tmp / POLICY_EXPORT),
                keep_last=config.keep_last,
            )
        D.barrier(d)

    def run_validation(step: int) -> None:
        if splits.val is None:
            return
        with ema.swapped():
            scores = validate(
                policy,
                splits.val,
                d,
                batch_size=micro,
                seed=config.seed,
                num_steps=config.val_sample_steps,
                autocast=autocast,
            )
        metrics.log(step, scores)
        log.info("step %d: %s", step, ", ".join(f"{k}={v:.4g}" for k, v in scores.items()))

    batches = iter(loader)
    bar = tqdm(total=config.steps, initial=start, disable=not d.is_main, desc="train", unit="step")
    window_start, window_samples = time.perf_counter(), 0
    model.train()
    for step in range(start, config.steps):
        lr = config.lr * schedule(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        step_loss = torch.zeros((), device=d.device)  # stays on the device: no sync per micro-batch
        for a in range(accum):
            batch = _merge([next(batches) for _ in range(parts)])
            torch.manual_seed(batch.pop("noise_seed"))
            batch = {k: v.to(d.device, non_blocking=True) for k, v in batch.items()}
            with D.grad_sync(model, policy, sync=a == accum - 1):
                with autocast():
                    loss = model(batch) / accum
                loss.backward()
            step_loss += loss.detach().float()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            trainable, config.grad_clip if config.grad_clip > 0 else float("inf")
        )
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ema.update(step)
        done = step + 1
        window_samples += config.batch_size
        bar.update(1)
        if done % max(1, config.log_every) == 0 or done == config.steps:
            mean_loss = float(D.all_reduce_sum(step_loss.double().cpu().reshape(1), d)[0]) / d.world_size
            elapsed = time.perf_counter() - window_start
            norm = grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm
            values = {
                "train/loss": mean_loss,
                "train/lr": lr,
                "train/grad_norm": float(norm),
                "train/samples_per_s": window_samples / elapsed,
            }
            metrics.log(done, values)
            bar.set_postfix(
                loss=f"{mean_loss:.4f}", lr=f"{lr:.2e}", samples_s=f"{values['train/samples_per_s']:.1f}"
            )
            window_start, window_samples = time.perf_counter(), 0
        paused = time.perf_counter()
        if (config.val_every and done % config.val_every == 0) or done == config.steps:
            run_validation(done)
        if (config.ckpt_every and done % config.ckpt_every == 0) or done == config.steps:
            checkpoint(done)
        window_start += time.perf_counter() - paused  # samples/s counts training time only
    bar.close()
    metrics.close()
    if d.is_main:
        _publish_final(run, config.steps)
    D.barrier(d)
    return run


def _merge(parts: list[dict]) -> dict:
    """One micro-batch from its loader sub-batches (concatenated; the first one's noise seed)."""
    if len(parts) == 1:
        return parts[0]
    keys = [k for k in ("frames", "previous", "actions", "action_mask") if k in parts[0]]
    merged = {k: torch.cat([p[k] for p in parts]) for k in keys}
    merged["noise_seed"] = parts[0]["noise_seed"]
    return merged


def _export_ema(policy_config, model_state: dict, ema_state: dict, directory: Path) -> None:
    """Write the EMA weights as a policy that ``Policy.from_pretrained`` loads (rank 0, on CPU)."""
    from pixelpad.policy import Policy

    export = Policy(policy_config)
    export.load_state_dict({**model_state, **ema_state})
    export.save_pretrained(directory)


def _publish_final(run: Path, steps: int) -> None:
    """Copy the last checkpoint's EMA policy to ``RUN/policy`` (atomically replaced)."""
    import shutil

    from pixelpad.train.checkpoint import checkpoint_dir

    source = checkpoint_dir(run, steps) / POLICY_EXPORT
    tmp = run / f".{POLICY_EXPORT}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    old = run / f".{POLICY_EXPORT}.old"
    shutil.rmtree(old, ignore_errors=True)
    if (run / POLICY_EXPORT).exists():
        (run / POLICY_EXPORT).rename(old)
    tmp.rename(run / POLICY_EXPORT)
    shutil.rmtree(old, ignore_errors=True)
    log.info("final EMA policy: %s", run / POLICY_EXPORT)
