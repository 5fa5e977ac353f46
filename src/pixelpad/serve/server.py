"""The policy server: one ZeroMQ ROUTER socket, micro-batched forward passes, never pickle.

Two threads. The I/O thread owns the ROUTER socket: it decodes and checks every request (see
:mod:`pixelpad.serve.protocol`), answers ``info``/``reset`` and every error at once, and queues
``predict`` requests. The batch thread takes the first queued request, waits at most
``batch_window_ms`` for more (and not at all once every recently active session is in the batch),
runs one forward pass per frame shape, and hands the replies back to the I/O thread through an
inproc socket, since a ZeroMQ socket must not be shared between threads.

Why this shape: a ROUTER socket queues messages per peer and never waits on one, so a client that
is slow, sends garbage or vanishes mid-request delays nobody else; replies to a peer that has gone
are dropped. A bad request is answered with an error and costs only its own decode.

Sessions: each client names itself (``session``); ``reset`` tells the server an episode starts, and
the server forgets what it tracked for that session. The policies served today keep no memory (a
policy that reads an earlier frame too gets it from the client in each request, as ``previous``),
so that is only the batching bookkeeping; a policy with memory would clear it here.

Size limits: a request above ``Limits.max_message_bytes`` is answered ``too_large``; one above
twice that (plus 1 MiB) is not even read: the transport drops the connection, so a peer cannot make
the server hold arbitrarily large messages in memory.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import zmq

from pixelpad.actions import ACTION_DIM
from pixelpad.serve import protocol
from pixelpad.serve.batching import Job, SessionTable, collect_batch, group_by_shape
from pixelpad.serve.protocol import Limits, ProtocolError, ServeError

log = logging.getLogger(__name__)

_POLL_S = 0.1


class Predictor(Protocol):
    """What a server serves: a batch of frames in, a batch of action chunks out.

    :class:`pixelpad.serve.predictor.PolicyPredictor` wraps a :class:`pixelpad.policy.Policy`;
    tests use small stand-ins.
    """

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """uint8 ``(B, H, W, 3)`` frames -> float32 ``(B, T, 21)`` pixelpad actions. A predictor whose
        info has ``previous_frame_gap`` > 0 also takes ``previous=`` frames of the same shape."""
        ...

    def info(self) -> dict[str, Any]:
        """What clients may want to know (horizon, image size, ...); msgpack-able values only."""
        ...


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Where a server listens and how it batches."""

    # loopback by default: the policy is not offered to the network unless asked
    host: str = protocol.DEFAULT_HOST
    # 0 picks a free port (see PolicyServer.address)
    port: int = protocol.DEFAULT_PORT
    # when set, requests without this exact token are refused
    token: str | None = dataclasses.field(default=None, repr=False)
    # most frames in one forward pass
    max_batch: int = 8
    # how long the first request of a batch waits for others
    batch_window_ms: float = 3.0
    # predict requests waiting beyond this many are refused with "busy"
    max_queue: int = 64
    limits: Limits = dataclasses.field(default_factory=Limits)

    def __post_init__(self) -> None:
        if not self.host:
            raise ServeError("host must not be empty (127.0.0.1 for this machine only, 0.0.0.0 for all)")
        if not 0 <= self.port < 65536:
            raise ServeError(f"port must be in [0, 65535], got {self.port}")
        if self.token is not None and not 0 < len(self.token) <= protocol.MAX_TOKEN_CHARS:
            raise ServeError(f"token must have 1 to {protocol.MAX_TOKEN_CHARS} characters")
        if self.max_batch < 1 or self.max_queue < 1:
            raise ServeError("max_batch and max_queue must be at least 1")
        if self.batch_window_ms < 0:
            raise ServeError(f"batch_window_ms must be >= 0, got {self.batch_window_ms}")

    @property
    def endpoint(self) -> str:
        return f"tcp://{self.host}:{self.port or '*'}"


