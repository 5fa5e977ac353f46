"""Evaluation: tasks on real games judged by programs, the parallel runner, and reports.

* :class:`Task` (a game profile, a start state, a time limit, a success check, a category) and the
  suite: :func:`all_tasks`, :func:`select_tasks`;
* :func:`run_eval` with :class:`EvalConfig` plays every (task, seed) episode of one policy and writes
  :class:`EpisodeResult` rows (:func:`run_evals`: several policies sharing one pool of processes);
  :func:`write_report` turns a run directory into rates with 95 % Wilson intervals, a bar chart and a
  markdown summary.

Names are imported lazily so ``import pixelpad.eval`` stays cheap.
"""

from __future__ import annotations

from pixelpad._lazy import lazy_getattr

_EXPORTS = {
    "Task": "pixelpad.eval.task",
    "Judge": "pixelpad.eval.task",
    "CATEGORIES": "pixelpad.eval.task",
    "all_tasks": "pixelpad.eval.registry",
    "select_tasks": "pixelpad.eval.registry",
    "EvalConfig": "pixelpad.eval.runner",
    "EpisodeResult": "pixelpad.eval.runner",
    "run_eval": "pixelpad.eval.runner",
    "run_evals": "pixelpad.eval.runner",
    "play_episode": "pixelpad.eval.runner",
    "read_results": "pixelpad.eval.runner",
    "load_env_factory": "pixelpad.eval.runner",
    "chunk_stride": "pixelpad.eval.agents",
    "write_report": "pixelpad.eval.report",
    "summarize": "pixelpad.eval.report",
    "wilson_interval": "pixelpad.eval.stats",
    "EvalError": "pixelpad.eval.errors",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
