"""Serve a policy over the network, safely, and let it play a game.

* :class:`PolicyServer` answers ``info``, ``reset`` and ``predict`` over ZeroMQ with msgpack messages
  (frames as raw bytes + shape + dtype, never pickle), batching concurrent requests into one
  forward pass; :class:`Client` asks it, with timeouts and reconnect.
* :func:`play` runs a policy (local, or remote through a Client) on a game env with receding-horizon
  control, menu buttons masked, and records a side-by-side video and the actions.
* :class:`PolicyPredictor` / :func:`load_policy` put a :class:`pixelpad.policy.Policy` behind a server.

Names are imported lazily, so ``import pixelpad.serve`` (and ``pixelpad --help``) stays cheap.
"""

from __future__ import annotations

from pixelpad._lazy import lazy_getattr

_EXPORTS = {
    "Client": "pixelpad.serve.client",
    "RemoteError": "pixelpad.serve.client",
    "ServeTimeout": "pixelpad.serve.client",
    "Limits": "pixelpad.serve.protocol",
    "ProtocolError": "pixelpad.serve.protocol",
    "ServeError": "pixelpad.serve.protocol",
    "PolicyServer": "pixelpad.serve.server",
    "Predictor": "pixelpad.serve.server",
    "ServerConfig": "pixelpad.serve.server",
    "serve": "pixelpad.serve.server",
    "play": "pixelpad.serve.player",
    "PlayResult": "pixelpad.serve.player",
    "PlayRecorder": "pixelpad.serve.recording",
    "PolicyPredictor": "pixelpad.serve.predictor",
    "load_policy": "pixelpad.serve.predictor",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
