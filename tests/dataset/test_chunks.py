"""ChunkDataset against a slow, obvious reference; its decoding is per segment, not per sample."""

from __future__ import annotations

import itertools
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from pixelpad import video
from pixelpad.dataset import ChunkDataset, DatasetError, EpisodeStore, SegmentSampler
from pixelpad.dataset import chunks as chunks_module

from .conftest import EPISODE_LENGTHS


def reference_sample(store: EpisodeStore, episode: int, t: int, size: tuple[int, int], horizon: int) -> dict:
    """The obvious way: decode the one frame, mask, resize; slice and pad the actions."""
    frame = store.frames(episode, t, t + 1)[0]
    box = store.episodes[episode]["overlay_box"]
    if box is not None:
        x, y, w, h = box
        frame[y : y + h, x : x + w] = 0
    acts = store.actions(episode)[t : t + horizon]
    padded = np.zeros((horizon, 21), np.float32)
    padded[: len(acts)] = acts
    return {"frame": video.resize(frame, size), "actions": padded, "valid": len(acts)}


def test_every_sample_matches_the_reference(small_dataset: tuple[Path, list]) -> None:
    root, _ = small_dataset
    store = EpisodeStore(root)
    ds = ChunkDataset(root, image_size=(16, 24), horizon=16, segment_frames=8)
    assert len(ds) == sum(EPISODE_LENGTHS)
    for i in range(len(ds)):
        sample = ds[i]
        ref = reference_sample(store, sample["episode"], sample["t"], (16, 24), 16)
        assert sample["frame"].dtype == torch.uint8 and sample["frame"].shape == (16, 24, 3)
        np.testing.assert_array_equal(sample["frame"].numpy(), ref["frame"])
        np.testing.assert_array_equal(sample["actions"].numpy(), ref["actions"])
        assert sample["action_mask"].tolist() == [True] * ref["valid"] + [False] * (16 - ref["valid"])
    last = ds[EPISODE_LENGTHS[0] - 1]  # last frame of episode 0: one real action, then padding
    assert (last["episode"], last["t"], int(last["action_mask"].sum())) == (0, EPISODE_LENGTHS[0] - 1, 1)
    assert not last["actions"][1:].any()


def test_overlay_is_masked_only_when_asked(small_dataset: tuple[Path, list]) -> None:
    root, _ = small_dataset
    first_of_ep1 = EPISODE_LENGTHS[0]
    masked = ChunkDataset(root, image_size=(32, 48))[first_of_ep1]["frame"].numpy()
    unmasked = ChunkDataset(root, image_size=(32, 48), mask_overlay=False)[first_of_ep1]["frame"].numpy()
    assert masked[20:32, 36:48].max() == 0 and unmasked[20:32, 36:48].min() > 0
    np.testing.assert_array_equal(masked[:20], unmasked[:20])


