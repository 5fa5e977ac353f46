"""Training throughput: can the data loader keep the trainer fed?

Figures, all measured in the same run on the same toy dataset (256×256 video):

* trainer samples/s of the ``tiny`` and ``base`` presets — ``pixelpad.train.train`` end to end
  (loader, augmentation, forward, backward, clipping, AdamW, EMA), after a warm-up step;
* loader samples/s alone — the same DataLoader (lane/window order, segment decoding, resize,
  augmentation) iterated without a model over 1.5 epochs (so decoding is included, not just the
  cache);
* the ratio loader ÷ trainer per preset (goal ≥ 2: the loader is never what the trainer waits for);
* on a GPU: the ``nitrogen_500m`` preset's samples/s in bf16 and its model FLOPs utilisation.

``--quick`` shortens every measurement (a smoke run for CI).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd
import torch

from pixelpad.dataset import make_toy_dataset
from pixelpad.policy import get_preset
from pixelpad.train import TrainConfig, train
from pixelpad.train.augment import AugmentConfig
from pixelpad.train.data import make_loader, open_splits

# dense bf16 peak FLOP/s by device name fragment, for MFU
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "4090": 165e12}


def loader_sps(data: Path, image_size: int, horizon: int, batch: int, steps: int, workers: int) -> float:
    """Samples/s of the training DataLoader alone (after its first batch)."""
    splits = open_splits(
        [str(data)],
        image_size=image_size,
        horizon=horizon,
        val_fraction=0.0,
        mask_overlay=True,
        seed=0,
        val_samples=1,
    )
    loader, parts = make_loader(
        splits,
        weights=None,
        seed=0,
        augment_config=AugmentConfig(),
        global_batch=batch,
        micro_batch=batch,
        world_size=1,
        rank=0,
        start_step=0,
        end_step=steps + 1,
        num_workers=workers,
    )
    batches = iter(loader)
    for _ in range(parts):
        next(batches)
    start = time.perf_counter()
    for _ in range(steps * parts):
        next(batches)
    return steps * batch / (time.perf_counter() - start)


def trainer_sps(data: Path, out: Path, preset: str, batch: int, steps: int, workers: int, **extra) -> float:
    """Samples/s of train() end to end, averaged over the steps after the first."""
    config = TrainConfig(
        data=(str(data),),
        out=str(out),
        preset=preset,
        steps=steps + 1,
        batch_size=batch,
        warmup_steps=1,
        val_fraction=0.0,
        ckpt_every=0,
        val_every=0,
        log_every=1,
        num_workers=workers,
        **extra,
    )
    run = train(config)
    frame = pd.read_csv(run / "metrics.csv")
    rows = frame[(frame["name"] == "train/samples_per_s") & (frame["step"] > 1)]
    return float(rows["value"].mean())


def flops_per_sample(preset: str, device: str, batch: int = 2) -> float:
    """Model FLOPs of one training sample (forward + backward), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    from pixelpad.policy import Policy

    config = get_preset(preset)
    policy = Policy(config).to(device)
    batch_ = {
        "frames": torch.zeros(
            batch, config.image_size, config.image_size, 3, dtype=torch.uint8, device=device
        ),
        "actions": torch.zeros(batch, config.horizon, 21, device=device),
        "action_mask": torch.ones(batch, config.horizon, dtype=torch.bool, device=device),
    }
    with FlopCounterMode(display=False) as counter:
        policy.loss(batch_).backward()
    return counter.get_total_flops() / batch


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny measurement (smoke test)")
    parser.add_argument("--workers", type=int, default=1, help="loader processes (default 1: 2 shared cores)")
    args = parser.parse_args()
    steps = {"tiny": 3 if args.quick else 20, "base": 1 if args.quick else 2}
    batch = {"tiny": 16, "base": 2 if args.quick else 4}
    length = 64 if args.quick else 128
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_toy_dataset(tmp / "data", episodes=4, length=length, size=(256, 256))
        print(f"{'preset':<14}{'trainer/s':>12}{'loader/s':>12}{'loader÷trainer':>16}{'GFLOP/sample':>14}")
        for preset in ("tiny", "base"):
            config = get_preset(preset)
            trainer = trainer_sps(data, tmp / preset, preset, batch[preset], steps[preset], args.workers)
            epoch_batches = -(-4 * length // batch[preset])  # cover 1.5 epochs: decoding included
            loader = loader_sps(
                data, config.image_size, config.horizon, batch[preset], epoch_batches * 3 // 2, args.workers
            )
            gflops = flops_per_sample(preset, "cpu") / 1e9
            print(f"{preset:<14}{trainer:>12.2f}{loader:>12.1f}{loader / trainer:>16.1f}{gflops:>14.2f}")
        if torch.cuda.is_available():
            name = torch.cuda.get_device_name()
            peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
            sps = trainer_sps(
                data,
                tmp / "500m",
                "nitrogen_500m",
                32,
                5 if args.quick else 20,
                max(args.workers, 4),
                precision="bf16",
                device="cuda",
            )
            flops = flops_per_sample("nitrogen_500m", "cuda")
            mfu = f"{sps * flops / peak:.1%}" if peak else "n/a (unknown peak)"
            print(
                f"nitrogen_500m on {name}: {sps:.1f} samples/s (bf16), "
                f"{flops / 1e9:.1f} GFLOP/sample, MFU {mfu}"
            )
        else:
            print("nitrogen_500m: no CUDA device here; samples/s and MFU need a GPU")


if __name__ == "__main__":
    main()
