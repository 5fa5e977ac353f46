"""Reports: success rates per task and category with 95 % Wilson intervals, a bar chart, a summary.

A run directory holds one folder per policy (``out/<label>/episodes.jsonl``); the report covers all of
them, so running ``pixelpad eval`` with several policies into one ``--out`` gives one chart that
compares them. Errored episodes count as failures in the rates (a policy that crashes the game has not
solved the task) and are listed separately so they are never hidden.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from pixelpad.eval.errors import EvalError
from pixelpad.eval.runner import EpisodeResult, read_results
from pixelpad.eval.stats import wilson_interval
from pixelpad.eval.task import CATEGORIES


@dataclasses.dataclass(frozen=True)
class Rate:
    """``successes`` of ``episodes`` with the 95 % Wilson interval; ``errors`` are among the episodes."""

    successes: int
    episodes: int
    errors: int
    low: float
    high: float
    mean_time_to_success_s: float | None

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    def cell(self) -> str:
        """``"70% [40–89] (7/10)"`` for the markdown table."""
        text = (
            f"{self.rate:.0%} [{self.low * 100:.0f}–{self.high * 100:.0f}] ({self.successes}/{self.episodes})"
        )
        return text + (f", {self.errors} err" if self.errors else "")


def rate_of(results: Sequence[EpisodeResult]) -> Rate:
    wins = [r for r in results if r.success]
    low, high = wilson_interval(len(wins), len(results))
    times = [r.time_to_success_s for r in wins if r.time_to_success_s is not None]
    mean_tts = sum(times) / len(times) if times else None
    errors = sum(r.status == "error" for r in results)
    return Rate(len(wins), len(results), errors, low, high, mean_tts)


@dataclasses.dataclass(frozen=True)
class Summary:
    """Rates per policy: ``tasks[policy][task]``, ``categories[policy][category]``, ``overall[policy]``."""

    policies: tuple[str, ...]
    task_names: tuple[str, ...]
    task_category: dict[str, str]
    tasks: dict[str, dict[str, Rate]]
    categories: dict[str, dict[str, Rate]]
    overall: dict[str, Rate]
    errors: tuple[EpisodeResult, ...]


def summarize(results: Sequence[EpisodeResult]) -> Summary:
    """Group episode results by policy, task and category."""
    if not results:
        raise EvalError("no episode results to report on")
    policies = tuple(dict.fromkeys(r.policy for r in results))
    task_names = tuple(dict.fromkeys(r.task for r in results))
    task_category = {r.task: r.category for r in results}
    tasks, categories, overall = {}, {}, {}
    for policy in policies:
        mine = [r for r in results if r.policy == policy]
        tasks[policy] = {t: rate_of([r for r in mine if r.task == t]) for t in task_names if any(
            r.task == t for r in mine)}  # fmt: skip
        categories[policy] = {c: rate_of([r for r in mine if r.category == c]) for c in CATEGORIES if any(
            r.category == c for r in mine)}  # fmt: skip
        overall[policy] = rate_of(mine)
    errors = tuple(r for r in results if r.status == "error")
    return Summary(policies, task_names, task_category, tasks, categories, overall, errors)


def load_run(out: Path) -> list[EpisodeResult]:
    """Every policy's results under a run directory."""
    files = sorted(out.glob("*/episodes.jsonl"))
    if not files:
        raise EvalError(f"{out}: no */episodes.jsonl here; run `pixelpad eval --out {out}` first")
    return [r for f in files for r in read_results(f)]


def markdown(summary: Summary) -> str:
    """The summary as markdown: tasks x policies, categories x policies, overall, errors."""
    head = "| | " + " | ".join(summary.policies) + " |\n|---|" + "---|" * len(summary.policies) + "\n"

    def row(name: str, rates: dict[str, dict[str, Rate]], key: str) -> str:
        cells = [rates[p][key].cell() if key in rates[p] else "–" for p in summary.policies]
        return f"| {name} | " + " | ".join(cells) + " |\n"

    lines = ["# Evaluation report\n", "Success rate [95 % Wilson interval] (successes/episodes).\n",
             "## Tasks\n", head]  # fmt: skip
    lines += [row(f"{t} ({summary.task_category[t]})", summary.tasks, t) for t in summary.task_names]
    lines += ["\n## Categories\n", head]
    lines += [row(c, summary.categories, c) for c in CATEGORIES if any(c in summary.categories[p] for p in
              summary.policies)]  # fmt: skip
    lines += [row("**overall**", {p: {"all": summary.overall[p]} for p in summary.policies}, "all")]
    if summary.errors:
        lines += ["\n## Errored episodes (counted as failures)\n"]
        lines += [f"- {r.policy} / {r.task} / seed {r.seed}: {r.error}\n" for r in summary.errors]
    return "".join(lines)


def bar_chart(summary: Summary, path: Path) -> None:
    """Grouped bars: one group per task, one bar per policy, 95 % Wilson intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n_tasks, n_pol = len(summary.task_names), len(summary.policies)
    width = 0.8 / n_pol
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * n_tasks + 2), 4.0))
    for j, policy in enumerate(summary.policies):
        rates = [summary.tasks[policy].get(t) for t in summary.task_names]
        values = np.array([r.rate if r else np.nan for r in rates])
        low = np.array([r.rate - r.low if r else 0.0 for r in rates])
        high = np.array([r.high - r.rate if r else 0.0 for r in rates])
        x = np.arange(n_tasks) + (j - (n_pol - 1) / 2) * width
        ax.bar(x, values, width, yerr=np.stack([low, high]), capsize=2, label=policy)
    ax.set_xticks(np.arange(n_tasks), summary.task_names, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success rate (95 % CI)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(out: Path) -> Summary:
    """Read every policy's results under ``out`` and write ``report.md``, ``summary.json`` and
    ``success_rates.png`` there."""
    summary = summarize(load_run(out))
    (out / "report.md").write_text(markdown(summary))
    as_json = {
        "policies": list(summary.policies),
        "tasks": {p: {t: _rate_json(r) for t, r in v.items()} for p, v in summary.tasks.items()},
        "categories": {p: {c: _rate_json(r) for c, r in v.items()} for p, v in summary.categories.items()},
        "overall": {p: _rate_json(r) for p, r in summary.overall.items()},
    }
    (out / "summary.json").write_text(json.dumps(as_json, indent=2, sort_keys=True))
    bar_chart(summary, out / "success_rates.png")
    return summary


def _rate_json(rate: Rate) -> dict[str, float | int | None]:
    return {**dataclasses.asdict(rate), "rate": rate.rate}
