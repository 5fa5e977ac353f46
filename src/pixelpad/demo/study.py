"""``pixelpad study transfer``: does pre-training on other games help on a game never seen?

The paper's transfer result at small scale. One game is held out; a policy is pre-trained on the
other games' extracted episodes; then, with the same small budget of held-out-game data and the
same number of steps, one policy is fine-tuned from the pre-trained one and one is trained from
scratch, for each of several training seeds; both play the held-out game's tasks over evaluation
seeds. The report gives each arm's success rate (95 % Wilson interval), the relative improvement
``p_finetune / p_scratch - 1`` with a bootstrap 95 % interval (resampling training seeds, then
episodes within each), and the held-out validation loss of both arms, which is less noisy than
success at this scale.

The data stages (record, extract) are the demo's own (:mod:`pixelpad.demo.pipeline`); ``data_from``
reuses a finished demo run's videos and datasets instead of recording again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixelpad.demo.pipeline import (
    DemoConfig,
    DemoError,
    Done,
    evaluate,
    extract_stage,
    missing,
    record_stage,
    task_list,
    train_policy,
)
from pixelpad.demo.stages import Stage, read_marker, run_stages

ARMS = ("finetune", "scratch")


@dataclass(frozen=True)
class StudyConfig:
    """The study's sizes; the defaults run in minutes on 2 cores given a finished demo's data.

    Attributes:
        held_out: the game left out of pre-training (a simulator profile name).
        data: the demo configuration whose record/extract stages make the data (its tasks cover
            every game; its training sizes are the study's batch size and learning rate).
        data_from: a finished ``pixelpad demo`` run directory to take the datasets from.
        pretrain_steps: steps on the other games.
        budget_steps: steps of both arms on the held-out game (the same small compute budget).
        train_seeds: one fine-tuned and one from-scratch policy per seed.
        eval_seeds: evaluation episodes per held-out task and trained policy.
    """

    held_out: str = "supertux"
    data: DemoConfig = field(default_factory=DemoConfig)
    data_from: str | None = None
    pretrain_steps: int = 600
    budget_steps: int = 200
    train_seeds: tuple[int, ...] = (0, 1, 2)
    eval_seeds: tuple[int, ...] = tuple(range(10))
    bootstrap: int = 2000

    @classmethod
    def toy(cls, data_from: str | None = None) -> StudyConfig:
        """The demo's toy data (or a finished toy demo's), two steps per training, one episode."""
        return cls(data=DemoConfig.toy(), data_from=data_from, pretrain_steps=2, budget_steps=2,
                   train_seeds=(0,), eval_seeds=(0,), bootstrap=200)  # fmt: skip


def _data_stage(config: StudyConfig, name: str, make: Callable[[DemoConfig], Any]) -> Callable:
    """The demo's stage ``name``, or its finished summary from ``config.data_from``."""

    def run(folder: Path, done: Done) -> dict[str, Any]:
        if config.data_from:
            number = {"record": "01", "extract": "02"}[name]
            summary = read_marker(Path(config.data_from) / f"{number}-{name}")
            if summary is None:
                raise DemoError(f"{config.data_from} has no finished {name} stage; run `pixelpad demo` first")
            return summary
        return make(config.data)(folder, done)

    return run


