"""The training view of episodes: (frame at t, action chunk t .. t + horizon - 1, padding mask).

Decode strategy (why this is not one seek per sample). Episodes are cut into *segments* of
``segment_frames`` consecutive frames. The first access to a segment decodes it in one go (one seek
to the key frame at its start — the writer's GOP divides the default segment length, so no frame is
wasted — then sequential decoding), masks the overlay box, resizes every frame to ``image_size`` and
keeps the ``(segment_frames, H, W, 3)`` uint8 block in a per-process LRU cache bounded by
``cache_mb``. Later samples from the same segment are a memory copy.

That pays off when the sample order revisits segments while they are cached, which is what
:class:`SegmentSampler` does: it shuffles the segments, takes them ``window`` at a time and shuffles
the samples inside each window, so every segment is decoded once per epoch per worker, while a
batch still mixes ``window`` different moments from different episodes. Keep
``window * segment_frames * H * W * 3`` bytes below ``cache_mb``. With ``num_workers > 1`` the
DataLoader deals batches round-robin, so each worker may decode each segment of a window once: use
fewer, larger-window workers rather than many. A plain random sampler works too, but then almost
every sample misses the cache and decodes a whole segment.

Measured by ``benchmarks/dataset_loader.py`` (256x256 frames, 2 shared cores): 0.4-0.5x the frame
rate of a bare PyAV decode of the same files, against 0.07-0.15x for one seek per sample.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from pixelpad import video
from pixelpad.actions import ACTION_DIM, DEFAULT_HORIZON
from pixelpad.dataset import layout as L
from pixelpad.dataset.store import EpisodeStore

ActionTransform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class _Episode:
    """Where one episode's frames are; everything a worker needs, picklable."""

    video: Path
    begin: float  # seconds into the video file
    fps: float
    length: int
    overlay_box: tuple[int, int, int, int] | None


