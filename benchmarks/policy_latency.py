"""Policy inference latency: the cached fast sampler against the released code's algorithm.

For each preset (random weights; speed does not depend on them), batch size and number of Euler
steps, both samplers run from the same frames and the same noise in the same process:

* reference: :func:`pixelpad.policy.sampling.sample_reference` -- the official loop, which runs the
  VL mixer, every cross-attention K/V and the timestep embedding again at each step;
* fast: ``Policy.sample`` -- mixer and K/V once per frame, time-only terms precomputed per step.

Both include the preprocessing and the vision encoder (a whole chunk from a uint8 frame). The
figure is the speed ratio reference/fast and the largest difference between their outputs.

Usage:
    python benchmarks/policy_latency.py                       # CPU, float32, a few minutes
    python benchmarks/policy_latency.py --device cuda --dtype bfloat16 --compile
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from pixelpad.policy import Policy, get_preset
from pixelpad.policy.sampling import sample_reference

# (preset, batch sizes, step counts): the default run, sized for a few minutes on two CPU cores.
DEFAULT_PLAN: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("tiny", (1, 8), (4, 8, 16)),
    ("base", (1,), (16,)),
    ("nitrogen_500m", (1,), (16,)),
)
# --full (the default on a GPU): every preset at B = 1 and 8 and 4/8/16 steps.
FULL_PLAN: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("tiny", (1, 8), (4, 8, 16)),
    ("base", (1, 8), (4, 8, 16)),
    ("nitrogen_500m", (1, 8), (4, 8, 16)),
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_pair(
    reference: Callable[[], torch.Tensor],
    fast: Callable[[], torch.Tensor],
    device: torch.device,
    repeats: int,
    warmup: bool,
) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    """Best wall times (ms) of both samplers, run alternately so load spikes hit both, and outputs."""
    if warmup:
        reference(), fast()
    times: dict[str, list[float]] = {"reference": [], "fast": []}
    outputs: dict[str, torch.Tensor] = {}
    for _ in range(repeats):
        for name, fn in (("reference", reference), ("fast", fast)):
            _sync(device)
            start = time.perf_counter()
            outputs[name] = fn()
            _sync(device)
            times[name].append((time.perf_counter() - start) * 1000.0)
    return min(times["reference"]), min(times["fast"]), outputs["reference"], outputs["fast"]


def run(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    plan = FULL_PLAN if args.full or device.type == "cuda" else DEFAULT_PLAN
    if args.presets:
        plan = tuple(p for p in plan if p[0] in args.presets)
    if args.batch_sizes or args.steps:
        plan = tuple((name, args.batch_sizes or bs, args.steps or ss) for name, bs, ss in plan)
    print(f"device={device} dtype={args.dtype} threads={torch.get_num_threads()} compile={args.compile}")
    header = f"{'preset':>14} {'params':>8} {'B':>3} {'steps':>5} {'reference ms':>13} {'fast ms':>9}"
    print(header + f" {'speed-up':>8} {'max |diff|':>11}")
    for preset, batch_sizes, step_counts in plan:
        torch.manual_seed(0)
        policy = Policy(get_preset(preset)).to(device=device, dtype=dtype).eval()
        if args.compile:  # on a GPU, "reduce-overhead" replays CUDA graphs: launch costs dominate at B = 1
            mode = "reduce-overhead" if device.type == "cuda" else "default"
            policy.vision.compile(mode=mode)
            policy.dit.compile(mode=mode)
        for batch in batch_sizes:
            for steps in step_counts:
                measure(policy, preset, batch, steps, device, args.repeats)


def _reference(policy: Policy, frames: torch.Tensor, noise: torch.Tensor, steps: int) -> torch.Tensor:
    with torch.no_grad():
        return sample_reference(policy, policy.image_tokens(policy.pixels(frames)), noise, steps)


def _fast(policy: Policy, frames: torch.Tensor, noise: torch.Tensor, steps: int) -> torch.Tensor:
    return policy.sample(frames, noise=noise, num_steps=steps)


def measure(policy: Policy, preset: str, batch: int, steps: int, device: torch.device, repeats: int) -> None:
    """Time both samplers on the same 640×480 frames and noise; print one row."""
    gen = torch.Generator().manual_seed(batch)
    frames = torch.randint(0, 256, (batch, 480, 640, 3), dtype=torch.uint8, generator=gen).to(device)
    noise = torch.randn(batch, policy.config.horizon, policy.config.action_dim, generator=gen).to(device)
    # the 500M model on a CPU: two cold runs each (seconds per chunk; a warm-up would add little)
    heavy = preset == "nitrogen_500m" and device.type == "cpu"
    args = (policy, frames, noise, steps)
    ref_ms, fast_ms, ref_out, fast_out = _time_pair(
        functools.partial(_reference, *args),
        functools.partial(_fast, *args),
        device,
        repeats=2 if heavy else repeats,
        warmup=not heavy,
    )
    diff = (ref_out.float() - fast_out.float()).abs().max().item()
    params = f"{policy.num_parameters() / 1e6:.1f}M"
    print(
        f"{preset:>14} {params:>8} {batch:>3} {steps:>5} {ref_ms:>13.1f} {fast_ms:>9.1f} "
        f"{ref_ms / fast_ms:>7.2f}x {diff:>11.2e}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--presets", nargs="+", help="only these presets (tiny, base, nitrogen_500m)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (best)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="override the plan's batch sizes")
    parser.add_argument("--steps", type=int, nargs="+", help="override the plan's Euler step counts")
    parser.add_argument("--full", action="store_true", help="B = 1 and 8, 4/8/16 steps for every preset")
    parser.add_argument("--compile", action="store_true", help="torch.compile encoder + DiT (CUDA graphs)")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
