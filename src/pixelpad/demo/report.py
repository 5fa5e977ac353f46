"""The demo's one page: ``REPORT.md`` at the top of the run directory.

Everything it shows comes from the stages' summaries and the files they wrote; a stage that could
not run is named with its reason instead of a number. The goal of the demo (issue 10) is checked
per task: the policy reaches at least 70 % of its demonstrator's success rate, and its 95 % interval
lies above those of random and no-op.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

GOAL_SHARE = 0.7  # of the demonstrator's success rate


def _rel(path: str | os.PathLike[str], root: Path) -> str:
    return os.path.relpath(path, root)


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _rate(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "–"
    tts = cell.get("mean_time_to_success_s")
    return (
        f"{cell['rate']:.0%} [{cell['low'] * 100:.0f}–{cell['high'] * 100:.0f}] "
        f"({cell['successes']}/{cell['episodes']})" + ("" if tts is None else f", {tts:.1f} s")
    )


def goal_rows(summary: dict[str, Any], policy: str) -> list[tuple[str, str, str, str]]:
    """Per task: (task, share of the demonstrator's rate, beats random and no-op with CIs apart, met)."""
    rows = []
    tasks = summary["tasks"]
    for task, cell in tasks.get(policy, {}).items():
        demo = tasks.get("demonstrator", {}).get(task)
        share = cell["rate"] / demo["rate"] if demo and demo["rate"] > 0 else None
        baselines = [tasks[b][task] for b in ("random", "noop") if task in tasks.get(b, {})]
        apart = all(cell["low"] > b["high"] for b in baselines)
        met = share is not None and share >= GOAL_SHARE and apart
        rows.append((task, "n/a" if share is None else f"{share:.0%}", "yes" if apart else "no",
                     "**yes**" if met else "no"))  # fmt: skip
    return rows


def write_report(root: Path, config: Any, done: dict[str, dict[str, Any]]) -> Path:
    """Write ``root/REPORT.md`` from the stage summaries ``done``; returns its path."""
    lines = ["# pixelpad demo: from overlay videos to an agent playing real games\n"]
    gaps = [f"- **{name}**: {s['missing']}" for name, s in done.items() if "missing" in s]
    if gaps:
        lines += ["## Stages that could not run\n", *gaps, ""]
    lines += _record_section(root, done["record"])
    lines += _extract_section(done["extract"])
    lines += _train_section(root, done["train"])
    lines += _eval_section(root, done["evaluate"])
    lines += _play_section(root, done["play"])
    lines += _timing_section(root, list(done))
    lines += ["## Configuration\n", "```", *_config_lines(config), "```", ""]
    path = root / "REPORT.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _config_lines(config: Any) -> list[str]:
    import dataclasses

    return [f"{k} = {v!r}" for k, v in dataclasses.asdict(config).items()]


def _record_section(root: Path, record: dict[str, Any]) -> list[str]:
    rows = record["videos"]
    games = sorted({r["game"] for r in rows})
    wins = sum(r["status"] == "success" for r in rows)
    lines = [
        '## 1. Recorded "internet videos"\n',
        f"{len(rows)} demonstrations ({record['frames']} frames) of {', '.join(games)}; "
        f"{wins} succeeded at their task. Each is a stream-like H.264 video with a real skin composited "
        "at a random corner, scale and opacity; the true actions are kept aside for scoring only.\n",
        "| video | skin | corner | scale | opacity | kbit/s | frames | demonstrator |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["placement"]
        lines.append(
            f"| [{Path(r['video']).name}]({_rel(r['video'], root)}) | {r['skin']} | {p['corner']} | "
            f"{p['scale']:.2f} | {p['opacity']:.2f} | {r['bitrate'] / 1e3:.0f} | {r['steps']} | "
            f"{r['status']} |"
        )
    return [*lines, ""]


def _extract_section(extract: dict[str, Any]) -> list[str]:
    lines = ["## 2. Extraction (`pixelpad extract`, skins given) vs the true actions\n"]
    if "missing" in extract:
        return [*lines, f"Not run: {extract['missing']}.\n"]
    head = ["| | videos: done / no overlay / too idle / failed | episodes | frames | stick R² | stick MAE | "
            "button accuracy | button F1 (pressed) |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip

    def row(name: str, s: dict[str, Any]) -> str:
        v = s.get("videos")
        videos = " / ".join(str(v[k]) for k in ("done", "no_overlay", "too_idle", "failed")) if v else ""
        return (
            f"| {name} | {videos} | {s['episodes']} | {s['frames']} | {_num(s['stick_r2'])} | "
            f"{_num(s['stick_mae'])} | {_num(s['button_accuracy'])} | {_num(s['button_f1'])} |"
        )

    rows = [row(game, s) for game, s in extract["per_game"].items()]
    note = ("Scored on the controls each skin shows. Stick R² is n/a where the true sticks never move "
            "(the demonstrators play with the d-pad).\n")  # fmt: skip
    return [*lines, *head, *rows, row("**all**", extract["accuracy"]), "", note]


def _train_section(root: Path, train: dict[str, Any]) -> list[str]:
    lines = ["## 3. Behaviour cloning on the extracted episodes\n"]
    if "missing" in train:
        return [*lines, f"Not run: {train['missing']}.\n"]
    metrics = ", ".join(f"{k} = {v:.4g}" for k, v in train.items() if "/" in k and isinstance(v, float))
    lines.append(f"Run: `{_rel(train['run'], root)}`. Final metrics: {metrics}.\n")
    lines += [f"![{Path(f).stem}]({_rel(f, root)})" for f in train["figures"]]
    return [*lines, ""]


def _eval_section(root: Path, evaluation: dict[str, Any]) -> list[str]:
    summary = evaluation["summary"]
    policies = summary["policies"]
    label = evaluation.get("policy_label")
    names = ["policy (trained)" if p == label else p for p in policies]
    lines = [
        "## 4. Playing the tasks\n",
        "Success rate [95 % Wilson interval] (successes/episodes), mean virtual time to success. The "
        "demonstrator's column is its recorded episodes (other seeds, the same task checks).\n",
        "| task | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(policies),
    ]
    tasks = list(dict.fromkeys(t for p in policies for t in summary["tasks"][p]))
    for task in tasks:
        cells = " | ".join(_rate(summary["tasks"][p].get(task)) for p in policies)
        lines.append(f"| {task} | {cells} |")
    lines.append("| **overall** | " + " | ".join(_rate(summary["overall"][p]) for p in policies) + " |")
    lines += ["", f"![success rates]({_rel(evaluation['chart'], root)})", ""]
    if label:
        lines += ["Goal: at least 70 % of the demonstrator's success, and the policy's interval above "
                  "random's and no-op's.\n", "| task | share of demonstrator | CIs apart | goal met |",
                  "|---|---|---|---|"]  # fmt: skip
        lines += [f"| {t} | {s} | {a} | {m} |" for t, s, a, m in goal_rows(summary, label)]
        lines.append("")
    return lines


def _timing_section(root: Path, stages: list[str]) -> list[str]:
    """How long each finished stage took, with the load the machine was under when it ended."""
    from pixelpad.demo.stages import read_timing

    rows, total = [], 0.0
    for number, name in enumerate(stages, 1):
        timing = read_timing(root / f"{number:02d}-{name}")
        if timing is None:
            continue
        total += timing["seconds"]
        load = " / ".join(f"{x:.1f}" for x in timing.get("load_avg", ())) or "n/a"
        rows.append(f"| {name} | {timing['seconds']:.0f} | {load} |")
    if not rows:
        return []
    cpus = os.cpu_count()
    return ["## Stage times\n", f"Wall-clock seconds of each stage (a cached stage keeps the time of the run "
            f"that made it) and the load average (1 / 5 / 15 min) when it ended, on {cpus} cores.\n",
            "| stage | seconds | load average |", "|---|---|---|", *rows, f"| **total** | {total:.0f} | |",
            ""]  # fmt: skip


def _play_section(root: Path, play: dict[str, Any]) -> list[str]:
    lines = ["## 5. The agent playing (game | predicted controller and chunk)\n"]
    if "missing" in play:
        return [*lines, f"Not run: {play['missing']}.\n"]
    links = [f"- {task}: [{_rel(v, root)}]({_rel(v, root)})" for task, v in play["videos"].items()]
    return [*lines, *links, ""]
