"""From videos with an input overlay to episodes: ``pixelpad extract`` and its engines.

Per video: locate the overlay, read it frame by frame, refine the actions, write an episode; the
outcome of every video goes to a resumable manifest. Engines run the same per-video function
in-process, on a local process pool, or on Ray Data.
"""

from pixelpad.extract.engines import ENGINES, EngineError, run_engine
from pixelpad.extract.manifest import FINAL, STATUSES, Manifest, ManifestError, VideoRecord

__all__ = [
    "ENGINES",
    "FINAL",
    "STATUSES",
    "EngineError",
    "Manifest",
    "ManifestError",
    "VideoRecord",
    "run_engine",
]
