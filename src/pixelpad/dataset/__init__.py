"""Episodes on disk: the LeRobot v3.0 layout written and read with pyarrow + PyAV.

Public names (imported lazily, so ``import pixelpad.dataset`` stays cheap):

* :class:`EpisodeWriter` — append episodes atomically (a crash loses only the episode in flight);
* :class:`EpisodeStore` — read episode metadata, actions (bit-exact) and frames;
* :class:`ChunkDataset`, :class:`SegmentSampler` — the torch ``Dataset`` of (frame, action chunk)
  and the sampler that keeps its decoding sequential;
* :func:`import_nitrogen_shard` — the public NitroGen action shards paired with local videos;
* :func:`make_toy_dataset` — a small synthetic dataset (shapes moved by the actions) for demos/tests;
* :func:`render_episode` — an episode as an MP4 with a drawn gamepad, plus a PNG action timeline;
* :class:`DatasetError` — every malformed dataset, file or argument.
"""

from __future__ import annotations

from pixelpad._lazy import lazy_getattr

_EXPORTS = {
    "EpisodeWriter": "pixelpad.dataset.writer",
    "EpisodeStore": "pixelpad.dataset.store",
    "ChunkDataset": "pixelpad.dataset.chunks",
    "SegmentSampler": "pixelpad.dataset.chunks",
    "import_nitrogen_shard": "pixelpad.dataset.nitrogen",
    "ImportReport": "pixelpad.dataset.nitrogen",
    "make_toy_dataset": "pixelpad.dataset.toy",
    "render_episode": "pixelpad.dataset.view",
    "DatasetError": "pixelpad.dataset.layout",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
