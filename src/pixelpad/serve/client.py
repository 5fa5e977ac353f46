"""The client of a policy server: timeouts, reconnect, and replies matched to their requests.

The socket is a DEALER that frames its messages like a REQ socket (empty delimiter, then the body),
so it never gets stuck in REQ's strict send/receive alternation. Each request carries an id; a reply
that does not match (a late answer to an earlier try) is dropped. When no reply comes within
``timeout`` the client closes its socket, discarding whatever it had queued, reconnects and sends
the request again ("lazy pirate"), ``retries`` times before it gives up. Requests are idempotent,
so resending is safe.

A client is used from one thread at a time; give each thread (each env) its own.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from typing import Any

import numpy as np
import zmq

from pixelpad.serve import protocol
from pixelpad.serve.protocol import Limits, ProtocolError, ServeError

log = logging.getLogger(__name__)


class ServeTimeout(ServeError):
    """No reply from the server within the timeout, after every retry."""


class RemoteError(ServeError):
    """The server answered with an error; ``code`` is one of the protocol's error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"server refused the request ({code}): {message}")
        self.code = code


def normalize_address(address: str) -> str:
    """``host:port`` or ``tcp://host:port`` -> ``tcp://host:port``."""
    if "://" not in address:
        address = f"tcp://{address}"
    if not address.startswith(("tcp://", "ipc://", "inproc://")):
        raise ServeError(f"unsupported address {address!r}; expected tcp://HOST:PORT")
    return address


class Client:
    """Ask a :class:`~pixelpad.serve.server.PolicyServer` for action chunks.

    Args:
        address: ``tcp://host:port`` of the server.
        token: the server's token, when it has one.
        timeout: seconds to wait for each reply before reconnecting.
        retries: how many times a request is sent again after a timeout.
        session: a name for this client on the server (batching and ``reset`` use it);
            random by default, and kept across reconnects.

    Example:
        >>> with Client("tcp://127.0.0.1:5555") as client:  # doctest: +SKIP
        ...     chunk = client.predict(frame)  # (T, 21)
    """

    def __init__(
        self,
        address: str = f"tcp://{protocol.DEFAULT_HOST}:{protocol.DEFAULT_PORT}",
        *,
        token: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        session: str | None = None,
    ) -> None:
        if timeout <= 0 or retries < 0:
            raise ServeError(f"timeout must be > 0 and retries >= 0, got {timeout} and {retries}")
        self.address = normalize_address(address)
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.session = session or uuid.uuid4().hex
        # Server-side timing of the last predict: queue_ms, compute_ms, batch_size.
        self.last_timing: dict[str, float] = {}
        self._context = zmq.Context.instance()
        self._socket: zmq.Socket | None = None
        self._ids = itertools.count(1)
        self._limits = Limits(max_message_bytes=1 << 30)  # replies come from a server we chose

    # -- commands ---------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """The server's description: predictor (horizon, image size...), limits, batching, stats."""
        return self._request({"cmd": "info"})

    def reset(self) -> dict[str, Any]:
        """Tell the server a new episode starts for this session."""
        return self._request({"cmd": "reset"})

    def predict(self, frame: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """One action chunk for one frame.

        Args:
            frame: uint8 ``(H, W, 3)`` RGB.
            previous: for a policy that reads an earlier frame too (``info()["predictor"]
                ["previous_frame_gap"]`` > 0), that frame, of the same shape; None otherwise.

        Returns:
            float32 ``(T, 21)`` pixelpad actions.
        """
        fields: dict[str, Any] = {"cmd": "predict"}
        for name, value in (("frame", frame), ("previous", previous)):
            if value is None and name == "previous":
                continue
            arr = np.asarray(value)
            if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
                raise ServeError(f"{name} must be uint8 (H, W, 3), got {arr.dtype} {arr.shape}")
            fields[name] = protocol.encode_array(arr)
        result = self._request(fields)
        try:
            actions = protocol.decode_array(result.get("actions"), field="actions", dtype="float32", ndim=2)
        except ProtocolError as err:
            raise ServeError(f"malformed reply from {self.address}: {err}") from err
        self.last_timing = dict(result.get("timing") or {})
        return actions.copy()

    # -- plumbing ---------------------------------------------------------------------------------
    def _request(self, fields: dict[str, Any]) -> dict[str, Any]:
        request_id = next(self._ids)
        message = {"v": protocol.PROTOCOL_VERSION, "id": request_id, "session": self.session, **fields}
        if self.token is not None:
            message["token"] = self.token
        payload = protocol.pack(message)
        for attempt in range(self.retries + 1):
            socket = self._connect()
            try:
                socket.send_multipart([b"", payload])
            except zmq.Again:  # the outgoing queue is full: the server is not taking messages
                reply = None
            else:
                reply = self._await(socket, request_id)
            if reply is not None:
                return reply
            log.warning(
                "no reply from %s within %.1f s (try %d of %d); reconnecting",
                self.address, self.timeout, attempt + 1, self.retries + 1,
            )  # fmt: skip
            self._disconnect()
        raise ServeTimeout(
            f"no reply from {self.address} after {self.retries + 1} tries of {self.timeout:.1f} s; "
            "is `pixelpad serve` running there, and reachable?"
        )

    def _await(self, socket: zmq.Socket, request_id: int) -> dict[str, Any] | None:
        """The result of request ``request_id``, or None on timeout; raises on an error reply."""
        deadline = time.monotonic() + self.timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if not socket.poll(max(1, int(remaining * 1000)), zmq.POLLIN):
                continue
            parts = socket.recv_multipart()
            try:
                if len(parts) != 2 or parts[0] != b"":
                    raise ProtocolError(protocol.BAD_MESSAGE, f"expected 2 message parts, got {len(parts)}")
                reply = protocol.unpack(parts[1], self._limits)
            except ProtocolError as err:
                raise ServeError(f"malformed reply from {self.address}: {err}") from err
            if reply.get("id") != request_id:
                continue  # a late reply to an earlier request
            if reply.get("ok") is True and isinstance(reply.get("result"), dict):
                return reply["result"]
            error = reply.get("error")
            if isinstance(error, dict):
                raise RemoteError(str(error.get("code")), str(error.get("message")))
            raise ServeError(f"malformed reply from {self.address}: neither a result nor an error")
        return None

    def _connect(self) -> zmq.Socket:
        if self._socket is None:
            socket = self._context.socket(zmq.DEALER)
            socket.setsockopt(zmq.LINGER, 0)
            socket.setsockopt(zmq.SNDTIMEO, int(self.timeout * 1000))
            socket.connect(self.address)
            self._socket = socket
        return self._socket

    def _disconnect(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        self._disconnect()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.address!r}, session={self.session!r}, timeout={self.timeout})"