def test_decodes_once_per_segment(small_dataset: tuple[Path, list], monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = small_dataset
    calls = []
    real = video.iter_frames
    monkeypatch.setattr(chunks_module.video, "iter_frames", lambda *a, **k: calls.append(a) or real(*a, **k))
    ds = ChunkDataset(root, image_size=16, segment_frames=8)
    order = list(SegmentSampler(ds, window=2, seed=3))
    for i in order:
        ds[i]
    assert len(calls) == len(ds.segments()) == 2 + 4 + 1  # not one decode (or seek) per sample
    assert len(order) == len(ds) and sorted(order) == list(range(len(ds)))


def test_cache_is_bounded(small_dataset: tuple[Path, list]) -> None:
    root, _ = small_dataset
    ds = ChunkDataset(root, image_size=16, segment_frames=4, cache_mb=2 * 4 * 16 * 16 * 3 / 2**20)
    roomy = ChunkDataset(root, image_size=16, segment_frames=4)
    kept = [ds[i]["frame"] for i in range(len(ds))]  # evictions recycle buffers under the hood...
    assert len(ds._cache) == 2
    for i in reversed(range(len(ds))):  # ...yet no returned sample changes, and re-decoding agrees
        assert torch.equal(kept[i], roomy[i]["frame"]) and torch.equal(ds[i]["frame"], kept[i])


def test_sampler_windows_and_replicas(small_dataset: tuple[Path, list]) -> None:
    root, _ = small_dataset
    ds = ChunkDataset(root, image_size=16, segment_frames=8)
    segment_of = {i: k for k, r in enumerate(ds.segments()) for i in r}
    order = list(SegmentSampler(ds, window=2, seed=1))
    for start in range(0, len(order), 16):  # each run of samples touches at most `window` segments...
        window_segments = {segment_of[i] for i in order[start : start + 8]}
        assert len(window_segments) <= 2 + 1  # ...(+1 where a run crosses a window boundary)
    assert list(SegmentSampler(ds, shuffle=False)) == list(range(len(ds)))
    sampler = SegmentSampler(ds, seed=1)
    sampler.set_epoch(1)
    assert list(sampler) != order
    ranks = [list(SegmentSampler(ds, seed=1, num_replicas=2, rank=r)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == (len(ds) + 1) // 2 + 8
    assert set(ranks[0]) | set(ranks[1]) == set(range(len(ds)))


def halve(actions: np.ndarray) -> np.ndarray:
    return actions * 0.5


def test_subset_roots_transform_and_dataloader(small_dataset: tuple[Path, list]) -> None:
    root, episodes = small_dataset
    both = ChunkDataset([root, root], image_size=16, episodes=[1, 4], action_transform=halve)
    assert len(both) == 2 * EPISODE_LENGTHS[1]
    second = both[EPISODE_LENGTHS[1]]
    assert (second["episode"], second["t"]) == (4, 0)  # episode 1 of the second root
    np.testing.assert_array_equal(second["actions"].numpy(), episodes[1][1][:16] * 0.5)
    clone = pickle.loads(pickle.dumps(both))
    assert clone._cache == {} and torch.equal(clone[3]["frame"], both[3]["frame"])
    batch = next(iter(DataLoader(both, batch_size=5, sampler=SegmentSampler(both))))
    assert batch["frame"].shape == (5, 16, 16, 3) and batch["actions"].shape == (5, 16, 21)
    with pytest.raises(DatasetError, match=r"episodes \[9\] do not exist"):
        ChunkDataset(root, episodes=[9])
    with pytest.raises(IndexError):
        both[len(both)]


class _Segments:
    """Just what SegmentSampler reads from a ChunkDataset: its length and segments."""

    def __init__(self, sizes: list[int]) -> None:
        starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self._segments = [range(a, b) for a, b in itertools.pairwise(starts)]

    def __len__(self) -> int:
        return self._segments[-1].stop

    def segments(self) -> list[range]:
        return self._segments


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 16), min_size=1, max_size=30),
    window=st.integers(1, 6),
    replicas=st.integers(1, 4),
    seed=st.integers(0, 100),
)
def test_sampler_covers_everything_once_per_epoch(
    sizes: list[int], window: int, replicas: int, seed: int
) -> None:
    fake = _Segments(sizes)
    orders = [
        list(SegmentSampler(fake, window=window, seed=seed, num_replicas=replicas, rank=r))
        for r in range(replicas)
    ]
    assert len({len(o) for o in orders}) == 1  # equal length on every rank
    if replicas == 1:
        assert sorted(orders[0]) == list(range(len(fake)))
    else:
        assert set().union(*orders) == set(range(len(fake)))
        padding = sum(len(o) for o in orders) - len(fake)
        assert padding <= replicas * (max(sizes) + 1)


def test_dataloader_workers_decode_for_themselves(small_dataset: tuple[Path, list]) -> None:
    root, _ = small_dataset
    ds = ChunkDataset(root, image_size=16, segment_frames=8)
    ds[0]  # the parent's cache must not travel to the workers
    loader = DataLoader(ds, batch_size=7, sampler=SegmentSampler(ds, seed=2), num_workers=2)
    seen = {}
    for batch in loader:
        for k in range(len(batch["t"])):
            seen[(int(batch["episode"][k]), int(batch["t"][k]))] = batch["frame"][k]
    assert len(seen) == len(ds)
    reference = ChunkDataset(root, image_size=16, segment_frames=8)
    for i in (0, 20, len(ds) - 1):
        sample = reference[i]
        assert torch.equal(seen[(sample["episode"], sample["t"])], sample["frame"])