def _split(done: Done, held_out: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    datasets = done["extract"]["datasets"]
    if held_out not in datasets:
        raise DemoError(f"no extracted episodes of {held_out!r}; games with data: {', '.join(datasets)}")
    others = tuple(path for game, path in datasets.items() if game != held_out)
    if not others:
        raise DemoError(f"pre-training needs a game besides {held_out!r}; the data has only {list(datasets)}")
    return others, (datasets[held_out],)


def study_stages(config: StudyConfig) -> list[Stage]:
    held_tasks = [t for t in task_list(config.data) if t.game == config.held_out]

    def pretrain(folder: Path, done: Done) -> dict[str, Any]:
        why = missing(done, "extract")
        if why:
            return {"missing": why}
        others, _ = _split(done, config.held_out)
        return train_policy(others, folder, config.data, steps=config.pretrain_steps)

    def budget(folder: Path, done: Done) -> dict[str, Any]:
        why = missing(done, "pretrain")
        if why:
            return {"missing": why}
        _, held = _split(done, config.held_out)
        runs = {}
        for arm in ARMS:
            for seed in config.train_seeds:
                init = done["pretrain"]["run"] if arm == "finetune" else None
                runs[f"{arm}-seed{seed}"] = train_policy(
                    held, folder / f"{arm}-seed{seed}", config.data, steps=config.budget_steps,
                    init_from=init, seed=seed,
                )  # fmt: skip
        return {"runs": runs}

    def play(folder: Path, done: Done) -> dict[str, Any]:
        why = missing(done, "budget")
        if why:
            return {"missing": why}
        if not held_tasks:
            raise DemoError(f"none of the tasks {config.data.tasks} is a {config.held_out} task")
        for name, run in done["budget"]["runs"].items():
            evaluate([run["policy"]], held_tasks, folder / name, config.data, seeds=config.eval_seeds)
        return {"results": summarize_study(folder, done["budget"]["runs"], config)}

    return [
        Stage("record", _data_stage(config, "record", record_stage), "demonstrations (the demo's stage)"),
        Stage("extract", _data_stage(config, "extract", extract_stage), "extraction (the demo's stage)"),
        Stage("pretrain", pretrain, f"pre-train on every game but {config.held_out}"),
        Stage("budget", budget, "fine-tune vs from scratch on the held-out game, same steps"),
        Stage("evaluate", play, f"both arms play the {config.held_out} tasks"),
    ]


def _results(folder: Path) -> list[Any]:
    """The episode results of the one policy evaluated under ``folder``."""
    from pixelpad.eval import read_results

    (results,) = [read_results(p) for p in sorted(folder.glob("*/episodes.jsonl"))]
    return results


def summarize_study(folder: Path, runs: dict[str, dict[str, Any]], config: StudyConfig) -> dict[str, Any]:
    """Per arm: success rate and interval, mean final validation loss; and the relative improvement."""
    from pixelpad.eval import wilson_interval

    results = {arm: [_results(folder / f"{arm}-seed{s}") for s in config.train_seeds] for arm in ARMS}
    per_seed = {arm: [np.array([r.success for r in rs], float) for rs in results[arm]] for arm in ARMS}
    arms = {}
    for arm in ARMS:
        wins = np.concatenate(per_seed[arm])
        low, high = wilson_interval(int(wins.sum()), len(wins))
        losses = [runs[f"{arm}-seed{s}"].get("val/loss") for s in config.train_seeds]
        losses = [v for v in losses if v is not None]
        times = [r.time_to_success_s for rs in results[arm] for r in rs if r.time_to_success_s is not None]
        arms[arm] = {"successes": int(wins.sum()), "episodes": len(wins), "rate": float(wins.mean()),
                     "low": low, "high": high, "val_loss": float(np.mean(losses)) if losses else None,
                     "val_losses": losses,
                     "mean_time_to_success_s": float(np.mean(times)) if times else None}  # fmt: skip
    return {"arms": arms, **relative_improvement(per_seed["finetune"], per_seed["scratch"], config.bootstrap)}


def relative_improvement(
    finetune: list[np.ndarray], scratch: list[np.ndarray], reps: int, seed: int = 0
) -> dict[str, Any]:
    """``p_ft / p_scratch - 1`` and a 95 % bootstrap interval; seeds, then episodes, are resampled.

    Resamples where the scratch arm has no success leave the ratio undefined; their share is
    reported (``undefined_share``), and the point estimate is None when scratch never succeeded.
    """
    rng = np.random.default_rng(seed)

    def rate(groups: list[np.ndarray]) -> float:
        picked = [groups[i] for i in rng.integers(len(groups), size=len(groups))]
        return float(np.mean(np.concatenate([g[rng.integers(len(g), size=len(g))] for g in picked])))

    p_ft, p_sc = float(np.mean(np.concatenate(finetune))), float(np.mean(np.concatenate(scratch)))
    draws = [(rate(finetune), rate(scratch)) for _ in range(reps)]
    ratios = np.array([f / s - 1 for f, s in draws if s > 0])
    diffs = np.array([f - s for f, s in draws])
    return {
        "relative_improvement": p_ft / p_sc - 1 if p_sc > 0 else None,
        "relative_ci": [float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))]
        if len(ratios) else None,
        "undefined_share": 1 - len(ratios) / reps,
        "difference": p_ft - p_sc,
        "difference_ci": [float(np.quantile(diffs, 0.025)), float(np.quantile(diffs, 0.975))],
    }  # fmt: skip


