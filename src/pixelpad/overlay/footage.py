"""Game footage to put overlays on: recordings of real games, any video, or procedural scenes.

Footage is just frames, ``(N, H, W, 3)`` uint8 RGB. Three sources:

* :func:`record_game` plays a real Debian game in the simulator (:class:`pixelpad.sim.GameEnv`,
  virtual display, frame-stepped) with a :func:`random_actions` player and keeps what it shows;
* :func:`video_footage` decodes a video (a user's recording, a stream dump) resized to a size;
* :func:`procedural_footage` draws scrolling, parallax scenes with moving sprites: no game, no
  display, fully deterministic, for tests and for volume.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from pixelpad.overlay.sequences import random_actions

Size = tuple[int, int]  # height, width


def record_game(
    game: str, n: int, size: Size = (360, 640), *, fps: float = 30.0, seed: int = 0
) -> np.ndarray:
    """``n`` frames ``(n, H, W, 3)`` of ``game`` (a simulator profile) played by a random player.

    Needs the simulator's requirements (Xvfb and the game installed); its errors propagate.
    """
    from pixelpad.sim import GameEnv

    actions = random_actions(n, seed)
    env = GameEnv(game, size=(size[1], size[0]), fps=fps)
    try:
        obs, _ = env.reset(seed=seed)
        frames = [obs]
        for action in actions[1:]:
            obs, *_ = env.step(action)
            frames.append(obs)
    finally:
        env.close()
    return _fit(np.stack(frames), size)


def _fit(frames: np.ndarray, size: Size) -> np.ndarray:
    if frames.shape[1:3] == size:
        return frames
    return np.stack([cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_AREA) for f in frames])


def video_footage(
    path: str | os.PathLike[str], size: Size | None = None, max_frames: int | None = None
) -> np.ndarray:
    """Frames of the video at ``path`` (all, or the first ``max_frames``), resized to ``size``."""
    from pixelpad.video import iter_frames

    frames = []
    for frame in iter_frames(path, size=size):
        frames.append(frame.image)
        if max_frames is not None and len(frames) >= max_frames:
            break
    return np.stack(frames)


def procedural_footage(n: int, size: Size = (360, 640), seed: int = 0) -> np.ndarray:
    """``n`` frames ``(n, H, W, 3)`` of a game-like scene: a scrolling textured backdrop, two parallax
    layers of shapes, moving sprites and a HUD bar, in a random palette."""
    rng = np.random.default_rng(seed)
    h, w = size
    # A backdrop twice as wide as the frame that scrolls sideways: smooth noise in two colours.
    noise = cv2.resize(rng.random((h // 16 + 2, w // 8 + 2)).astype(np.float32), (2 * w, h), cv2.INTER_CUBIC)
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    backdrop = (noise[..., None] * c0 + (1 - noise[..., None]) * c1).clip(0, 255).astype(np.uint8)
    layers = []
    for depth in (0.5, 1.0):
        layer = np.zeros((h, 2 * w, 4), np.uint8)
        for _ in range(int(25 * depth) + 5):
            colour = (*(int(c) for c in rng.integers(0, 256, 3)), 255)
            x, y = int(rng.integers(0, 2 * w)), int(rng.integers(h // 3, h))
            if rng.random() < 0.5:
                size_w = int(rng.integers(10, 80))
                cv2.rectangle(layer, (x, y), (x + size_w, h), colour, -1)
            else:
                cv2.circle(layer, (x, y), int(rng.integers(5, 40)), colour, -1, cv2.LINE_AA)
        layers.append((depth, layer))
    sprites = [
        (
            rng.uniform(0, w),
            rng.uniform(0, h),
            rng.uniform(-4, 4),
            rng.uniform(-3, 3),
            int(rng.integers(6, 24)),
            tuple(int(c) for c in rng.integers(0, 256, 3)),
        )
        for _ in range(int(rng.integers(3, 9)))
    ]
    speed = rng.uniform(1, 4)
    frames = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        shift = int(t * speed) % w
        frame = backdrop[:, shift : shift + w].copy()
        for depth, layer in layers:
            s = int(t * speed * (1 + depth)) % w
            part = layer[:, s : s + w]
            alpha = part[..., 3:4].astype(np.float32) / 255
            frame = (part[..., :3] * alpha + frame * (1 - alpha)).astype(np.uint8)
        for i, (x, y, vx, vy, r, colour) in enumerate(sprites):
            x, y = (x + vx) % w, (y + vy) % h
            sprites[i] = (x, y, vx, vy, r, colour)
            cv2.circle(frame, (int(x), int(y)), r, colour, -1, cv2.LINE_AA)
        cv2.rectangle(frame, (8, 8), (8 + (t * 3) % (w // 3), 18), (230, 40, 40), -1)
        cv2.putText(frame, f"{t * 10:06d}", (w - 110, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
        frames[t] = frame
    return frames
