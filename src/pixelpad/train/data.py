"""The training data: datasets split into train/validation episodes, the sample stream, batches.

Each dataset root becomes one :class:`pixelpad.dataset.ChunkDataset` of its training episodes (so the
stream can weight datasets) and one of its held-out episodes. A micro-batch is a list of
``(lane, position)`` keys from :class:`~pixelpad.train.sampling.RankBatchSampler`; :class:`StreamDataset`
maps each key to a sample and :class:`Collate` stacks the samples and augments the frames with one
seed per sample, so a sample is identical whichever rank or worker loads it. A policy that reads
the previous frame too (``previous_frame_gap``) trains on :class:`FramePairs`, whose samples carry it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset

from pixelpad.actions import NAMES
from pixelpad.dataset.chunks import ChunkDataset
from pixelpad.train.augment import AugmentConfig, augment
from pixelpad.train.errors import DataError
from pixelpad.train.sampling import (
    RankBatchSampler,
    SegmentStream,
    derive_seed,
    loader_splits,
    split_episodes,
)

log = logging.getLogger(__name__)

_NOISE = 0x5EED  # tags that keep the derived seeds of different uses apart
_AUGMENT = 0xA06


@dataclass
class Splits:
    """Training datasets (one per root) and the held-out samples (all roots together, or None)."""

    train: list[Dataset]
    val: Dataset | None
    fps: float


def open_splits(
    roots: Sequence[str],
    *,
    image_size: int,
    horizon: int,
    val_fraction: float,
    mask_overlay: bool,
    seed: int,
    val_samples: int,
    previous_gap: int = 0,
) -> Splits:
    """Open every root, check they agree, split episodes, and build the ChunkDatasets (``FramePairs``
    with ``previous_gap`` > 0: each sample also holds the frame that many frames earlier).

    Raises:
        DataError: a root is missing or empty, roots disagree on fps or action layout, or the split
            leaves no training (or validation) episodes.
    """
    from pixelpad.dataset import DatasetError, EpisodeStore

    def chunks(root: str, episodes: list[int]) -> ChunkDataset:
        kwargs = {"image_size": image_size, "horizon": horizon, "mask_overlay": mask_overlay}
        if previous_gap:
            return FramePairs(root, gap=previous_gap, episodes=episodes, **kwargs)
        return ChunkDataset(root, episodes=episodes, **kwargs)

    train, val, rates = [], [], {}
    for i, root in enumerate(roots):
        try:
            store = EpisodeStore(root)
        except DatasetError as err:
            raise DataError(f"cannot open training data {root}: {err}") from err
        if store.num_episodes == 0 or sum(ep["length"] for ep in store.episodes) == 0:
            raise DataError(f"{root} has no episodes: record or import some first")
        names = store.info["features"]["action"].get("names")
        if names is not None and list(names) != list(NAMES):
            raise DataError(
                f"{root} stores actions in another layout ({len(names)} columns starting {names[:3]}); "
                "pixelpad trains on the unified 21-dim layout: re-import the dataset"
            )
        rates[root] = store.fps
        train_eps, val_eps = split_episodes(store.num_episodes, val_fraction, derive_seed(seed, i))
        train.append(chunks(root, train_eps))
        if val_eps:
            val.append(chunks(root, val_eps))
    if len(set(rates.values())) > 1:
        raise DataError(
            f"datasets have different frame rates {rates}: an action chunk would mean a different span of "
            "time in each; resample them to one fps"
        )
    held_out = None
    if val:
        joined = ConcatDataset(val)
        count = min(val_samples, len(joined))
        held_out = Subset(joined, np.linspace(0, len(joined) - 1, count).round().astype(int).tolist())
    log.info(
        "%d training samples in %d dataset(s); %d held-out samples for validation",
        sum(len(d) for d in train),
        len(train),
        0 if held_out is None else len(held_out),
    )
    return Splits(train=train, val=held_out, fps=next(iter(rates.values())))


class FramePairs(ChunkDataset):
    """A :class:`pixelpad.dataset.ChunkDataset` whose samples also hold ``previous``: the frame ``gap``
    frames before ``frame`` in the same episode (its first frame where the episode is younger), as
    the policy sees it in play. Both come from the segment cache; the previous one is usually in the
    same or the last segment read."""

    def __init__(self, *args: Any, gap: int, **kwargs: Any) -> None:
        if gap < 1:
            raise DataError(f"the previous frame's gap must be >= 1 frame, got {gap}")
        super().__init__(*args, **kwargs)
        self.gap = gap

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = super().__getitem__(index)
        earlier = index - min(self.gap, item["t"])
        item["previous"] = item["frame"] if earlier == index else super().__getitem__(earlier)["frame"]
        return item


MIN_WINDOW_SEGMENTS = 4  # segments whose samples a lane shuffles together, at least (see pixelpad.dataset)
MAX_WINDOW_SEGMENTS = 256


def window_segments(datasets: Sequence[ChunkDataset], lanes: int) -> int:
    """Segments a lane shuffles together: as many as half a worker's frame cache holds for all lanes.

    A window's segments must stay cached while the lane reads them (else they are decoded again), but
    the wider the window the less a batch is made of a few moments of a few episodes: with 4 windows
    of 64 frames each, a tiny policy trained on 9 Chromium episodes chased the current window (val
    loss 0.18, worse than ignoring the frame) where the same steps on shuffled samples generalised.
    Small frames make wide windows cheap: at 64x64 a 64-frame segment is 0.8 MB. The window depends
    on the global lane count only, so the sample order is the same on any number of ranks.
    """
    budget = min(d.cache_bytes for d in datasets)
    segment = max(d.image_size[0] * d.image_size[1] * 3 * d.segment_frames for d in datasets)
    return int(np.clip(budget // (2 * lanes * segment), MIN_WINDOW_SEGMENTS, MAX_WINDOW_SEGMENTS))


def make_loader(
    splits: Splits,
    *,
    weights: Sequence[float] | None,
    seed: int,
    augment_config: AugmentConfig | None,
    global_batch: int,
    micro_batch: int,
    world_size: int,
    rank: int,
    start_step: int,
    end_step: int,
    num_workers: int,
    pin_memory: bool = False,
) -> tuple[DataLoader, int]:
    """This rank's training DataLoader from ``start_step`` and how many items make one micro-batch."""
    parts = loader_splits(micro_batch, num_workers)
    segments = [[len(r) for r in ds.segments()] for ds in splits.train]
    lanes = global_batch // micro_batch * parts
    window = window_segments(splits.train, lanes)
    stream = SegmentStream(segments, weights, seed=seed, lanes=lanes, window=window)
    sampler = RankBatchSampler(
        global_batch=global_batch,
        micro_batch=micro_batch,
        world_size=world_size,
        rank=rank,
        start_step=start_step,
        end_step=end_step,
        splits=parts,
    )
    loader = DataLoader(
        StreamDataset(splits.train, stream, seed),
        batch_sampler=sampler,
        collate_fn=Collate(augment_config, seed),
        num_workers=num_workers,
        pin_memory=pin_memory,
        prefetch_factor=4 if num_workers else None,
    )
    return loader, parts


