import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixelpad.eval.errors import EvalError
from pixelpad.eval.stats import wilson_interval


def test_known_values():
    # 5 of 10: the textbook Wilson interval is [0.2366, 0.7634]
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)


@given(st.integers(1, 500), st.data())
def test_interval_contains_the_rate(trials, data):
    k = data.draw(st.integers(0, trials))
    low, high = wilson_interval(k, trials)
    assert 0.0 <= low <= k / trials <= high <= 1.0


def test_bad_counts():
    with pytest.raises(EvalError):
        wilson_interval(3, 2)