def write_study_report(root: Path, config: StudyConfig, done: Done) -> Path:
    """``root/STUDY.md``: the arms, the relative improvement, or which stage is missing."""
    lines = [f"# Transfer study: held-out game {config.held_out}\n"]
    gaps = [f"- **{name}**: {s['missing']}" for name, s in done.items() if "missing" in s]
    if gaps:
        lines += ["Stages that could not run:\n", *gaps, ""]
    else:
        res = done["evaluate"]["results"]
        lines += [
            f"Pre-trained {config.pretrain_steps} steps on the other games; then {config.budget_steps} steps "
            f"on the held-out game's extracted episodes per arm, training seeds {list(config.train_seeds)}, "
            f"evaluation seeds {list(config.eval_seeds)}.\n",
            "| arm | success [95 % Wilson] | mean time to success | held-out val loss (per seed) |",
            "|---|---|---|---|",
        ]  # fmt: skip
        for arm, a in res["arms"].items():
            loss = "n/a" if a["val_loss"] is None else f"{a['val_loss']:.4f}"
            seeds = ", ".join(f"{v:.4f}" for v in a.get("val_losses", []))
            tts = "n/a" if a.get("mean_time_to_success_s") is None else f"{a['mean_time_to_success_s']:.1f} s"
            lines.append(f"| {arm} | {a['rate']:.0%} [{a['low'] * 100:.0f}–{a['high'] * 100:.0f}] "
                         f"({a['successes']}/{a['episodes']}) | {tts} | {loss} ({seeds}) |")  # fmt: skip
        rel, ci = res["relative_improvement"], res["relative_ci"]
        rel_text = "undefined (scratch never succeeded)" if rel is None else f"{rel:+.0%}"
        ci_text = "n/a" if ci is None else f"[{ci[0]:+.0%}, {ci[1]:+.0%}]"
        d, dci = res["difference"], res["difference_ci"]
        lines += ["", f"Relative improvement of fine-tuning over scratch: {rel_text}, bootstrap 95 % "
                  f"{ci_text} ({res['undefined_share']:.0%} of resamples undefined). Difference in success "
                  f"rate: {d:+.0%} [{dci[0]:+.0%}, {dci[1]:+.0%}].\n"]  # fmt: skip
    lines += ["```", *(f"{k} = {v!r}" for k, v in dataclasses.asdict(config).items()), "```"]
    path = root / "STUDY.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_study(
    out: Path, config: StudyConfig = StudyConfig(), *, force: tuple[str, ...] = (), echo=print
) -> dict[str, Any]:
    """Run (or resume) the transfer study under ``out``; writes ``out/STUDY.md``."""
    out = Path(out)
    done = run_stages(out, study_stages(config), force=force, echo=echo)
    path = write_study_report(out, config, done)
    (out / "study.json").write_text(json.dumps(done.get("evaluate", {}), indent=2))
    return {"report": str(path), **done}