class StreamDataset(Dataset):
    """Map-style view of the stream: key ``(lane, position)`` → one sample dict."""

    def __init__(self, datasets: list[Dataset], stream: SegmentStream, seed: int) -> None:
        self.datasets, self.stream, self.seed = datasets, stream, seed

    def __len__(self) -> int:  # the stream is infinite; DataLoader only needs this for len()
        return sum(len(d) for d in self.datasets)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        return self.__getitems__([key])[0]

    def __getitems__(self, keys: list[tuple[int, int]]) -> list[dict[str, Any]]:
        lane = keys[0][0]
        if any(k[0] != lane for k in keys):
            raise ValueError("a micro-batch reads one lane")
        positions = [k[1] for k in keys]
        datasets, indices = self.stream.locate(lane, positions)
        items = []
        for (lane_, pos), d, i in zip(keys, datasets.tolist(), indices.tolist(), strict=True):
            item = dict(self.datasets[d][i])
            item["seed"] = derive_seed(self.seed, _AUGMENT, lane_, pos)
            item["key"] = (lane_, pos)
            items.append(item)
        return items


class Collate:
    """Stack samples into a batch and augment its frames; picklable for DataLoader workers.

    Output: ``frames`` uint8 (B, H, W, 3), ``actions`` float32 (B, T, 21), ``action_mask`` bool (B, T),
    ``previous`` uint8 (B, H, W, 3) when the samples hold it (:class:`FramePairs`), ``noise_seed`` int
    (the micro-batch's seed for the flow-matching noise).
    """

    def __init__(self, augment_config: AugmentConfig | None, seed: int) -> None:
        self.augment_config, self.seed = augment_config, seed

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        frames = torch.stack([item["frame"] for item in items])
        pairs = "previous" in items[0]
        if pairs:  # augmented together: a sample's two frames get the same colour and geometry
            frames = torch.cat([frames, torch.stack([item["previous"] for item in items])])
        if self.augment_config is not None and "seed" in items[0]:
            params = self.augment_config.sample_params([item["seed"] for item in items])
            frames = augment(frames, params.repeat(2, 1) if pairs else params)
        batch: dict[str, Any] = {
            "frames": frames[: len(items)],
            "actions": torch.stack([item["actions"] for item in items]),
            "action_mask": torch.stack([item["action_mask"] for item in items]),
        }
        if pairs:
            batch["previous"] = frames[len(items) :]
        if "key" in items[0]:
            batch["noise_seed"] = derive_seed(self.seed, _NOISE, *items[0]["key"])
        return batch
