"""Sample stream: permutations, weighted mixing, rank sharding independent of world size."""

import numpy as np
import pytest

from pixelpad.train.errors import DataError, TrainError
from pixelpad.train.sampling import (
    RankBatchSampler,
    SegmentStream,
    derive_seed,
    loader_splits,
    permute,
    split_episodes,
)


@pytest.mark.parametrize("n", [1, 2, 3, 17, 1000, 4099])
def test_permute_is_a_bijection(n):
    out = permute(np.arange(n), n, key=11)
    assert sorted(out.tolist()) == list(range(n))
    if n > 16:
        assert not np.array_equal(out, np.arange(n))
        assert not np.array_equal(out, permute(np.arange(n), n, key=12))


def _all(stream, lane, n):
    d, i = stream.locate(lane, range(n))
    return list(zip(d.tolist(), i.tolist(), strict=True))


def test_one_lane_visits_every_sample_once_per_epoch_in_windows():
    stream = SegmentStream([[4, 4, 2], [4, 3]], lanes=1, window=5, seed=3)  # a window = an epoch
    pairs = _all(stream, 0, 34)
    expected = sorted([(0, k) for k in range(10)] + [(1, k) for k in range(7)])
    assert sorted(pairs[:17]) == expected and sorted(pairs[17:]) == expected
    assert pairs[:17] != pairs[17:]
    d, i = stream.locate(0, [13, 2])  # a pure function of the position
    assert list(zip(d.tolist(), i.tolist(), strict=True)) == [pairs[13], pairs[2]]


def test_lanes_are_disjoint_and_windows_keep_segments_together():
    lengths = [[8] * 6, [8] * 2]
    stream = SegmentStream(lengths, lanes=2, window=2, seed=0)
    lane0, lane1 = _all(stream, 0, 32), _all(stream, 1, 32)  # exactly one epoch (8 segments of 8)
    assert not set(lane0) & set(lane1) and len(set(lane0) | set(lane1)) == 64
    for lane in (lane0, lane1):
        for w in range(2):  # each window of 16 samples spans exactly two segments
            segments = {(d, i // 8) for d, i in lane[16 * w : 16 * (w + 1)]}
            assert len(segments) == 2


def test_weighted_mixing_shares():
    stream = SegmentStream([[4] * 30, [4] * 3], weights=[1.0, 1.0], lanes=3, window=2, seed=0)
    d = np.concatenate([stream.locate(lane, range(4000))[0] for lane in range(3)])
    share = np.bincount(d) / len(d)
    assert share[1] == pytest.approx(0.5, abs=0.05)


def test_stream_errors():
    with pytest.raises(DataError):
        SegmentStream([])
    with pytest.raises(DataError):
        SegmentStream([[3], []])
    with pytest.raises(DataError):
        SegmentStream([[3]], weights=[0.0])


def test_rank_batches_are_the_same_micro_batches_for_any_world_size():
    def per_rank(world):
        return [
            list(
                RankBatchSampler(
                    global_batch=8, micro_batch=2, world_size=world, rank=r, start_step=2, end_step=4
                )
            )
            for r in range(world)
        ]

    one = per_rank(1)[0]
    assert [lane for lane, _ in (mb[0] for mb in one)] == [0, 1, 2, 3] * 2
    assert one[0] == [(0, 4), (0, 5)]  # step 2 of lane 0: its positions 4 and 5
    two, four = per_rank(2), per_rank(4)
    assert two[0][:2] + two[1][:2] == one[:4]
    assert [four[r][0] for r in range(4)] == one[:4]
    with pytest.raises(TrainError):
        RankBatchSampler(global_batch=8, micro_batch=3, world_size=1, rank=0, start_step=0, end_step=1)


def test_split_episodes_and_seed_mixing():
    train, val = split_episodes(10, 0.2, seed=0)
    assert len(val) == 2 and sorted(train + val) == list(range(10))
    assert split_episodes(10, 0.2, seed=0) == (train, val)
    assert split_episodes(3, 0.01, seed=0)[1] != []  # at least one held out
    assert split_episodes(4, 0.0, seed=0) == ([0, 1, 2, 3], [])
    with pytest.raises(DataError):
        split_episodes(1, 0.5, seed=0)
    assert derive_seed(1, 2) != derive_seed(2, 1) and 0 <= derive_seed(5) < 2**63


def test_split_micro_batches_give_each_loader_worker_its_own_lanes():
    assert (loader_splits(8, 2), loader_splits(6, 4), loader_splits(8, 0)) == (2, 1, 1)
    sampler = RankBatchSampler(
        global_batch=8, micro_batch=4, world_size=1, rank=0, start_step=0, end_step=3, splits=2
    )
    items = list(sampler)
    assert len(items) == len(sampler) == 12 and all(len(item) == 2 for item in items)
    for n, item in enumerate(items):  # the DataLoader hands item n to worker n % 2
        assert {lane % 2 for lane, _ in item} == {n % 2}
    assert [items[i][0][0] for i in range(4)] == [0, 1, 2, 3]
    with pytest.raises(TrainError):
        RankBatchSampler(
            global_batch=8, micro_batch=3, world_size=1, rank=0, start_step=0, end_step=1, splits=2
        )
