"""Warmup-stable-decay: the shape of the learning-rate curve."""

import itertools
import math

import pytest

from pixelpad.train.errors import TrainError
from pixelpad.train.schedule import WSDSchedule


def test_warmup_stable_decay_shape():
    s = WSDSchedule(total_steps=200, warmup_steps=20, decay_fraction=0.25, final_ratio=0.1)
    values = [s(i) for i in range(200)]
    warm, stable, decay = values[:20], values[20:150], values[150:]
    assert all(b > a for a, b in itertools.pairwise(warm))  # strictly rising
    assert warm[0] == pytest.approx(1 / 20) and warm[-1] == pytest.approx(1.0)
    assert stable == [1.0] * 130
    assert all(b < a for a, b in itertools.pairwise(decay))  # strictly falling
    assert decay[-1] == pytest.approx(0.1)
    # linear decay: constant decrement
    steps = [a - b for a, b in itertools.pairwise(decay)]
    assert max(steps) == pytest.approx(min(steps))


@pytest.mark.parametrize("shape", ["cosine", "sqrt"])
def test_decay_shapes_end_at_final_ratio(shape):
    s = WSDSchedule(total_steps=100, warmup_steps=0, decay_fraction=0.5, shape=shape)
    assert s(0) == 1.0 and s(49) == 1.0 and s(99) == pytest.approx(0.0)
    mid = s(74)  # 25 of 50 decay steps done
    expected = 0.5 * (1 + math.cos(math.pi * 0.5)) if shape == "cosine" else 1 - math.sqrt(0.5)
    assert mid == pytest.approx(expected)


def test_no_decay_and_bad_values():
    assert WSDSchedule(total_steps=10, decay_fraction=0.0)(9) == 1.0
    with pytest.raises(TrainError):
        WSDSchedule(total_steps=10, warmup_steps=11)
    with pytest.raises(TrainError):
        WSDSchedule(total_steps=10, shape="step")
