"""Deterministic, rank-sharded, decode-friendly sample order with weighted mixing of datasets.

Samples are read in *segments* (runs of consecutive frames that the dataset decodes and caches as one
unit), so the order must revisit a segment while it is cached. The order is built from three pure
functions of the seed, so it needs no state beyond the step:

1. **Segment sequence.** Every epoch, dataset ``d`` contributes ``c_d`` segment slots (its segment
   count, or with weights ``round(S · w_d / Σw)`` of the ``S`` segments in all — repeated or
   subsampled, differently each epoch); the slots are shuffled. Concatenating epochs gives an
   infinite sequence of segments.
2. **Lanes.** An optimiser step consumes a global batch of ``G`` samples as ``L = G / m`` micro-batches
   of ``m``. Micro-batch ``j`` always reads lane ``j``: the segments ``j, j + L, j + 2L, …`` of the
   sequence. Lanes are disjoint, so no two micro-batches decode the same segment.
3. **Windows.** A lane takes its segments ``window`` at a time and shuffles the samples within the
   window; each micro-batch takes the lane's next ``m`` samples.

Rank ``r`` of ``W`` runs micro-batches (lanes) ``r·A … r·A + A − 1`` with ``A = G / (m·W)``. Hence the
global batch, the sample order and the schedule do not depend on the number of ranks; resuming
needs only the step; with a fixed ``m`` the per-sample augmentation seeds and per-micro-batch noise
seeds (derived from lane and position) are the same on 1 or W ranks, so the runs compute the same
numbers. Permutations are Feistel networks over ``[0, n)`` (cycle-walking): nothing of the size of an
epoch is ever materialised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from pixelpad.train.errors import DataError, TrainError

_MASK64 = (1 << 64) - 1


def derive_seed(*values: int) -> int:
    """A well-mixed 63-bit seed from a tuple of integers (splitmix64 chain)."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (int(value) & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        state = (state ^ (state >> 31)) * 0x94D049BB133111EB & _MASK64
        state ^= state >> 29
    return state >> 1


