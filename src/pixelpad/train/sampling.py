"""Deterministic, rank-sharded sample order with weighted mixing of datasets.

Training consumes one infinite *stream* of samples. Global position ``p`` (0, 1, 2, …) maps to a
``(dataset, index)`` pair by a pure function of ``(seed, p)``; optimiser step ``s`` consumes positions
``[s·G, (s+1)·G)`` for a global batch ``G``. That batch is cut into micro-batches of ``m`` samples;
rank ``r`` of ``W`` takes micro-batches ``r·A … r·A + A − 1`` with ``A = G / (m·W)`` accumulation steps.
So:

* the global batch, the sample order and the schedule do not depend on the number of ranks;
* resuming needs only the step: the data position is ``step · G``;
* seeds for augmentation (per sample) and for the flow-matching noise (per micro-batch) derive
  from stream positions, so with a fixed micro-batch size a run on 1 rank and on W ranks computes
  the same numbers.

Permutations are Feistel networks over ``[0, n)`` (cycle-walking), so nothing of size n is ever
materialised — an epoch over billions of frames costs no memory.

Mixing (when weights are given; without them datasets are simply concatenated): an epoch holds
``c_d = round(E · w_d / Σw)`` slots of dataset ``d`` (``E`` = total samples, at least one slot for
each dataset of positive weight). A dataset with more slots than samples is
repeated, each repetition in a new order; one with fewer is subsampled, differently every epoch.
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


class SampleStream:
    """Infinite deterministic order over several datasets: position → (dataset id, index)."""

    def __init__(self, lengths: Sequence[int], weights: Sequence[float] | None = None, seed: int = 0) -> None:
        lengths = [int(n) for n in lengths]
        natural = weights is None  # no weights: plain concatenation, every sample once per epoch
        weights = [1.0] * len(lengths) if weights is None else [float(w) for w in weights]
        if not lengths:
            raise DataError("no training data: give at least one dataset")
        if len(weights) != len(lengths):
            raise DataError(f"{len(weights)} weights for {len(lengths)} datasets")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise DataError(f"dataset weights must be >= 0 with a positive sum, got {weights}")
        empty = [i for i, (n, w) in enumerate(zip(lengths, weights, strict=True)) if n == 0 and w > 0]
        if empty:
            raise DataError(f"dataset(s) {empty} have no training samples (no episodes long enough?)")
        self.lengths, self.seed = lengths, seed
        total = sum(lengths)
        if natural:
            counts = list(lengths)
        else:
            counts = [max(1, round(total * w / sum(weights))) if w > 0 else 0 for w in weights]
        self.counts = np.array(counts, dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(self.counts)])
        self.epoch_length = int(self._starts[-1])

    def locate(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dataset ids, sample indices), both int64 arrays shaped like ``positions``."""
        positions = np.asarray(positions, dtype=np.int64)
        epochs, offsets = np.divmod(positions, self.epoch_length)
        datasets = np.empty_like(positions)
        indices = np.empty_like(positions)
        for epoch in np.unique(epochs):
            sel = epochs == epoch
            slots = permute(offsets[sel], self.epoch_length, derive_seed(self.seed, epoch))
            ds = np.searchsorted(self._starts, slots, side="right") - 1
            local = slots - self._starts[ds]
            idx = np.empty_like(local)
            for d in np.unique(ds):
                mine = ds == d
                n = self.lengths[d]
                repeat, within = np.divmod(local[mine], n)
                for rep in np.unique(repeat):
                    r = repeat == rep
                    within[r] = permute(within[r], n, derive_seed(self.seed, epoch, d, rep))
                idx[mine] = within
            datasets[sel], indices[sel] = ds, idx
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


class RankBatchSampler:
    """Yields this rank's micro-batches (lists of stream positions) from ``start_step`` on.

    Use as a DataLoader ``batch_sampler``; each optimiser step takes ``accum`` consecutive items.
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
    ) -> None:
        self.accum = accumulation_steps(global_batch, micro_batch, world_size)
        self.global_batch, self.micro_batch = global_batch, micro_batch
        self.rank, self.start_step, self.end_step = rank, start_step, end_step

    def __len__(self) -> int:
        return max(0, self.end_step - self.start_step) * self.accum

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.end_step):
            for a in range(self.accum):
                first = step * self.global_batch + (self.rank * self.accum + a) * self.micro_batch
                yield list(range(first, first + self.micro_batch))


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
