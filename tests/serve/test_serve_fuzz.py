"""1,000 malformed messages: each gets an error reply, and the server still answers properly after."""

from __future__ import annotations

from collections.abc import Callable

import msgpack
import numpy as np
import pytest
import zmq
from serve_standins import MeanPredictor, expected_chunk, flat_frame

from pixelpad.serve import Client, Limits, PolicyServer, ServerConfig, protocol

TOKEN = "fuzz-token"
LIMITS = Limits(max_message_bytes=64 * 1024, max_frame_side=128)
ERROR_CODES = {
    protocol.BAD_MESSAGE,
    protocol.BAD_REQUEST,
    protocol.TOO_LARGE,
    protocol.UNAUTHORIZED,
    protocol.UNKNOWN_COMMAND,
}


def _frame(shape: list, dtype: str = "uint8", data: object = None) -> dict:
    if data is None:
        data = b"\x07" * int(np.prod([max(int(n), 0) for n in shape]))
    return {"data": data, "shape": shape, "dtype": dtype}


def _request(rng: np.random.Generator, **fields: object) -> dict:
    base = {"v": 1, "id": int(rng.integers(0, 1 << 30)), "cmd": "predict", "frame": _frame([8, 8, 3])}
    if rng.random() < 0.85:  # most carry the token, so they reach the deeper checks
        base["token"] = TOKEN
    base.update(fields)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()
_BAD_FRAMES = [
    _frame([8, 8]),
    _frame([8, 8, 4]),
    _frame([8, 8, 3, 1]),
    _frame([0, 8, 3]),
    _frame([-1, 8, 3], data=b""),
    _frame([True, 8, 3], data=b"\0" * 24),
    _frame([8, 8, "3"], data=b"\0" * 192),
    _frame([1 << 40, 1 << 40, 3], data=b"\0"),
    _frame([8, 8, 3], dtype="float32"),
    _frame([8, 8, 3], dtype="<u1"),
    _frame([8, 8, 3], dtype=5),
    _frame([8, 8, 3], data="a string"),
    _frame([8, 8, 3], data=b"\0" * 191),
    _frame([8, 8, 3], data=b"\0" * 193),
    _frame([8, 8, 3], data=[1, 2, 3]),
    _frame([200, 8, 3]),  # a side over the limit
    _frame([4, 4, 3]),  # too small to see anything
    {**_frame([8, 8, 3]), "extra": 1},
    {"data": b"\0" * 192, "shape": [8, 8, 3]},
    b"\0" * 192,
    [8, 8, 3],
    None,
]


