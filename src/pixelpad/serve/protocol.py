"""The wire protocol between a policy server and its clients: msgpack maps, never pickle.

One ZeroMQ message part per request and per reply, each a msgpack map. Arrays travel as raw bytes
with their shape and dtype (``{"data": bytes, "shape": [H, W, 3], "dtype": "uint8"}``), so nothing
a peer sends is ever executed or turned into an arbitrary Python object: decoding yields only
maps, lists, strings, numbers and bytes, and every field is checked before use.

Requests::

    {"v": 1, "id": 7, "cmd": "info" | "reset" | "predict",
     "token": "..." (when the server has one), "session": "..." (optional, <= 64 chars),
     "frame": <array uint8 (H, W, 3)> (predict only),
     "previous": <array uint8, frame's shape> (predict only, exactly when the policy reads an earlier
                 frame too: info's predictor.previous_frame_gap > 0)}

Replies::

    {"v": 1, "id": 7, "ok": true, "result": {...}}
    {"v": 1, "id": 7, "ok": false, "error": {"code": "bad_request", "message": "..."}}

``predict`` answers ``{"actions": <array float32 (T, 21)>, "timing": {"queue_ms", "compute_ms",
"batch_size"}}``. Arrays are little-endian. ``id`` is echoed so a client can drop stale replies.
"""

from __future__ import annotations

import dataclasses
import hmac
from typing import Any

import msgpack
import numpy as np

from pixelpad.errors import PixelpadError

PROTOCOL_VERSION = 1
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5555
COMMANDS: tuple[str, ...] = ("info", "reset", "predict")
# Fields a request may carry; anything else is refused so typos fail loudly instead of silently.
REQUEST_FIELDS = frozenset({"v", "id", "cmd", "token", "session", "frame", "previous"})
ARRAY_FIELDS = frozenset({"data", "shape", "dtype"})
# dtype names on the wire and their little-endian numpy types.
WIRE_DTYPES: dict[str, np.dtype] = {"uint8": np.dtype("|u1"), "float32": np.dtype("<f4")}
MAX_SESSION_CHARS = 64
MAX_TOKEN_CHARS = 256

# Error codes a server replies with.
BAD_MESSAGE = "bad_message"  # not a msgpack map
BAD_REQUEST = "bad_request"  # a map, but a field is missing, of the wrong type, shape or dtype
TOO_LARGE = "too_large"  # over the server's size limits
UNAUTHORIZED = "unauthorized"  # missing or wrong token
UNKNOWN_COMMAND = "unknown_command"
BUSY = "busy"  # too many requests queued; retry later
INTERNAL = "internal"  # the server failed; its log says why


class ServeError(PixelpadError):
    """Base of the errors raised by the serving stage."""


class ProtocolError(ServeError):
    """A message that breaks the protocol; ``code`` is the error code sent back to the peer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a server accepts; everything larger is refused with ``too_large``.

    The defaults admit one 4K RGB frame per request and nothing much bigger, so a peer cannot make
    the server allocate more than a few tens of megabytes per message.
    """

    # bytes of one request message (the frame dominates: 3840 x 2160 x 3 = 24.9 MB)
    max_message_bytes: int = 26 * 1024 * 1024
    # longest side of a frame, pixels
    max_frame_side: int = 4096
    # shortest side of a frame, pixels (a policy cannot see anything in less)
    min_frame_side: int = 8

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def pack(message: dict[str, Any]) -> bytes:
    """A map as msgpack bytes (bin for bytes, str for text)."""
    return msgpack.packb(message, use_bin_type=True)


def unpack(data: bytes, limits: Limits) -> dict[str, Any]:
    """Decode one message into a map, refusing anything that is not a small msgpack map.

    Raises:
        ProtocolError: ``too_large`` past ``limits.max_message_bytes``; ``bad_message`` for bytes
            that are not msgpack, trailing data, extension types, non-string keys or a non-map.
    """
    if len(data) > limits.max_message_bytes:
        raise ProtocolError(
            TOO_LARGE, f"message of {len(data)} bytes exceeds the limit of {limits.max_message_bytes}"
        )
    try:
        message = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            max_ext_len=0,
            max_str_len=limits.max_message_bytes,
            max_bin_len=limits.max_message_bytes,
            max_array_len=1024,
            max_map_len=64,
        )
    except (ValueError, TypeError, OverflowError) as err:
        raise ProtocolError(BAD_MESSAGE, f"not a msgpack message: {err or type(err).__name__}") from err
    if not isinstance(message, dict):
        raise ProtocolError(BAD_MESSAGE, f"expected a msgpack map, got {type(message).__name__}")
    return message


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """An array as ``{"data", "shape", "dtype"}``; only uint8 and float32 travel."""
    arr = np.asarray(array)
    for name, dtype in WIRE_DTYPES.items():
        if arr.dtype == dtype or (arr.dtype.kind == dtype.kind and arr.dtype.itemsize == dtype.itemsize):
            arr = np.ascontiguousarray(arr, dtype=dtype)
            return {"data": memoryview(arr).cast("B"), "shape": list(arr.shape), "dtype": name}
    raise ServeError(f"arrays travel as {' or '.join(WIRE_DTYPES)}, got {arr.dtype}")