def _mix(x: np.ndarray, key: int) -> np.ndarray:
    """Round function: splitmix64 finaliser of ``x ^ key`` on a uint64 array."""
    z = x ^ np.uint64(key)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def permute(indices: np.ndarray, n: int, key: int, rounds: int = 4) -> np.ndarray:
    """Apply a key-dependent bijection of ``[0, n)`` to each element of ``indices`` (int64 array).

    Example:
        >>> sorted(permute(np.arange(10), 10, key=3).tolist()) == list(range(10))
        True
    """
    if n <= 1:
        return np.zeros_like(indices, dtype=np.int64)
    half_bits = max(1, ((n - 1).bit_length() + 1) // 2)
    half_mask = np.uint64((1 << half_bits) - 1)
    keys = [derive_seed(key, r) for r in range(rounds)]
    x = np.asarray(indices, dtype=np.uint64).copy()
    todo = np.ones(x.shape, dtype=bool)
    with np.errstate(over="ignore"):
        while todo.any():  # cycle-walk: re-encrypt values that fall outside [0, n)
            left, right = x[todo] >> np.uint64(half_bits), x[todo] & half_mask
            for round_key in keys:
                left, right = right, left ^ (_mix(right, round_key) & half_mask)
            x[todo] = (left << np.uint64(half_bits)) | right
            todo = x >= np.uint64(n)
    return x.astype(np.int64)


class SegmentStream:
    """The lane-and-window sample order described in the module docstring.

    Args:
        segments: per dataset, the length of each of its segments (samples), in storage order; a
            dataset's samples are numbered across its segments in that order.
        weights: sampling share of each dataset, or None for "every segment once per epoch".
        lanes: micro-batches per global step (``G / m``).
        window: segments whose samples are shuffled together within a lane.
    """

    _BLOCK = 64  # windows added to a lane's index at a time

    def __init__(
        self,
        segments: Sequence[Sequence[int]],
        weights: Sequence[float] | None = None,
        *,
        seed: int = 0,
        lanes: int = 1,
        window: int = 4,
    ) -> None:
        if not segments:
            raise DataError("no training data: give at least one dataset")
        natural = weights is None
        weights = [1.0] * len(segments) if weights is None else [float(w) for w in weights]
        if len(weights) != len(segments):
            raise DataError(f"{len(weights)} weights for {len(segments)} datasets")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise DataError(f"dataset weights must be >= 0 with a positive sum, got {weights}")
        empty = [
            i for i, (seg, w) in enumerate(zip(segments, weights, strict=True)) if sum(seg) == 0 and w > 0
        ]
        if empty:
            raise DataError(f"dataset(s) {empty} have no training samples (no episodes, or all held out?)")
        if lanes < 1 or window < 1:
            raise TrainError(f"lanes and window must be >= 1, got {lanes}, {window}")
        self.seed, self.lanes, self.window = seed, lanes, window
        self._seg_len = [np.asarray(seg, dtype=np.int64) for seg in segments]
        self._seg_first = [np.concatenate([[0], np.cumsum(lens)[:-1]]) for lens in self._seg_len]
        total = sum(len(seg) for seg in segments)
        if natural:
            counts = [len(seg) for seg in segments]
        else:
            counts = [max(1, round(total * w / sum(weights))) if w > 0 else 0 for w in weights]
        self._slot_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.epoch_segments = int(self._slot_starts[-1])
        # per lane: dataset, first sample and length of each segment so far; cumulative window sizes
        self._lane: dict[int, dict[str, np.ndarray]] = {}

    def _sequence(self, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dataset, segment) at positions ``i`` of the infinite segment sequence."""
        epochs, offsets = np.divmod(i, self.epoch_segments)
        datasets, segs = np.empty_like(i), np.empty_like(i)
        for epoch in np.unique(epochs):
            sel = epochs == epoch
            slots = permute(offsets[sel], self.epoch_segments, derive_seed(self.seed, epoch))
            ds = np.searchsorted(self._slot_starts, slots, side="right") - 1
            local = slots - self._slot_starts[ds]
            for d in np.unique(ds):
                mine = ds == d
                n = len(self._seg_len[d])
                repeat, within = np.divmod(local[mine], n)
                for rep in np.unique(repeat):
                    r = repeat == rep
                    within[r] = permute(within[r], n, derive_seed(self.seed, epoch, d, rep))
                local[mine] = within
            datasets[sel], segs[sel] = ds, local
        return datasets, segs

    def _extend(self, lane: int, upto: int) -> dict[str, np.ndarray]:
        """Index lane ``lane`` far enough to hold lane position ``upto``."""
        state = self._lane.setdefault(
            lane, {k: np.zeros(0, dtype=np.int64) for k in ("dataset", "first", "length", "window_end")}
        )
        while len(state["window_end"]) == 0 or state["window_end"][-1] <= upto:
            k0 = len(state["dataset"])
            k = np.arange(k0, k0 + self._BLOCK * self.window, dtype=np.int64)
            ds, segs = self._sequence(lane + self.lanes * k)
            first = np.array([self._seg_first[d][s] for d, s in zip(ds, segs, strict=True)], dtype=np.int64)
            length = np.array([self._seg_len[d][s] for d, s in zip(ds, segs, strict=True)], dtype=np.int64)
            last = state["window_end"][-1] if len(state["window_end"]) else 0
            ends = last + np.cumsum(length.reshape(self._BLOCK, self.window).sum(axis=1))
            state["dataset"] = np.concatenate([state["dataset"], ds])
            state["first"] = np.concatenate([state["first"], first])
            state["length"] = np.concatenate([state["length"], length])
            state["window_end"] = np.concatenate([state["window_end"], ends])
        return state

    def locate(self, lane: int, positions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(dataset ids, sample indices within each dataset) of lane ``lane``'s ``positions``."""
        positions = np.asarray(positions, dtype=np.int64)
        state = self._extend(lane, int(positions.max(initial=0)))
        wins = np.searchsorted(state["window_end"], positions, side="right")
        datasets, indices = np.empty_like(positions), np.empty_like(positions)
        for w in np.unique(wins):
            sel = wins == w
            begin = state["window_end"][w - 1] if w > 0 else 0
            size = int(state["window_end"][w] - begin)
            offsets = permute(positions[sel] - begin, size, derive_seed(self.seed, lane, w))
            segs = slice(w * self.window, (w + 1) * self.window)
            bounds = np.cumsum(state["length"][segs])
            which = np.searchsorted(bounds, offsets, side="right")
            within = offsets - np.concatenate([[0], bounds[:-1]])[which]
            datasets[sel] = state["dataset"][segs][which]
            indices[sel] = state["first"][segs][which] + within
        return datasets, indices


def accumulation_steps(global_batch: int, micro_batch: int, world_size: int) -> int:
    """Micro-batches each rank runs per optimiser step; the sizes must divide evenly."""
    if global_batch < 1 or micro_batch < 1:
        raise TrainError(f"batch sizes must be >= 1, got global {global_batch}, micro {micro_batch}")
    per_step = micro_batch * world_size
    if global_batch % per_step:
        raise TrainError(
            f"global batch {global_batch} is not a multiple of micro batch {micro_batch}"
            f" × {world_size} ranks;"
            " change --batch-size or --micro-batch-size"
        )
    return global_batch // per_step


def loader_splits(micro_batch: int, num_workers: int) -> int:
    """Sub-batches per micro-batch: one per loader worker when they divide it evenly, else 1."""
    return num_workers if num_workers > 1 and micro_batch % num_workers == 0 else 1


class RankBatchSampler:
    """Yields this rank's (sub-)batches from ``start_step`` on: lists of ``(lane, position)`` keys.

    With ``splits = s > 1`` each micro-batch is emitted as ``s`` sub-batches of ``m / s`` samples read
    from lanes ``j·s … j·s + s − 1``. A DataLoader with ``s`` workers hands item ``n`` to worker
    ``n mod s``, so worker ``k`` always reads lanes ``≡ k (mod s)``: no two workers decode the same
    segment. (Without this, every worker would decode every segment of a shared lane.) The split
    is part of the sample order: a run keeps its ``num_workers`` when resumed.

    Use as a DataLoader ``batch_sampler``; each optimiser step takes ``accum · splits`` items.
    """

    def __init__(
        self,
        *,
        global_batch: int,
        micro_batch: int,
        world_size: int,
        rank: int,
        start_step: int,
        end_step: int,
        splits: int = 1,
    ) -> None:
        self.accum = accumulation_steps(global_batch, micro_batch, world_size)
        if splits < 1 or micro_batch % splits:
            raise TrainError(f"cannot split micro-batches of {micro_batch} into {splits} equal parts")
        self.micro_batch, self.rank, self.splits = micro_batch, rank, splits
        self.start_step, self.end_step = start_step, end_step

    def __len__(self) -> int:
        return max(0, self.end_step - self.start_step) * self.accum * self.splits

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        size = self.micro_batch // self.splits
        for step in range(self.start_step, self.end_step):
            for a in range(self.accum):
                micro = self.rank * self.accum + a
                for k in range(self.splits):
                    lane = micro * self.splits + k
                    yield [(lane, q) for q in range(step * size, (step + 1) * size)]


def split_episodes(num_episodes: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, validation) episode indices: a seeded random ``val_fraction`` of episodes held out.

    At least one episode is held out when ``val_fraction > 0`` and at least one is left to train on.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if num_episodes == 0:
        raise DataError("the dataset has no episodes")
    n_val = 0 if val_fraction == 0 else max(1, round(num_episodes * val_fraction))
    if n_val >= num_episodes:
        raise DataError(
            f"cannot hold out {n_val} of {num_episodes} episodes for validation; record more episodes"
            " or pass --val-fraction 0"
        )
    order = permute(np.arange(num_episodes), num_episodes, derive_seed(seed, 0xE9)).tolist()
    return sorted(order[n_val:]), sorted(order[:n_val])
