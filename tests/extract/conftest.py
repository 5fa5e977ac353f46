"""Fixtures of the extraction tests: synthetic overlay videos of real skins over real game footage,
and the bad files a real batch meets."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from pixelpad.overlay.library import SKINS_ENV, default_skins_dir

SKIN_SUBDIRS = ("nintendospy/pc360-default", "input-overlay/dualsense")


@pytest.fixture(scope="session")
def skin_dirs() -> tuple[str, ...]:
    root = default_skins_dir()
    dirs = tuple(str(Path(root or ".") / d) for d in SKIN_SUBDIRS)
    if root is None or not all(Path(d).is_dir() for d in dirs):
        pytest.fail(f"real skins not found under {root}: set {SKINS_ENV} to a copy of shared/skins")
    return dirs


@pytest.fixture(scope="session")
def game_footage() -> np.ndarray:
    """90 frames (360, 640, 3) of chromium-bsu played by a random player in the simulator."""
    from pixelpad.overlay.footage import record_game
    from pixelpad.sim import SimError

    try:
        return record_game("chromium-bsu", 90, (360, 640), seed=3)
    except SimError as err:
        pytest.fail(f"cannot record real game footage (run make install): {err}")


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for _ in range(10):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.fixture(scope="session")
def video_batch(tmp_path_factory, skin_dirs, game_footage) -> dict[str, Path]:
    """Name → video: overlays of two real skins, an idle player, no overlay, a portrait video, and
    zero-byte, garbage, truncated and audio-only files. Ground truth sits beside each synthetic one."""
    from pixelpad.overlay.composite import Placement
    from pixelpad.overlay.library import load_skin
    from pixelpad.overlay.synth import synthesize_video
    from pixelpad.video import VideoWriter

    root = tmp_path_factory.mktemp("videos")
    pc360 = load_skin(skin_dirs[0])[0]
    dualsense = next(s for s in load_skin(skin_dirs[1]) if s.name.endswith("white"))
    videos = {
        "pc360": root / "pc360.mp4",
        "dualsense": root / "dualsense.mp4",
        "idle": root / "idle.mp4",
        "portrait": root / "portrait.mp4",
        "plain": root / "plain.mp4",
    }
    synthesize_video(game_footage, pc360, videos["pc360"], placement=Placement("br", 1.0, 0.8), seed=1)
    synthesize_video(game_footage, dualsense, videos["dualsense"], placement=Placement("tl", 1.2, 0.7),
                     bitrate=2e6, seed=2)  # fmt: skip
    idle = np.zeros((len(game_footage), 21), np.float32)
    synthesize_video(game_footage, pc360, videos["idle"], actions=idle, placement=Placement("bl", 1.0, 0.9))
    portrait = np.ascontiguousarray(game_footage[:, :, 140:500].transpose(0, 2, 1, 3))  # (360, 360) -> tall
    portrait = np.ascontiguousarray(np.concatenate([portrait, portrait[:, ::-1]], axis=1))  # (720, 360)
    synthesize_video(portrait, pc360, videos["portrait"], placement=Placement("tr", 2.5, 0.9), seed=4)
    with VideoWriter(videos["plain"], 30) as out:
        for frame in game_footage[:60]:
            out.write(frame)
    videos["empty"] = root / "empty.mp4"
    videos["empty"].write_bytes(b"")
    videos["garbage"] = root / "garbage.mp4"
    videos["garbage"].write_bytes(os.urandom(5000))
    videos["truncated"] = root / "truncated.mp4"
    data = videos["pc360"].read_bytes()
    videos["truncated"].write_bytes(data[: len(data) // 2])
    videos["audio"] = root / "audio.mp4"
    _audio_only(videos["audio"])
    return videos
