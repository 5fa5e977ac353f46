"""pixelpad: learn to play games from gameplay videos with a gamepad overlay, and play real games.

Stages (see DESIGN.md): ``overlay`` (extract actions from videos), ``dataset`` (episodes on disk),
``policy`` (vision-to-gamepad model), ``train`` (behaviour cloning), ``sim`` (any game as a
frame-stepped Gymnasium env), ``eval`` (tasks and reports), ``serve`` (policy server, play loop).
``pixelpad.actions`` is the vocabulary they share.
"""

__version__ = "0.1.0"
