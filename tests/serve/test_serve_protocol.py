"""The wire format: arrays round-trip as raw bytes; anything off is refused with the right code."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from pixelpad.serve import protocol
from pixelpad.serve.protocol import Limits, ProtocolError

LIMITS = Limits(max_message_bytes=4096, max_frame_side=64)


def test_arrays_round_trip_as_raw_bytes() -> None:
    frame = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    encoded = protocol.encode_array(frame)
    message = protocol.unpack(protocol.pack({"frame": encoded}), LIMITS)
    assert isinstance(message["frame"]["data"], bytes)
    np.testing.assert_array_equal(
        protocol.decode_array(message["frame"], field="f", dtype="uint8", ndim=3), frame
    )
    big_endian = np.linspace(-1, 1, 6, dtype=">f4").reshape(2, 3)
    decoded = protocol.decode_array(
        protocol.unpack(protocol.pack({"a": protocol.encode_array(big_endian)}), LIMITS)["a"],
        field="a", dtype="float32", ndim=2,
    )  # fmt: skip
    np.testing.assert_array_equal(decoded, big_endian)


@pytest.mark.parametrize(
    "array",
    [
        {"data": b"\0" * 11, "shape": [2, 2, 3], "dtype": "uint8"},  # too few bytes
        {"data": b"\0" * 12, "shape": [2, 2], "dtype": "uint8"},  # wrong rank
        {"data": b"\0" * 12, "shape": [2, 2, 3], "dtype": "float32"},  # wrong dtype
        {"data": b"\0" * 3, "shape": [True, 1, 3], "dtype": "uint8"},  # bool is not a size
        {"data": "text", "shape": [1, 1, 3], "dtype": "uint8"},  # str is not bytes
        {"data": b"", "shape": [0, 1, 3], "dtype": "uint8"},  # empty
        {"data": b"\0" * 3, "shape": [1, 1, 3], "dtype": "uint8", "x": 1},  # extra key
    ],
)
def test_malformed_arrays_are_bad_requests(array: dict) -> None:
    with pytest.raises(ProtocolError) as err:
        protocol.decode_array(array, field="frame", dtype="uint8", ndim=3)
    assert err.value.code == protocol.BAD_REQUEST


def test_unpack_refuses_non_maps_extensions_and_oversize() -> None:
    for data in (b"\xc1", msgpack.packb([1, 2]), msgpack.packb({"a": msgpack.ExtType(1, b"x")}), b"\x92\x01"):
        with pytest.raises(ProtocolError) as err:
            protocol.unpack(data, LIMITS)
        assert err.value.code == protocol.BAD_MESSAGE
    with pytest.raises(ProtocolError) as err:
        protocol.unpack(b"\0" * 5000, LIMITS)
    assert err.value.code == protocol.TOO_LARGE


def _predict(frame: dict, **extra: object) -> dict:
    return {"v": 1, "id": 3, "cmd": "predict", "frame": frame, **extra}


def test_parse_request_checks_token_first_then_fields() -> None:
    good = protocol.encode_array(np.zeros((8, 8, 3), np.uint8))
    good = {**good, "data": bytes(good["data"])}
    request = protocol.parse_request(_predict(good, token="s3cret"), LIMITS, token="s3cret")
    assert request.cmd == "predict" and request.id == 3 and request.frame.shape == (8, 8, 3)
    cases = [
        (_predict(good), "s3cret", protocol.UNAUTHORIZED),
        (_predict(good, token="guess"), "s3cret", protocol.UNAUTHORIZED),
        (_predict({**good, "shape": "nope"}, token="guess"), "s3cret", protocol.UNAUTHORIZED),
        (_predict(good, colour="red"), None, protocol.BAD_REQUEST),
        ({**_predict(good), "v": 2}, None, protocol.BAD_REQUEST),
        ({**_predict(good), "cmd": "shutdown"}, None, protocol.UNKNOWN_COMMAND),
        ({"v": 1, "cmd": "info", "frame": good}, None, protocol.BAD_REQUEST),
        ({"v": 1, "cmd": "predict"}, None, protocol.BAD_REQUEST),
        (
            _predict({"data": b"\0" * 65 * 8 * 3, "shape": [65, 8, 3], "dtype": "uint8"}),
            None,
            protocol.TOO_LARGE,
        ),
    ]
    for message, token, code in cases:
        with pytest.raises(ProtocolError) as err:
            protocol.parse_request(message, LIMITS, token=token)
        assert err.value.code == code, message


def test_a_predict_may_carry_the_previous_frame_of_the_frames_shape() -> None:
    def wire(shape):
        array = protocol.encode_array(np.zeros(shape, np.uint8))
        return {**array, "data": bytes(array["data"])}

    frame = wire((8, 8, 3))
    request = protocol.parse_request(_predict(frame, previous=wire((8, 8, 3))), LIMITS, token=None)
    assert (
        request.previous.shape == (8, 8, 3)
        and protocol.parse_request(_predict(frame), LIMITS, token=None).previous is None
    )
    for message in (_predict(frame, previous=wire((8, 9, 3))), {"v": 1, "cmd": "info", "previous": frame}):
        with pytest.raises(ProtocolError) as err:
            protocol.parse_request(message, LIMITS, token=None)
        assert err.value.code == protocol.BAD_REQUEST, message
