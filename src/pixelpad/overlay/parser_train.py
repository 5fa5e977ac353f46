"""Training the overlay parser on synthetic pairs: resumable, CPU or GPU, the paper's recipe.

The data is endless: a *pair source* draws labelled pairs on demand (``source(n, rng) -> batch``,
see :class:`PairSource`), so there are no epochs, only steps. Worker processes of a torch
``DataLoader`` each call the source with their own seed. Recipe (NitroGen): AdamW, lr 1e-4, weight
decay 0.1, batch 256; here with a linear warm-up and a cosine decay to 10 %.

A run directory holds ``parser_config.json`` + ``parser.safetensors`` (the latest weights, the
format :meth:`Parser.from_pretrained` reads), ``train_state.pt`` (optimiser, scheduler, step, data
seed) and ``metrics.jsonl``. Starting again with the same directory resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from pixelpad.overlay.parser import Parser, ParserConfig, ParserError, parser_loss

log = logging.getLogger(__name__)

STATE_NAME = "train_state.pt"
METRICS_NAME = "metrics.jsonl"


class PairSource(Protocol):
    """Draws ``n`` labelled pairs. Returns numpy arrays:

    ``images (n, H, W, 3)`` uint8 (crop of frame t-1 | crop of frame t), ``buttons (n, 17)`` 0/1,
    ``button_known (n, 17)`` bool, ``sticks (n, 4)`` in [-1, 1], ``stick_known (n, 2)`` bool,
    ``visible (n,)`` bool — all labels for frame t.
    """

    def __call__(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class TrainParserConfig:
    """One training run. Defaults are the paper's recipe; tests shrink steps and batch."""

    out_dir: str
    steps: int = 100_000
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 0.1
    warmup_steps: int = 1_000
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * min_lr_ratio
    grad_clip: float = 1.0  # clip the gradient norm at this value, or disable if == 0
    device: str = "cpu"
    workers: int = 0  # DataLoader processes drawing pairs; 0 = draw in the training process
    seed: int = 0
    log_every: int = 50
    save_every: int = 500  # also saved at the end and when interrupted
    eval_pairs: int = 512  # a fixed held-out set drawn once with seed + 1


class _PairStream(torch.utils.data.IterableDataset):
    """Endless batches from a pair source; each DataLoader worker draws with its own seed."""

    def __init__(self, source: PairSource, batch_size: int, seed: int) -> None:
        self.source, self.batch_size, self.seed = source, batch_size, seed

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, 0 if info is None else info.id + 1])
        while True:
            yield {k: torch.from_numpy(np.asarray(v)) for k, v in self.source(self.batch_size, rng).items()}


def _lr_factor(step: int, config: TrainParserConfig) -> float:
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate(model: Parser, batch: dict[str, np.ndarray], chunk: int = 256) -> dict[str, float]:
    """Button accuracy, stick R² and visibility accuracy on ``batch``, next to a constant prior's.

    The prior predicts each button's majority state and each stick's mean: the margin over it says
    whether the model reads the overlay at all. Buttons are mostly released, so the majority prior
    already scores ~0.95 accuracy; balanced accuracy (mean of the pressed and released recalls) puts
    any constant prior at 0.5.
    """
    model.eval()
    preds = [model.predict(batch["images"][i : i + chunk]) for i in range(0, len(batch["images"]), chunk)]
    p = {k: np.concatenate([q[k] for q in preds]) for k in preds[0]}
    visible = batch["visible"].astype(bool)
    known_b = batch["button_known"].astype(bool) & visible[:, None]
    truth_b = batch["buttons"] > 0.5
    majority = (truth_b & known_b).sum(0) * 2 > known_b.sum(0)
    known_s = np.repeat(batch["stick_known"].astype(bool) & visible[:, None], 2, axis=1)
    truth_s = batch["sticks"]
    resid = ((p["sticks"] - truth_s) ** 2)[known_s].sum()
    mean_s = np.array([truth_s[known_s[:, j], j].mean() if known_s[:, j].any() else 0.0 for j in range(4)])
    total = ((truth_s - mean_s) ** 2)[known_s].sum()
    model.train()
    said = p["buttons"] > 0.5
    recalls = [float((said == truth_b)[known_b & (truth_b == v)].mean()) for v in (True, False)
               if (known_b & (truth_b == v)).any()]  # fmt: skip
    return {
        "button_acc": float((said == truth_b)[known_b].mean()),
        "button_balanced_acc": float(np.mean(recalls)),
        "button_acc_prior": float((np.broadcast_to(majority, truth_b.shape) == truth_b)[known_b].mean()),
        "stick_r2": float(1 - resid / max(total, 1e-9)),
        "visible_acc": float(((p["visible"] > 0.5) == visible).mean()),
    }


def _save(model: Parser, optimizer: torch.optim.Optimizer, step: int, config: TrainParserConfig) -> None:
    out = Path(config.out_dir)
    model.save_pretrained(out)
    tmp = out / (STATE_NAME + ".tmp")
    torch.save({"optimizer": optimizer.state_dict(), "step": step, "config": asdict(config)}, tmp)
    os.replace(tmp, out / STATE_NAME)  # atomic: a crash mid-save keeps the previous state


def train_parser(
    source: PairSource,
    model_config: ParserConfig,
    config: TrainParserConfig,
    *,
    on_log: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, float]:
    """Train (or resume) a parser in ``config.out_dir``; returns the final held-out metrics."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    state_path = out / STATE_NAME
    if state_path.exists():
        model = Parser.from_pretrained(out, device=config.device)
        if model.config != model_config:
            raise ParserError(f"{out}: holds a parser of another shape; use a new --out or the same preset")
        state = torch.load(state_path, map_location=config.device, weights_only=True)
        start = int(state["step"])
        log.info("resuming parser training from step %d in %s", start, out)
    else:
        model, state, start = Parser(model_config).to(config.device), None, 0
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    held_out = source(config.eval_pairs, np.random.default_rng([config.seed, 10_000]))
    # Resuming draws fresh pairs (a new stream seed per start step) rather than replaying old ones.
    stream = _PairStream(source, config.batch_size, config.seed * 1_000_003 + start)
    loader = torch.utils.data.DataLoader(
        stream, batch_size=None, num_workers=config.workers, persistent_workers=config.workers > 0
    )
    metrics: dict[str, float] = {}
    step, t0, seen = start, time.perf_counter(), 0
    batches = iter(loader)
    try:
        while step < config.steps:
            batch = {k: v.to(config.device, non_blocking=True) for k, v in next(batches).items()}
            lr = config.lr * _lr_factor(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            losses = parser_loss(model(model.prepare(batch["images"])), batch, model_config.grid)
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            step += 1
            seen += len(batch["images"])
            if step % config.log_every == 0 or step == config.steps:
                record = {k: float(v.detach()) for k, v in losses.items()}
                record |= {"step": step, "lr": lr}
                record["pairs_per_s"] = seen / (time.perf_counter() - t0)
                if step % config.save_every == 0 or step == config.steps:
                    record |= evaluate(model, held_out)
                with (out / METRICS_NAME).open("a") as f:
                    f.write(json.dumps(record) + "\n")
                log.info("step %d loss %.4f %s", step, record["loss"], record.get("button_acc", ""))
                if on_log is not None:
                    on_log(record)
            if step % config.save_every == 0:
                _save(model, optimizer, step, config)
    finally:
        if step > start:
            _save(model, optimizer, step, config)
    metrics = evaluate(model, held_out)
    model.eval()
    return metrics
