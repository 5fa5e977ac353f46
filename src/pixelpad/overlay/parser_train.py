"""Training the overlay parser on synthetic pairs: resumable, CPU or GPU, the paper's recipe.

The data is endless: a *pair source* draws labelled pairs on demand (``source(n, rng) -> batch``,
see :class:`PairSource`), so there are no epochs, only steps. Worker processes of a torch
``DataLoader`` each call the source with their own seed. Recipe (NitroGen): AdamW, lr 1e-4, weight
decay 0.1, batch 256; here with a linear warm-up and a cosine decay to 10 %, the button loss weighted
x10 against the sticks' (see :func:`pixelpad.overlay.parser.parser_loss`), and on GPUs a bfloat16
autocast of the forward pass. Named recipes (the paper's; a narrowed one that learns on one CPU
thread) live with the command, :mod:`pixelpad.overlay.parser_cli`.

What learning looks like (narrowed task, small MiT, batch 32, lr 2e-3): buttons leave the prior
within ~100 steps; sticks sit at R² ~0 for a few hundred steps (the cap moves only ±5 px in a
crop that itself moves ±8 px), then climb. A run stopped before ~500 steps shows no stick skill.

A run directory holds ``parser_config.json`` + ``parser.safetensors`` (the latest weights, the
format :meth:`Parser.from_pretrained` reads), ``train_state.pt`` (optimiser, step, config) and
``metrics.jsonl`` (losses every ``log_every`` steps; held-out scores next to the prior's every
``save_every``). Starting again with the same directory resumes where it stopped.
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
    button_weight: float = 10.0  # button BCE vs stick CE: see parser_loss; at 1 buttons stay at the prior
    stick_weight: float = 1.0
    device: str = "cpu"
    bf16: bool = False  # bfloat16 autocast of the forward pass (GPUs; the loss and weights stay float32)
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
    """The parser's held-out scores on ``batch`` (a :class:`PairSource` batch); see :func:`scores`."""
    was_training = model.training
    model.eval()
    preds = [model.predict(batch["images"][i : i + chunk]) for i in range(0, len(batch["images"]), chunk)]
    model.train(was_training)
    return scores({k: np.concatenate([q[k] for q in preds]) for k in preds[0]}, batch)


def scores(pred: dict[str, np.ndarray], batch: dict[str, np.ndarray]) -> dict[str, float]:
    """Button accuracy / balanced accuracy / F1, stick R² and visibility accuracy, next to a prior's.

    The prior is the best constant: each button's majority state in ``batch`` and each stick axis's
    mean, so its stick R² is 0 by definition. Buttons are mostly released, so the majority prior
    already scores ~0.95 accuracy: balanced accuracy (mean of the pressed and released recalls, 0.5
    for any constant) and F1 of "pressed" pooled over every known button (0 for "never pressed")
    say whether buttons are read at all. Only controls the skin shows, on visible overlays, count.

    Args:
        pred: ``buttons (N, 17)`` and ``visible (N,)`` probabilities, ``sticks (N, 4)``.
        batch: labels as a :class:`PairSource` returns them.
    """
    visible = batch["visible"].astype(bool)
    known_b = batch["button_known"].astype(bool) & visible[:, None]
    truth_b = batch["buttons"] > 0.5
    majority = np.broadcast_to((truth_b & known_b).sum(0) * 2 > known_b.sum(0), truth_b.shape)
    known_s = np.repeat(batch["stick_known"].astype(bool) & visible[:, None], 2, axis=1)
    truth_s = batch["sticks"]
    mean_s = np.array([truth_s[known_s[:, j], j].mean() if known_s[:, j].any() else 0.0 for j in range(4)])
    total = ((truth_s - mean_s) ** 2)[known_s].sum()
    resid = ((pred["sticks"] - truth_s) ** 2)[known_s].sum()
    said = pred["buttons"] > 0.5
    out = {}
    for name, guess in (("", said), ("_prior", majority)):
        out |= {f"button_{k}{name}": v for k, v in _button_scores(guess, truth_b, known_b).items()}
    return out | {
        "stick_r2": float(1 - resid / max(total, 1e-9)),
        "visible_acc": float(((pred["visible"] > 0.5) == visible).mean()),
    }


def _button_scores(said: np.ndarray, truth: np.ndarray, known: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy and pooled F1 of the pressed class over the ``known`` entries."""
    s, t = said[known], truth[known]
    tp, fp, fn = (s & t).sum(), (s & ~t).sum(), (~s & t).sum()
    recalls = [float((s == t)[t == v].mean()) for v in (True, False) if (t == v).any()]
    return {
        "acc": float((s == t).mean()) if len(s) else float("nan"),
        "balanced_acc": float(np.mean(recalls)) if recalls else float("nan"),
        "f1": float(2 * tp / max(2 * tp + fp + fn, 1)),
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
        stream,
        batch_size=None,
        num_workers=config.workers,
        persistent_workers=config.workers > 0,
        pin_memory=config.device.startswith("cuda"),
    )
    autocast = torch.autocast(torch.device(config.device).type, dtype=torch.bfloat16, enabled=config.bf16)
    step, t0, seen = start, time.perf_counter(), 0
    batches = iter(loader)
    try:
        while step < config.steps:
            batch = {k: v.to(config.device, non_blocking=True) for k, v in next(batches).items()}
            lr = config.lr * _lr_factor(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with autocast:
                logits = model(model.prepare(batch["images"]))
            losses = parser_loss(logits, batch, model_config.grid, config.button_weight, config.stick_weight)
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
    model.eval()
    return evaluate(model, held_out)