def decode_array(value: Any, *, field: str, dtype: str, ndim: int) -> np.ndarray:
    """The array a peer sent in ``field``, checked against the expected dtype and rank.

    The returned array is a read-only view of the message bytes: no copy, no object construction.

    Raises:
        ProtocolError: ``bad_request`` when the value is not an array map, the dtype or rank differ,
            a dimension is not a positive int, or the byte count disagrees with the shape.
    """
    if not isinstance(value, dict) or set(value) != ARRAY_FIELDS:
        raise ProtocolError(BAD_REQUEST, f"{field!r} must be a map with keys {sorted(ARRAY_FIELDS)}")
    data, shape, wire_dtype = value["data"], value["shape"], value["dtype"]
    if not isinstance(data, bytes):
        raise ProtocolError(BAD_REQUEST, f"{field}.data must be bytes, got {type(data).__name__}")
    if wire_dtype != dtype:
        raise ProtocolError(BAD_REQUEST, f"{field}.dtype must be {dtype!r}, got {wire_dtype!r}")
    if (
        not isinstance(shape, list)
        or len(shape) != ndim
        or not all(type(n) is int and n > 0 for n in shape)  # bool is an int subclass: refuse it
    ):
        raise ProtocolError(BAD_REQUEST, f"{field}.shape must be {ndim} positive ints, got {shape!r}")
    np_dtype = WIRE_DTYPES[dtype]
    expected = int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize
    if len(data) != expected:
        raise ProtocolError(
            BAD_REQUEST, f"{field}: shape {shape} of {dtype} needs {expected} bytes, got {len(data)}"
        )
    return np.frombuffer(data, dtype=np_dtype).reshape(shape)


def decode_frame(value: Any, limits: Limits, field: str = "frame") -> np.ndarray:
    """A request's ``frame`` (or ``previous``): uint8 ``(H, W, 3)`` within the size limits."""
    frame = decode_array(value, field=field, dtype="uint8", ndim=3)
    height, width, channels = frame.shape
    if channels != 3:
        raise ProtocolError(BAD_REQUEST, f"{field} must be RGB (H, W, 3), got shape {list(frame.shape)}")
    if max(height, width) > limits.max_frame_side:
        raise ProtocolError(
            TOO_LARGE, f"{field} {width}x{height} exceeds the limit of {limits.max_frame_side} pixels a side"
        )
    if min(height, width) < limits.min_frame_side:
        raise ProtocolError(
            BAD_REQUEST, f"{field} {width}x{height} is smaller than {limits.min_frame_side} pixels a side"
        )
    return frame


@dataclasses.dataclass(frozen=True)
class Request:
    """A checked request; ``frame`` (uint8 ``(H, W, 3)``) is set for ``predict`` only, ``previous`` (the
    same shape) when a predict carries it."""

    id: int | None
    cmd: str
    session: str | None = None
    frame: np.ndarray | None = None
    previous: np.ndarray | None = None


def request_id(message: dict[str, Any]) -> int | None:
    """The request's ``id`` if it is a usable int (echoed even in error replies), else None."""
    value = message.get("id")
    return value if type(value) is int and 0 <= value < 2**63 else None


def parse_request(message: dict[str, Any], limits: Limits, *, token: str | None) -> Request:
    """Check a decoded request field by field, the token before anything else it carries.

    Args:
        message: the map from :func:`unpack`.
        limits: the server's limits.
        token: the server's token; None admits every request.

    Raises:
        ProtocolError: with the code to reply (``unauthorized``, ``unknown_command``,
            ``bad_request``, ``too_large``) and a message that says which field is wrong.
    """
    if token is not None:
        given = message.get("token")
        if not isinstance(given, str) or len(given) > MAX_TOKEN_CHARS:
            raise ProtocolError(UNAUTHORIZED, "this server needs a token (Client(..., token=...))")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ProtocolError(UNAUTHORIZED, "wrong token")
    unknown = sorted(map(str, set(message) - REQUEST_FIELDS))
    if unknown:
        raise ProtocolError(BAD_REQUEST, f"unknown field(s) {unknown}; known: {sorted(REQUEST_FIELDS)}")
    if message.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(
            BAD_REQUEST, f"protocol version must be {PROTOCOL_VERSION}, got {message.get('v')!r}"
        )
    if "id" in message and request_id(message) is None:
        raise ProtocolError(BAD_REQUEST, f"id must be an int in [0, 2**63), got {message['id']!r}")
    cmd = message.get("cmd")
    if cmd not in COMMANDS:
        raise ProtocolError(UNKNOWN_COMMAND, f"cmd must be one of {list(COMMANDS)}, got {cmd!r}")
    session = message.get("session")
    if session is not None and (not isinstance(session, str) or not 0 < len(session) <= MAX_SESSION_CHARS):
        raise ProtocolError(BAD_REQUEST, f"session must be a string of 1 to {MAX_SESSION_CHARS} characters")
    frame = previous = None
    if cmd == "predict":
        if "frame" not in message:
            raise ProtocolError(BAD_REQUEST, "predict needs a frame")
        frame = decode_frame(message["frame"], limits)
        if "previous" in message:
            previous = decode_frame(message["previous"], limits, field="previous")
            if previous.shape != frame.shape:
                raise ProtocolError(
                    BAD_REQUEST,
                    f"previous {list(previous.shape)} must have the frame's shape {list(frame.shape)}",
                )
    elif "frame" in message or "previous" in message:
        raise ProtocolError(BAD_REQUEST, f"{cmd} takes no frame")
    return Request(id=request_id(message), cmd=cmd, session=session, frame=frame, previous=previous)


def ok_reply(request_id: int | None, result: dict[str, Any]) -> bytes:
    return pack({"v": PROTOCOL_VERSION, "id": request_id, "ok": True, "result": result})


def error_reply(request_id: int | None, code: str, message: str) -> bytes:
    return pack(
        {"v": PROTOCOL_VERSION, "id": request_id, "ok": False, "error": {"code": code, "message": message}}
    )
