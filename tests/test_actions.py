"""The unified action space: names, round-trips between layouts, validation, null actions."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pixelpad import actions as A


def action_arrays(max_len: int = 20):
    """Valid ``(N, 21)`` actions: binary buttons, axes in [-1, 1]."""

    @st.composite
    def build(draw):
        n = draw(st.integers(1, max_len))
        buttons = draw(arrays(np.float32, (n, A.NUM_BUTTONS), elements=st.sampled_from([0.0, 1.0])))
        axes = draw(
            arrays(
                np.float32,
                (n, 4),
                elements=st.floats(-1, 1, width=32, allow_nan=False, allow_subnormal=False),
            )
        )
        return np.concatenate([buttons, axes], axis=1)

    return build()


def test_names_and_order_match_the_design():
    assert A.ACTION_DIM == 21 and A.NUM_BUTTONS == 17
    assert A.NAMES[:4] == ("dpad_down", "dpad_left", "dpad_right", "dpad_up")
    assert A.NAMES[10:17] == ("south", "west", "east", "north", "back", "start", "guide")
    assert A.NAMES[17:] == ("left_x", "left_y", "right_x", "right_y")
    assert A.CHECKPOINT_ACTION_DIM == 25
    assert list(A.CHECKPOINT_BUTTONS) == sorted(A.CHECKPOINT_BUTTONS)


@given(action_arrays())
def test_dict_round_trip(arr):
    for row in arr:
        assert np.array_equal(A.from_dict(A.to_dict(row)), row)


@given(action_arrays())
def test_nitrogen_columns_round_trip(arr):
    columns = A.to_nitrogen_columns(arr)
    assert set(columns) == set(A.BUTTONS) | {"j_left", "j_right"}
    assert columns["south"].dtype == bool and columns["j_left"].shape == (len(arr), 2)
    assert np.array_equal(A.from_nitrogen_columns(columns), arr)


@given(action_arrays())
def test_checkpoint_layout_round_trip(arr):
    packed = A.to_checkpoint_layout(arr)
    assert packed.shape == (len(arr), 25)
    assert packed.min() >= 0 and packed.max() <= 1
    back = A.from_checkpoint_layout(packed)
    assert np.array_equal(back[:, A.BUTTON_SLICE], arr[:, A.BUTTON_SLICE])
    np.testing.assert_allclose(back[:, A.AXIS_SLICE], arr[:, A.AXIS_SLICE], atol=1e-6)


def test_checkpoint_layout_places_buttons_and_right_stick_directions():
    a = A.from_dict({"south": 1, "start": 1, "right_x": -0.9, "right_y": 0.8, "left_x": 1.0})
    packed = A.to_checkpoint_layout(a)
    on = {A.CHECKPOINT_BUTTONS[i] for i in np.flatnonzero(packed[:21])}
    assert on == {"SOUTH", "START", "RIGHT_LEFT", "RIGHT_BOTTOM"}
    np.testing.assert_allclose(packed[21:], [1.0, 0.5, 0.05, 0.9], atol=1e-6)


def test_null_action_and_dead_zone():
    chunk = A.null_action(3)
    chunk[1, A.INDEX["left_x"]] = 0.05
    chunk[2, A.INDEX["west"]] = 1
    assert A.is_null(chunk).tolist() == [True, True, False]
    assert not A.is_null(A.from_dict({"right_y": -0.5}))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(20), "shape"),
        (np.full(21, np.nan), "non-finite"),
        (np.r_[np.zeros(17), 1.5, 0, 0, 0], "left_x"),
        (np.r_[0.5, np.zeros(20)], "dpad_down"),
        (np.array(["a"] * 21), "dtype"),
    ],
)
def test_validation_rejects_bad_actions(bad, message):
    with pytest.raises(A.ActionError, match=message):
        A.validate(bad)


def test_bad_dicts_and_columns_are_refused():
    with pytest.raises(A.ActionError, match="unknown control"):
        A.from_dict({"jump": 1})
    columns = A.to_nitrogen_columns(A.null_action(2))
    del columns["j_right"]
    with pytest.raises(A.ActionError, match="j_right"):
        A.from_nitrogen_columns(columns)
    with pytest.raises(A.ActionError, match="checkpoint layout"):
        A.from_checkpoint_layout(np.zeros(21))


def test_decode_continuous_and_menu_mask():
    raw = np.r_[np.full(17, 0.7), 1.4, -2.0, 0.1, np.nan].astype(np.float32)
    decoded = A.decode_continuous(raw)
    assert decoded[:17].tolist() == [1.0] * 17
    assert decoded[17:].tolist() == pytest.approx([1.0, -1.0, 0.1, 0.0])
    masked = A.mask_buttons(decoded)
    assert masked[A.INDEX["start"]] == 0 and masked[A.INDEX["south"]] == 1