def split_envelope(parts: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Routing frames (kept for the reply) and body of a ROUTER message.

    REQ peers and DEALER peers that mimic them put an empty delimiter after the routing ids; a bare
    DEALER peer sends just the body after its id.
    """
    for i in range(1, len(parts)):
        if parts[i] == b"":
            return parts[: i + 1], parts[i + 1 :]
    return parts[:1], parts[1:]


class PolicyServer:
    """Serve a predictor over ZeroMQ until :meth:`stop`.

    Example:
        >>> with PolicyServer(predictor, ServerConfig(port=0)) as server:  # doctest: +SKIP
        ...     client = Client(server.address)
    """

    def __init__(self, predictor: Predictor, config: ServerConfig | None = None) -> None:
        self.predictor = predictor
        self.config = config or ServerConfig()
        self._context = zmq.Context()
        self._replies_endpoint = f"inproc://pixelpad-replies-{id(self)}"
        self._queue: queue.Queue[Job] = queue.Queue(maxsize=self.config.max_queue)
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._bind_error: Exception | None = None
        self._address: str | None = None
        self._threads: list[threading.Thread] = []
        self._sessions = SessionTable()
        self._lock = threading.Lock()  # guards _stats
        self._stats: Counter[str] = Counter()
        self._predictor_info = dict(predictor.info())
        self._two_frames = bool(self._predictor_info.get("previous_frame_gap"))

    # -- life cycle -------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """The bound endpoint, e.g. ``tcp://127.0.0.1:5555`` (the real port when 0 was asked)."""
        if self._address is None:
            raise ServeError("the server is not started")
        return self._address

    def start(self) -> PolicyServer:
        """Bind and start serving in background threads; returns once the socket is bound."""
        if self._threads:
            raise ServeError("the server is already started")
        if self.config.host not in ("127.0.0.1", "localhost", "::1") and self.config.token is None:
            log.warning("serving on %s without a token: anyone who reaches it can use it", self.config.host)
        # Bind the inproc PULL before any PUSH connects to it (older libzmq needs that order).
        replies = self._context.socket(zmq.PULL)
        replies.bind(self._replies_endpoint)
        io_thread = threading.Thread(target=self._io_loop, args=(replies,), name="pixelpad-serve-io")
        batch_thread = threading.Thread(target=self._batch_loop, name="pixelpad-serve-batch")
        self._threads = [io_thread, batch_thread]
        io_thread.start()
        self._ready.wait()
        if self._bind_error is not None:
            io_thread.join()
            self._threads = []
            self._context.term()
            raise ServeError(f"cannot listen on {self.config.endpoint}: {self._bind_error}") from None
        batch_thread.start()
        log.info("serving on %s (batch <= %d, window %.1f ms)", self.address, self.config.max_batch,
                 self.config.batch_window_ms)  # fmt: skip
        return self

    def serve_forever(self) -> None:
        """Start if needed and block until :meth:`stop` (or Ctrl-C, which stops and re-raises)."""
        if not self._threads:
            self.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop both threads and close the sockets; requests in flight get no reply."""
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        if not self._context.closed:
            self._context.term()

    def __enter__(self) -> PolicyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, int]:
        """Counters: requests, errors by code, batches, frames predicted."""
        with self._lock:
            return dict(self._stats)

    # -- I/O thread -------------------------------------------------------------------------------
    def _io_loop(self, replies: zmq.Socket) -> None:
        router = self._context.socket(zmq.ROUTER)
        limits = self.config.limits
        # Past this the transport drops the peer without reading the message: a bound on memory.
        # Between max_message_bytes and here the peer still gets a "too_large" reply.
        router.setsockopt(zmq.MAXMSGSIZE, 2 * limits.max_message_bytes + (1 << 20))
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.SNDHWM, 1000)
        try:
            if self.config.port == 0:
                router.bind(f"tcp://{self.config.host}:*")
            else:
                router.bind(self.config.endpoint)
            self._address = router.getsockopt_string(zmq.LAST_ENDPOINT)
        except zmq.ZMQError as err:
            self._bind_error = err
            router.close()
            replies.close()
            self._ready.set()
            return
        self._ready.set()
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(replies, zmq.POLLIN)
        try:
            while not self._stopping.is_set():
                events = dict(poller.poll(int(_POLL_S * 1000)))
                if replies in events:
                    self._drain(replies, lambda parts: self._send(router, parts))
                if router in events:
                    self._drain(router, lambda parts: self._handle(router, parts))
        finally:
            router.close()
            replies.close()

    @staticmethod
    def _drain(socket: zmq.Socket, handle: Callable[[list[bytes]], None], most: int = 256) -> None:
        """Handle up to ``most`` waiting messages, so neither socket starves the other."""
        for _ in range(most):
            try:
                parts = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            handle(parts)

    def _send(self, router: zmq.Socket, parts: list[bytes]) -> None:
        try:
            router.send_multipart(parts, zmq.NOBLOCK)
        except zmq.Again:  # that peer's queue is full: it is not reading, so it loses this reply
            self._count("dropped_replies")

    def _reply_error(
        self, router: zmq.Socket, envelope: list[bytes], rid: int | None, err: ProtocolError
    ) -> None:
        self._count(f"error_{err.code}")
        log.debug("refused request %s: %s", rid, err)
        self._send(router, [*envelope, protocol.error_reply(rid, err.code, str(err))])

    def _handle(self, router: zmq.Socket, parts: list[bytes]) -> None:
        """Answer or queue one request; never raises for anything the peer sent."""
        self._count("requests")
        envelope, body = split_envelope(parts)
        rid = None
        try:
            if len(body) != 1:
                raise ProtocolError(protocol.BAD_MESSAGE, f"expected one message part, got {len(body)}")
            message = protocol.unpack(body[0], self.config.limits)
            rid = protocol.request_id(message)
            request = protocol.parse_request(message, self.config.limits, token=self.config.token)
            session = request.session or envelope[0].hex()
            if request.cmd == "info":
                self._send(router, [*envelope, protocol.ok_reply(rid, self._info())])
            elif request.cmd == "reset":
                self._sessions.forget(session)
                self._send(router, [*envelope, protocol.ok_reply(rid, {"session": session})])
            else:
                if (request.previous is not None) != self._two_frames:
                    gap = self._predictor_info.get("previous_frame_gap")
                    raise ProtocolError(
                        protocol.BAD_REQUEST,
                        f"this policy reads the frame {gap} frames earlier too: send it as previous"
                        if self._two_frames
                        else "this policy reads one frame: send no previous",
                    )
                job = Job(envelope, rid, session, request.frame, time.monotonic(), request.previous)
                self._enqueue(job)
        except ProtocolError as err:
            self._reply_error(router, envelope, rid, err)
        except Exception as err:  # a bug of ours must not take the server down: log it, tell the peer
            log.exception("failed to handle a request")
            self._reply_error(router, envelope, rid, ProtocolError(protocol.INTERNAL, f"server error: {err}"))

    def _enqueue(self, job: Job) -> None:
        self._sessions.touch([job.session], job.received)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise ProtocolError(
                protocol.BUSY, f"{self.config.max_queue} requests already queued; retry shortly"
            ) from None

    def _info(self) -> dict[str, Any]:
        return {
            "server": "pixelpad",
            "protocol": protocol.PROTOCOL_VERSION,
            "predictor": self._predictor_info,
            "limits": self.config.limits.to_dict(),
            "batching": {"max_batch": self.config.max_batch, "window_ms": self.config.batch_window_ms},
            "auth": self.config.token is not None,
            "stats": self.stats(),
        }

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key] += n

    # -- batch thread -----------------------------------------------------------------------------
    def _batch_loop(self) -> None:
        push = self._context.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(self._replies_endpoint)
        try:
            while not self._stopping.is_set():
                batch = collect_batch(
                    self._queue,
                    self._sessions,
                    max_batch=self.config.max_batch,
                    window_s=self.config.batch_window_ms / 1000,
                    poll_s=_POLL_S,
                )
                for jobs in group_by_shape(batch):
                    for parts in self._run(jobs):
                        push.send_multipart(parts)
        finally:
            push.close()

    def _run(self, jobs: list[Job]) -> list[list[bytes]]:
        """One forward pass over same-shaped frames; one reply (envelope + body) per job."""
        start = time.monotonic()
        try:
            frames = np.stack([job.frame for job in jobs])
            if jobs[0].previous is None:
                actions = self.predictor.predict(frames)
            else:
                actions = self.predictor.predict(frames, previous=np.stack([job.previous for job in jobs]))
            actions = np.asarray(actions, dtype=np.float32)
            if actions.ndim != 3 or actions.shape[0] != len(jobs) or actions.shape[2] != ACTION_DIM:
                raise ServeError(
                    f"predictor returned shape {actions.shape}, expected ({len(jobs)}, T, {ACTION_DIM})"
                )
        except Exception as err:  # the predictor failed: every request of the batch learns why
            log.exception("predictor failed on a batch of %d", len(jobs))
            self._count(f"error_{protocol.INTERNAL}", len(jobs))
            message = f"predictor failed: {err}"
            return [
                [*job.envelope, protocol.error_reply(job.request_id, protocol.INTERNAL, message)]
                for job in jobs
            ]
        done = time.monotonic()
        compute_ms = (done - start) * 1000
        self._sessions.touch([job.session for job in jobs], done)
        self._count("batches")
        self._count("predicted", len(jobs))
        replies = []
        for job, chunk in zip(jobs, actions, strict=True):
            timing = {
                "queue_ms": (start - job.received) * 1000,
                "compute_ms": compute_ms,
                "batch_size": len(jobs),
            }
            result = {"actions": protocol.encode_array(chunk), "timing": timing}
            replies.append([*job.envelope, protocol.ok_reply(job.request_id, result)])
        return replies


def serve(predictor: Predictor, config: ServerConfig | None = None) -> None:
    """Serve ``predictor`` in the foreground until interrupted."""
    PolicyServer(predictor, config).serve_forever()


__all__ = ["PolicyServer", "Predictor", "ServerConfig", "serve", "split_envelope"]
