"""Cached pipeline stages: a rerun after an interruption resumes at the first unfinished stage.

Each stage owns a folder under the run directory. When its function returns, the stage writes
``<folder>/stage.json`` (atomically) with its summary; a stage whose marker exists is skipped and
its summary is read back. A stage that was interrupted has no marker and runs again; long stages
(extraction, training, evaluation) resume inside themselves through their own manifests and
checkpoints, so little work is repeated.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

StageFn = Callable[[Path, dict[str, dict[str, Any]]], dict[str, Any]]
MARKER = "stage.json"


@dataclass(frozen=True)
class Stage:
    """A named step: ``fn(folder, summaries_of_earlier_stages) -> summary`` (JSON-serialisable)."""

    name: str
    fn: StageFn
    description: str = ""


def read_timing(folder: Path) -> dict[str, Any] | None:
    """``seconds``, ``load_avg`` and ``cpus`` of a finished stage (the last two absent in old markers)."""
    marker = folder / MARKER
    if not marker.is_file():
        return None
    data = json.loads(marker.read_text())
    return {k: data[k] for k in ("seconds", "load_avg", "cpus") if k in data}


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The summary a finished stage left in ``folder``, or None if it has not finished."""
    marker = folder / MARKER
    if not marker.is_file():
        return None
    return json.loads(marker.read_text())["summary"]


def write_marker(folder: Path, summary: dict[str, Any], seconds: float) -> None:
    """The stage's summary, how long it took, and the machine's load average as it ended (1, 5 and 15
    minutes, and the cores there are): on a shared machine a time means little without them."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{MARKER}.tmp"
    marker = {"summary": summary, "seconds": round(seconds, 1),
              "load_avg": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}  # fmt: skip
    tmp.write_text(json.dumps(marker, indent=2) + "\n")
    os.replace(tmp, folder / MARKER)


def run_stages(
    root: Path, stages: list[Stage], *, force: tuple[str, ...] = (), echo: Callable[[str], None] = log.info
) -> dict[str, dict[str, Any]]:
    """Run ``stages`` in order under ``root``, skipping finished ones; returns every stage's summary.

    ``force`` names stages to run again even if finished (their later stages run again too).
    ``echo`` receives one line per stage, so a CLI can show progress without library prints.
    """
    root.mkdir(parents=True, exist_ok=True)
    summaries: dict[str, dict[str, Any]] = {}
    forced = False
    for number, stage in enumerate(stages, 1):
        folder = root / f"{number:02d}-{stage.name}"
        forced = forced or stage.name in force
        cached = None if forced else read_marker(folder)
        label = f"[{number}/{len(stages)}] {stage.name}"
        if cached is not None:
            echo(f"{label}: done earlier (cached in {folder})")
            summaries[stage.name] = cached
            continue
        echo(f"{label}: {stage.description or 'running'} …")
        start = time.monotonic()
        folder.mkdir(parents=True, exist_ok=True)
        summary = stage.fn(folder, summaries)
        seconds = time.monotonic() - start
        write_marker(folder, summary, seconds)
        summaries[stage.name] = summary
        echo(f"{label}: finished in {seconds:.0f} s")
    return summaries
