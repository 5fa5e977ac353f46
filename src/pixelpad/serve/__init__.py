"""Serve a policy over the network, safely, and let it play a game.

* :class:`PolicyServer` answers ``info``, ``reset`` and ``predict`` over ZeroMQ with msgpack messages
  (frames as raw bytes + shape + dtype, never pickle), batching concurrent requests into one
  forward pass; :class:`Client` asks it, with timeouts and reconnect.
* :func:`play` runs a policy (local or remote) on a game env with receding-horizon control and
  records what it saw and did.
"""

from pixelpad.serve.client import Client, RemoteError, ServeTimeout
from pixelpad.serve.protocol import Limits, ProtocolError, ServeError
from pixelpad.serve.server import PolicyServer, Predictor, ServerConfig, serve

__all__ = [
    "Client",
    "Limits",
    "PolicyServer",
    "Predictor",
    "ProtocolError",
    "RemoteError",
    "ServeError",
    "ServeTimeout",
    "ServerConfig",
    "serve",
]
