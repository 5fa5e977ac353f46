"""How close ChunkDataset gets to bare decoding speed.

Figure: samples/s of ``ChunkDataset`` (frame + action chunk + mask, shuffled by ``SegmentSampler``,
cold cache) divided by frames/s of a bare PyAV decode (to RGB arrays) of the same video files, both
measured in the same run, best of ``--repeats``. 1.0 means the loader costs nothing beyond decoding;
the naive loader (one seek + decode per sample, via ``EpisodeStore.frames``) is shown for contrast.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import av
import numpy as np

from pixelpad.dataset import ChunkDataset, EpisodeStore, SegmentSampler, make_toy_dataset


def bare_decode_fps(videos: list[Path]) -> float:
    """Frames/s of decoding every frame of ``videos`` to RGB arrays with plain PyAV."""
    start, frames = time.perf_counter(), 0
    for path in videos:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                frame.to_ndarray(format="rgb24")
                frames += 1
    return frames / (time.perf_counter() - start)


def dataset_sps(root: Path, image_size: int) -> float:
    """Samples/s of one shuffled epoch of a fresh ChunkDataset."""
    ds = ChunkDataset(root, image_size=image_size)
    order = list(SegmentSampler(ds, window=8, seed=0))
    start = time.perf_counter()
    for i in order:
        ds[i]
    return len(order) / (time.perf_counter() - start)


def naive_sps(root: Path, samples: int) -> float:
    """Samples/s of the obvious loader: seek and decode one frame per sample."""
    store = EpisodeStore(root)
    rng = np.random.default_rng(0)
    picks = [
        (e, int(rng.integers(store.episodes[e]["length"])))
        for e in rng.integers(store.num_episodes, size=samples)
    ]
    start = time.perf_counter()
    for episode, t in picks:
        store.frames(episode, t, t + 1)
        store.actions(episode)[t : t + 16]
    return samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--length", type=int, default=200, help="frames per episode")
    parser.add_argument("--size", type=int, default=256, help="stored (and model) frame size, square")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "toy"
        make_toy_dataset(
            root, episodes=args.episodes, length=args.length, size=(args.size, args.size), fps=30
        )
        videos = sorted((root / "videos").rglob("*.mp4"))
        frames = args.episodes * args.length
        bare, loader = [], []
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            bare.append(bare_decode_fps(videos))
            loader.append(dataset_sps(root, args.size))
        naive = naive_sps(root, samples=min(100, frames))
    print(f"dataset: {args.episodes} episodes x {args.length} frames, {args.size}x{args.size}, H.264")
    print(f"bare PyAV decode:          {max(bare):8.1f} frames/s")
    print(f"ChunkDataset (sampler):    {max(loader):8.1f} samples/s")
    print(f"naive seek-per-sample:     {naive:8.1f} samples/s")
    print(f"ratio ChunkDataset / bare decode: {max(loader) / max(bare):.2f}")
    print(f"ratio naive / bare decode:        {naive / max(bare):.2f}")


if __name__ == "__main__":
    main()
