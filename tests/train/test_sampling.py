"""Sample stream: permutations, weighted mixing, rank sharding independent of world size."""

import numpy as np
import pytest

from pixelpad.train.errors import DataError, TrainError
from pixelpad.train.sampling import RankBatchSampler, SampleStream, derive_seed, permute, split_episodes


@pytest.mark.parametrize("n", [1, 2, 3, 17, 1000, 4099])
def test_permute_is_a_bijection(n):
    out = permute(np.arange(n), n, key=11)
    assert sorted(out.tolist()) == list(range(n))
    if n > 16:
        assert not np.array_equal(out, np.arange(n))
        assert not np.array_equal(out, permute(np.arange(n), n, key=12))


def test_stream_epochs_cover_every_sample_once_in_new_orders():
    stream = SampleStream([5, 7], seed=3)
    d, i = stream.locate(np.arange(24))
    pairs = list(zip(d.tolist(), i.tolist(), strict=True))
    expected = sorted([(0, k) for k in range(5)] + [(1, k) for k in range(7)])
    assert sorted(pairs[:12]) == expected and sorted(pairs[12:]) == expected
    assert pairs[:12] != pairs[12:]
    d2, i2 = stream.locate(np.array([13, 2]))  # pure function of position
    assert (d2.tolist(), i2.tolist()) == ([d[13], d[2]], [i[13], i[2]])


def test_weighted_mixing_shares_and_repeats():
    stream = SampleStream([100, 10], weights=[1.0, 1.0], seed=0)
    d, i = stream.locate(np.arange(stream.epoch_length))
    assert np.bincount(d).tolist() == [55, 55]
    small = i[d == 1]
    assert np.bincount(small).min() >= 5  # 10 samples repeated to fill 55 slots, each repetition whole
    assert len(np.unique(i[d == 0])) == 55  # the big one subsampled without repeats


def test_stream_errors():
    with pytest.raises(DataError):
        SampleStream([])
    with pytest.raises(DataError):
        SampleStream([3, 0])
    with pytest.raises(DataError):
        SampleStream([3], weights=[0.0])


def test_rank_batches_partition_the_global_batch_for_any_world_size():
    def global_positions(world, micro):
        per_rank = [
            list(
                RankBatchSampler(
                    global_batch=8, micro_batch=micro, world_size=world, rank=r, start_step=2, end_step=4
                )
            )
            for r in range(world)
        ]
        return per_rank

    one = global_positions(1, 2)
    assert [p for mb in one[0] for p in mb] == list(range(16, 32))
    two = global_positions(2, 2)
    # micro-batch j of a step lives on rank j // accum, the same micro-batches as with one rank
    assert two[0][:2] + two[1][:2] == one[0][:4]
    four = global_positions(4, 2)
    assert [four[r][0] for r in range(4)] == one[0][:4]
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
