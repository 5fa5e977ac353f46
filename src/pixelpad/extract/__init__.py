"""From videos with an input overlay to episodes: ``pixelpad extract`` and its engines.

Per video: locate the overlay, read it frame by frame, refine the actions, write the kept segments
as episodes; the outcome of every video goes to a resumable manifest (``DATASET/extract``).
Engines run the same per-video function in-process, on a local process pool, or on Ray Data.

Public names (imported lazily, so ``pixelpad --help`` stays fast):

* :func:`extract` — the whole batch (what ``pixelpad extract`` calls); :class:`ExtractConfig`;
* :class:`VideoExtractor` — the per-video function (build once per process, call per task),
  :func:`make_task`, :func:`video_id_for`;
* :class:`Manifest`, :class:`VideoRecord`, :data:`STATUSES`, :data:`FINAL`;
* :func:`run_engine`, :data:`ENGINES`; errors :class:`ExtractError`, :class:`EngineError`,
  :class:`ManifestError`.
"""

from __future__ import annotations

from pixelpad._lazy import lazy_getattr

_EXPORTS = {
    "extract": "run", "MANIFEST_DIR": "run",
    "ExtractConfig": "pipeline", "VideoExtractor": "pipeline", "make_task": "pipeline",
    "video_id_for": "pipeline", "ExtractError": "pipeline",
    "Manifest": "manifest", "VideoRecord": "manifest", "STATUSES": "manifest", "FINAL": "manifest",
    "ManifestError": "manifest",
    "run_engine": "engines", "ENGINES": "engines", "EngineError": "engines",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