def _malformed(rng: np.random.Generator) -> list[bytes]:
    """One malformed request as message parts (after the empty delimiter)."""
    valid = msgpack.packb(_request(rng), use_bin_type=True)
    kind = int(rng.integers(0, 13))
    pick: Callable[[list], object] = lambda options: options[int(rng.integers(0, len(options)))]  # noqa: E731
    if kind == 0:  # random bytes
        return [rng.bytes(int(rng.integers(0, 300)))]
    if kind == 1:  # a valid request cut short
        return [valid[: int(rng.integers(0, len(valid)))]]
    if kind == 2:  # msgpack, but not a map
        return [msgpack.packb(pick([1, -7, 2.5, None, True, "info", b"info", [1, 2], []]), use_bin_type=True)]
    if kind == 3:  # a header field of the wrong type or value
        field, value = pick(
            [
                ("v", 0), ("v", 2), ("v", "1"), ("v", None), ("v", _DROP),
                ("id", -1), ("id", "7"), ("id", 1.5), ("id", True), ("id", (1 << 64) - 1),
                ("cmd", ""), ("cmd", "PREDICT"), ("cmd", 5), ("cmd", None), ("cmd", "stop"), ("cmd", _DROP),
                ("session", ""), ("session", "s" * 65), ("session", 3), ("session", b"raw"),
                ("token", "wrong"), ("token", 123), ("token", ""), ("token", "t" * 1000),
            ]
        )  # fmt: skip
        message = _request(rng, **{field: value})
        if field == "token":
            message["token"] = value
        return [msgpack.packb(message, use_bin_type=True)]
    if kind == 4:  # a malformed frame
        message = _request(rng, frame=pick(_BAD_FRAMES))
        message["token"] = TOKEN
        return [msgpack.packb(message, use_bin_type=True)]
    if kind == 5:  # an unknown field
        message = _request(rng, **{pick(["frames", "seed", "pickle", "x"]): 1})
        message["token"] = TOKEN
        return [msgpack.packb(message, use_bin_type=True)]
    if kind == 6:  # extension types
        value = pick([msgpack.ExtType(1, b"x"), msgpack.ExtType(127, b"\0" * 12), msgpack.Timestamp(1, 0)])
        return [msgpack.packb(_request(rng, frame=value), use_bin_type=True)]
    if kind == 7:  # nested deeper than any request
        depth = int(rng.integers(200, 5000))
        return [b"\x81\xa1x" + b"\x91" * depth + b"\x00"]
    if kind == 8:  # over the size limit
        return [msgpack.packb(_request(rng, pad=b"\0" * (LIMITS.max_message_bytes + 1)), use_bin_type=True)]
    if kind == 9:  # several parts, or none
        return pick([[valid, b"extra"], [valid, valid], []])
    if kind == 10:  # keys that are not strings, or too many keys
        many_keys = msgpack.packb({f"k{i}": i for i in range(100)})
        return [pick([b"\x81\x01\x02", b"\x81\xc4\x01v\x01", many_keys])]
    if kind == 11:  # a frame where none belongs, or none where one must be
        message = _request(rng, cmd=pick(["info", "reset"]))
        if rng.random() < 0.5:
            message = _request(rng, frame=_DROP)
        message["token"] = TOKEN
        return [msgpack.packb(message, use_bin_type=True)]
    # a valid request without the token
    message = _request(rng)
    message.pop("token", None)
    return [msgpack.packb(message, use_bin_type=True)]


@pytest.mark.timeout(120)
def test_a_thousand_malformed_messages_each_get_an_error_and_serving_goes_on() -> None:
    rng = np.random.default_rng(1234)
    predictor = MeanPredictor()
    config = ServerConfig(port=0, token=TOKEN, limits=LIMITS)
    with PolicyServer(predictor, config) as server:
        peer = zmq.Context.instance().socket(zmq.DEALER)
        peer.setsockopt(zmq.LINGER, 0)
        peer.connect(server.address)
        codes: list[str] = []
        for _ in range(1000):
            parts = _malformed(rng)
            bare = bool(parts) and rng.random() < 0.2  # some peers send no empty delimiter
            peer.send_multipart(parts if bare else [b"", *parts])
            assert peer.poll(5000), f"no reply to {parts!r:.200}"
            reply = msgpack.unpackb(peer.recv_multipart()[-1], raw=False)
            assert reply["ok"] is False, f"accepted a malformed request {parts!r:.200}"
            assert reply["error"]["code"] in ERROR_CODES and reply["error"]["message"]
            codes.append(reply["error"]["code"])
        peer.close()
        assert predictor.batch_sizes == []  # nothing malformed reached the model
        assert set(codes) == ERROR_CODES  # every kind of refusal was exercised
        with Client(server.address, token=TOKEN, timeout=5) as client:
            np.testing.assert_allclose(client.predict(flat_frame(99)), expected_chunk(flat_frame(99)))
            assert client.info()["stats"]["requests"] == 1002  # the fuzz, the predict, this info


@pytest.mark.timeout(60)
def test_a_message_past_the_hard_cap_drops_only_that_peer() -> None:
    predictor = MeanPredictor()
    with PolicyServer(predictor, ServerConfig(port=0, limits=LIMITS)) as server:
        peer = zmq.Context.instance().socket(zmq.DEALER)
        peer.setsockopt(zmq.LINGER, 0)
        peer.connect(server.address)
        peer.send_multipart([b"", b"\0" * (2 * LIMITS.max_message_bytes + (2 << 20))])
        assert not peer.poll(500)  # dropped unread: no reply
        peer.close()
        with Client(server.address, timeout=5) as client:
            np.testing.assert_allclose(client.predict(flat_frame(3)), expected_chunk(flat_frame(3)))
