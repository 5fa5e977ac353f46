"""pixelpad.video: exact frame access, sampling against a plain decode-everything reference, errors."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataset.factories import decoded_index, indexed_frames, make_video
from pixelpad import video

N = 60


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 indexed frames at 20 fps, a key frame every 8."""
    return make_video(tmp_path_factory.mktemp("video") / "clip.mp4", N, gop=8)


def all_frames(path: Path) -> list[np.ndarray]:
    """Reference: decode every frame with plain PyAV, no seeking."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_probe(clip: Path) -> None:
    info = video.probe(clip)
    assert (info.width, info.height, info.num_frames, info.codec) == (48, 32, N, "h264")
    assert info.fps == pytest.approx(20) and info.duration == pytest.approx(N / 20)


def test_write_read_roundtrip_within_codec_tolerance(clip: Path) -> None:
    frames = video.read_frames(clip)
    assert frames.shape == (N, 32, 48, 3) and frames.dtype == np.uint8
    error = np.abs(frames.astype(int) - indexed_frames(N).astype(int))
    assert float(error.mean()) < 1.0 and float(np.percentile(error, 99)) <= 6


@settings(max_examples=15, deadline=None)
@given(start=st.integers(0, N - 1), count=st.integers(1, 20))
def test_read_frames_is_exact_after_seeking(clip: Path, start: int, count: int) -> None:
    count = min(count, N - start)
    frames = video.read_frames(clip, start_frame=start, num_frames=count)
    assert [decoded_index(f) for f in frames] == list(range(start, start + count))


def test_time_range(clip: Path) -> None:
    got = [f.index for f in video.iter_frames(clip, start=1.0, end=1.5)]
    assert got == list(range(20, 30))
    assert all(decoded_index(f.image) == f.index for f in video.iter_frames(clip, start=2.6))


@pytest.mark.parametrize("n", [1, 5, 17, N, 80])
def test_sample_frames_matches_reference(clip: Path, n: int) -> None:
    reference = all_frames(clip)
    indices, frames = video.sample_frames(clip, n, seek_threshold=4)
    expected = np.round(np.linspace(0, N - 1, n)).astype(int)
    assert indices.tolist() == expected.tolist()
    for i, frame in zip(indices, frames, strict=True):
        np.testing.assert_array_equal(frame, reference[i])


def test_keyframe_sampling_returns_keyframes(clip: Path) -> None:
    indices, frames = video.sample_frames(clip, 6, keyframes_only=True)
    targets = np.round(np.linspace(0, N - 1, 6)).astype(int)
    with av.open(str(clip)) as container:
        keys = [i for i, f in enumerate(container.decode(video=0)) if f.key_frame]
    assert indices.tolist() == [max(k for k in keys if k <= t) for t in targets]
    assert [decoded_index(f) for f in frames] == indices.tolist()


def test_crop_and_resize(clip: Path) -> None:
    frames = video.read_frames(clip, num_frames=2, crop_box=(4, 2, 20, 10), size=(6, 8))
    assert frames.shape == (2, 6, 8, 3)
    image = np.arange(24 * 30 * 3, dtype=np.uint8).reshape(24, 30, 3)
    np.testing.assert_array_equal(video.crop(image, (5, 3, 10, 4)), image[3:7, 5:15])
    assert video.crop(image, (25, 20, 10, 10)).shape == (4, 5, 3)  # clipped at the border
    with pytest.raises(video.VideoError, match="outside"):
        video.crop(image, (40, 0, 5, 5))
    assert video.resize(image, 12).shape == (12, 12, 3)


def test_writer_is_atomic_and_checks_frames(tmp_path: Path) -> None:
    out = tmp_path / "a.mp4"
    with pytest.raises(RuntimeError), video.VideoWriter(out, fps=10) as writer:
        writer.write(indexed_frames(1)[0])
        raise RuntimeError("crash while recording")
    assert not out.exists() and not list(tmp_path.iterdir())
    with pytest.raises(video.VideoError, match="even"):
        video.write_video(out, [np.zeros((31, 48, 3), np.uint8)], fps=10)
    with pytest.raises(video.VideoError, match="uint8"):
        video.write_video(out, [np.zeros((32, 48, 3), np.float32)], fps=10)
    with pytest.raises(video.VideoError, match=r"frame 1 is 32x32"):
        video.write_video(out, [np.zeros((32, 48, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)], fps=10)
    with pytest.raises(video.VideoError, match="no frames"):
        video.write_video(out, [], fps=10)


def test_splice_concatenates_without_reencoding(tmp_path: Path) -> None:
    a = video.write_video(tmp_path / "a.mp4", indexed_frames(10), 20, gop=4)
    b = video.write_video(tmp_path / "b.mp4", indexed_frames(6, offset=10), 20, gop=4)
    start, end = video.splice(a, 0.4, b, tmp_path / "ab.mp4")  # keep a's first 8 frames
    assert (start, end) == pytest.approx((0.4, 0.7))
    frames = video.read_frames(tmp_path / "ab.mp4")
    assert [decoded_index(f) for f in frames] == [*range(8), *range(10, 16)]


def _corrupt(tmp_path: Path, clip: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a video\n" * 100)
    elif kind == "truncated":
        path.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    elif kind == "audio":
        path = tmp_path / "audio.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
            w.writeframes(b"\0\0" * 800)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no such file"),
        ("empty", "empty file"),
        ("text", "not a readable video"),
        ("truncated", "truncated"),
        ("audio", "no video stream"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path: Path, clip: Path, kind: str, message: str) -> None:
    path = _corrupt(tmp_path, clip, kind)
    with pytest.raises(video.VideoError, match=message) as err:
        video.read_frames(path)
    assert str(path) in str(err.value)


def test_truncated_faststart_file_is_detected(tmp_path: Path, clip: Path) -> None:
    """moov first (as most downloaded videos are): opens fine, then runs out of frames."""
    faststart = tmp_path / "fast.mp4"
    with av.open(str(clip)) as src, av.open(str(faststart), "w", options={"movflags": "faststart"}) as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(faststart.read_bytes()[: int(faststart.stat().st_size * 0.6)])
    with pytest.raises(video.VideoError, match="truncated") as err:
        video.read_frames(cut)
    assert str(cut) in str(err.value)


def test_constant_bitrate_and_fixed_gop(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (40, 32, 48, 3), dtype=np.uint8)  # hard to compress: the rate must bind
    cbr = video.write_video(tmp_path / "cbr.mp4", noise, 20, bitrate=100_000, gop=10, fixed_gop=True)
    crf = video.write_video(tmp_path / "crf.mp4", noise, 20, crf=10)
    with av.open(str(cbr)) as container:
        keys = [i for i, f in enumerate(container.decode(video=0)) if f.key_frame]
    assert keys == [0, 10, 20, 30]
    seconds = 40 / 20
    assert cbr.stat().st_size * 8 / seconds < 2 * 100_000 < crf.stat().st_size * 8 / seconds
    with pytest.raises(video.VideoError, match="bitrate must be positive"):
        video.VideoWriter(tmp_path / "x.mp4", 20, bitrate=0)
