"""The training DataLoader: resumable at any step, same batches with or without worker processes, weights."""

from __future__ import annotations

import pytest
import torch
from train_factories import make_pattern_dataset

from pixelpad.train.augment import AugmentConfig, augment
from pixelpad.train.data import Collate, make_loader, open_splits
from pixelpad.train.errors import DataError


def _loader(splits, *, start=0, end=4, workers=0, weights=None):
    loader, parts = make_loader(
        splits,
        weights=weights,
        seed=3,
        augment_config=AugmentConfig(),
        global_batch=8,
        micro_batch=4,
        world_size=1,
        rank=0,
        start_step=start,
        end_step=end,
        num_workers=workers,
    )
    return list(loader), parts


def _open(*roots, val_fraction=0.0, previous_gap=0):
    return open_splits(
        [str(r) for r in roots],
        image_size=32,
        horizon=8,
        val_fraction=val_fraction,
        mask_overlay=True,
        seed=0,
        val_samples=4,
        previous_gap=previous_gap,
    )


def test_a_loader_started_at_step_k_repeats_the_uninterrupted_batches(pattern_data):
    splits = _open(pattern_data)
    full, _ = _loader(splits)
    later, _ = _loader(splits, start=2)
    assert len(full) == 8 and len(later) == 4  # 2 micro-batches per step
    for a, b in zip(full[4:], later, strict=True):
        assert torch.equal(a["frames"], b["frames"]) and torch.equal(a["actions"], b["actions"])
        assert a["noise_seed"] == b["noise_seed"]
    assert not torch.equal(full[0]["frames"], full[1]["frames"])
    assert full[0]["frames"].dtype == torch.uint8 and full[0]["frames"].shape == (4, 32, 32, 3)


def test_worker_processes_split_micro_batches_over_their_own_lanes(pattern_data):
    splits = _open(pattern_data)
    items, parts = _loader(splits, end=2, workers=2)
    assert parts == 2 and len(items) == 2 * 2 * 2 and all(len(i["frames"]) == 2 for i in items)
    again, _ = _loader(splits, end=2, workers=2)
    assert all(torch.equal(a["frames"], b["frames"]) for a, b in zip(items, again, strict=True))


def test_weights_choose_the_datasets(tmp_path):
    first = make_pattern_dataset(tmp_path / "first", episodes=2)  # patterns 0, 1: buttons 0-3
    second = make_pattern_dataset(tmp_path / "second", episodes=4)  # patterns 0-3: buttons 0-7
    splits = _open(first, second)

    def pressed_high_buttons(weights) -> int:
        batches, _ = _loader(splits, weights=weights)
        return int(torch.cat([b["actions"] for b in batches])[..., 4:8].sum())

    assert pressed_high_buttons([1.0, 0.0]) == 0  # weight 0: the second dataset is never sampled
    assert pressed_high_buttons([0.0, 1.0]) > 0
    with pytest.raises(DataError):
        _loader(splits, weights=[0.0, 0.0])


def test_validation_reads_only_held_out_episodes(pattern_data):
    splits = _open(pattern_data, val_fraction=0.25)
    assert splits.val is not None and len(splits.val) == 4 and splits.fps == 10.0
    train_episodes = {int(e) for d in splits.train for e in d.episode_ids}
    val_episodes = {splits.val[i]["episode"] for i in range(len(splits.val))}
    assert len(train_episodes) == 3 and val_episodes and not val_episodes & train_episodes


def test_window_is_as_wide_as_half_the_frame_cache_holds(pattern_data):
    from pixelpad.train.data import MAX_WINDOW_SEGMENTS, MIN_WINDOW_SEGMENTS, window_segments

    small = _open(pattern_data).train  # 32x32 frames: 0.2 MB a 64-frame segment, 512 MB of cache
    assert window_segments(small, lanes=1) == MAX_WINDOW_SEGMENTS
    big = open_splits([str(pattern_data)], image_size=256, horizon=8, val_fraction=0.0, mask_overlay=True,
                      seed=0, val_samples=4).train  # fmt: skip
    segment = 256 * 256 * 3 * 64
    assert window_segments(big, lanes=2) == big[0].cache_bytes // (2 * 2 * segment) == 10
    assert window_segments(big, lanes=64) == MIN_WINDOW_SEGMENTS


def test_frame_pairs_hold_the_frame_gap_frames_earlier_and_are_augmented_alike(pattern_data):
    """The previous frame of a sample at t is the episode's frame t - 3 (its first before t = 3, as a
    policy playing from an episode's start sees); both frames of a sample get the same augmentation."""
    splits = _open(pattern_data, val_fraction=0.25, previous_gap=3)
    data = splits.train[0]
    for index in (0, 2, 3, 10, 24, 26, 30):  # 24-frame episodes: sample 24 is the second one's first
        item = data[index]
        assert torch.equal(item["previous"], data[index - min(3, item["t"])]["frame"]), index
    assert not torch.equal(data[10]["previous"], data[10]["frame"])  # the corner clutter changes
    batch = Collate(AugmentConfig(), 0)(
        [dict(data[0], seed=5, key=(0, 0)), dict(data[10], seed=6, key=(0, 1))]
    )
    assert not torch.equal(batch["frames"][0], data[0]["frame"])  # augmented
    assert torch.equal(batch["previous"][0], batch["frames"][0])
    alike = augment(data[7]["frame"][None], AugmentConfig().sample_params([6]))[0]
    assert torch.equal(batch["previous"][1], alike)
    assert "previous" in splits.val[0] and "previous" in _loader(splits, end=1)[0][0]