class ChunkDataset(Dataset):
    """``(frame, action chunk)`` samples from one or more datasets; one sample per stored frame.

    Args:
        root_or_roots: a dataset directory or a list of them (episodes are numbered across all of
            them in order: the first root's episodes first).
        image_size: output frame size, an int (square) or ``(height, width)``; frames are squashed.
        horizon: actions per chunk (T).
        mask_overlay: black out each episode's overlay box (if recorded) before resizing, so the
            policy cannot read the answer off the input overlay.
        episodes: global episode indices to use (default: all).
        action_transform: applied to the valid part ``(n <= T, 21)`` of each chunk, before padding.
        segment_frames: frames decoded together and cached as one unit (see module docstring).
        cache_mb: bound of the per-process frame cache.

    ``dataset[i]`` is a dict: ``frame`` uint8 tensor ``(H, W, 3)``, ``actions`` float32 ``(T, 21)``,
    ``action_mask`` bool ``(T,)`` (False on the zero padding past the episode's end), ``episode``
    int, ``t`` int (frame index in the episode).
    """

    def __init__(
        self,
        root_or_roots: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        image_size: int | tuple[int, int] = 256,
        horizon: int = DEFAULT_HORIZON,
        mask_overlay: bool = True,
        episodes: Sequence[int] | None = None,
        action_transform: ActionTransform | None = None,
        segment_frames: int = 64,
        cache_mb: float = 512.0,
    ) -> None:
        roots = [root_or_roots] if isinstance(root_or_roots, str | os.PathLike) else list(root_or_roots)
        if not roots:
            raise L.DatasetError("ChunkDataset needs at least one dataset root")
        if horizon < 1 or segment_frames < 1:
            raise L.DatasetError(f"horizon and segment_frames must be >= 1, got {horizon}, {segment_frames}")
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.horizon = horizon
        self.mask_overlay = mask_overlay
        self.action_transform = action_transform
        self.segment_frames = segment_frames
        self.cache_bytes = int(cache_mb * 2**20)

        all_episodes: list[_Episode] = []
        all_actions: list[np.ndarray] = []
        for root in roots:
            store = EpisodeStore(root)
            for ep in store.episodes:
                path, begin, _ = store.video_location(ep["index"])
                all_episodes.append(_Episode(path, begin, store.fps, ep["length"], ep["overlay_box"]))
                all_actions.append(store.actions(ep["index"]))
        selected = list(range(len(all_episodes))) if episodes is None else [int(e) for e in episodes]
        bad = [e for e in selected if not 0 <= e < len(all_episodes)]
        if bad:
            raise L.DatasetError(f"episodes {bad} do not exist ({len(all_episodes)} episodes in {roots})")
        self.episode_ids = np.asarray(selected, dtype=np.int64)
        self._episodes = [all_episodes[e] for e in selected]
        self._actions = [all_actions[e] for e in selected]
        lengths = np.array([ep.length for ep in self._episodes], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(lengths)])  # sample index of each episode's frame 0
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cached_bytes = 0
        self._spare: np.ndarray | None = None  # an evicted block's buffer, reused by the next decode

    def __len__(self) -> int:
        return int(self._starts[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """(position in the selected episodes, frame t) of sample ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range (dataset has {len(self)})")
        pos = int(np.searchsorted(self._starts, index, side="right")) - 1
        return pos, index - int(self._starts[pos])

    def segments(self) -> list[range]:
        """The sample indices of every segment, in storage order (what :class:`SegmentSampler` shuffles)."""
        out = []
        for pos, ep in enumerate(self._episodes):
            base = int(self._starts[pos])
            for s0 in range(0, ep.length, self.segment_frames):
                out.append(range(base + s0, base + min(ep.length, s0 + self.segment_frames)))
        return out

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        pos, t = self.locate(index)
        seg = t // self.segment_frames
        block = self._segment(pos, seg)
        frame = torch.from_numpy(block[t - seg * self.segment_frames].copy())
        acts = self._actions[pos][t : t + self.horizon]
        if self.action_transform is not None:
            acts = np.asarray(self.action_transform(acts), dtype=np.float32)
        chunk = np.zeros((self.horizon, ACTION_DIM), dtype=np.float32)
        chunk[: len(acts)] = acts
        mask = np.zeros(self.horizon, dtype=bool)
        mask[: len(acts)] = True
        return {
            "frame": frame,
            "actions": torch.from_numpy(chunk),
            "action_mask": torch.from_numpy(mask),
            "episode": int(self.episode_ids[pos]),
            "t": t,
        }

    def _segment(self, pos: int, seg: int) -> np.ndarray:
        """``(n, H, W, 3)`` uint8 frames of one segment: from the cache, or decoded once and cached.

        Cached blocks are full ``(segment_frames, H, W, 3)`` buffers (a short last segment uses the
        front of one); an evicted block's buffer is reused for the next decode, because touching
        fresh memory (page faults) costs more than decoding here.
        """
        key = (pos, seg)
        block = self._cache.get(key)
        if block is not None:
            self._cache.move_to_end(key)
            return block
        buffer, self._spare = self._spare, None
        if buffer is None:
            buffer = np.empty((self.segment_frames, *self.image_size, 3), dtype=np.uint8)
        block = self._decode(self._episodes[pos], seg * self.segment_frames, buffer)
        self._cache[key] = block
        self._cached_bytes += buffer.nbytes
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= self.segment_frames * old[0].nbytes
            self._spare = old.base if old.base is not None else old
        return block

    def _decode(self, ep: _Episode, first: int, buffer: np.ndarray) -> np.ndarray:
        """Decode frames ``first ..`` of ``ep`` (masked, resized) into ``buffer``; returns the filled part."""
        count = min(self.segment_frames, ep.length - first)
        start = ep.begin + first / ep.fps
        filled = 0
        for decoded in video.iter_frames(ep.video, start=start, end=start + count / ep.fps):
            if filled == count:
                filled += 1
                break
            image = decoded.image
            if self.mask_overlay and ep.overlay_box is not None:
                x, y, w, h = ep.overlay_box
                image[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)] = 0
            buffer[filled] = video.resize(image, self.image_size)
            filled += 1
        if filled != count:
            raise L.DatasetError(f"{ep.video}: expected {count} frames from {start:.3f}s, decoded {filled}")
        return buffer[:count]

    def __getstate__(self) -> dict[str, object]:
        """Workers start with an empty cache (decoded frames are not shipped between processes)."""
        state = self.__dict__.copy()
        state["_cache"], state["_cached_bytes"], state["_spare"] = OrderedDict(), 0, None
        return state


class SegmentSampler(Sampler[int]):
    """Sample order that decodes each segment once per epoch (see the module docstring).

    Args:
        dataset: the :class:`ChunkDataset`.
        shuffle: shuffle segments and the samples within each window; False: storage order.
        window: segments whose samples are mixed together (the cache must hold this many).
        seed: base seed; call :meth:`set_epoch` each epoch for a new order.
        num_replicas, rank: split the segments between distributed processes, balanced to within one
            segment; every rank yields the same number of samples (repeating a few of its own), as
            DDP needs.
    """

    def __init__(
        self,
        dataset: ChunkDataset,
        *,
        shuffle: bool = True,
        window: int = 8,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if window < 1 or not 0 <= rank < num_replicas:
            raise L.DatasetError(
                f"bad sampler settings: window={window}, rank={rank}, replicas={num_replicas}"
            )
        self.segments = dataset.segments()
        self.shuffle, self.window, self.seed = shuffle, window, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        # Ranks are balanced to within one segment; pad all to this bound so every rank has as many.
        longest = max((len(r) for r in self.segments), default=0)
        self.num_samples = len(dataset) if num_replicas == 1 else -(-len(dataset) // num_replicas) + longest

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(len(self.segments)) if self.shuffle else np.arange(len(self.segments))
        loads = np.zeros(self.num_replicas, dtype=np.int64)
        mine = []
        for i in order:  # each segment to the least-loaded rank: same answer on every rank
            rank = int(np.argmin(loads))
            loads[rank] += len(self.segments[i])
            if rank == self.rank:
                mine.append(self.segments[i])
        out: list[int] = []
        for w in range(0, len(mine), self.window):
            block = np.concatenate([np.asarray(r) for r in mine[w : w + self.window]])
            out.extend((rng.permutation(block) if self.shuffle else block).tolist())
        # Equal length on every rank: repeat this rank's samples (or, with fewer segments than
        # ranks, some of the others').
        source = out or [i for k in order for i in self.segments[k]]
        while source and len(out) < self.num_samples:
            out.extend(source[: self.num_samples - len(out)])
        return iter(out[: self.num_samples])
