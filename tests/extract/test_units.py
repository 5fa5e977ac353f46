"""Small pure functions of the pipeline: resampling, letterboxing, ids, the frame spool, frame conversion."""

import av
import cv2
import numpy as np
import pytest

from pixelpad.extract.frames import FrameConverter, HiddenPixels, even_box, i420_black, letterbox_geometry
from pixelpad.extract.pipeline import _covering_box, resample_indices, video_id_for
from pixelpad.extract.spool import FrameSpool, SpoolError
from pixelpad.video import iter_frames


def test_resample_indices():
    np.testing.assert_array_equal(resample_indices(10, 30, 30), np.arange(10))
    np.testing.assert_array_equal(resample_indices(10, 60, 30), [0, 2, 4, 6, 8])
    np.testing.assert_array_equal(resample_indices(4, 15, 30), [0, 0, 1, 2, 2, 2, 3, 3])


def rgb(i420: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)


def letterbox(image: np.ndarray, size: tuple[int, int]):
    """The stored copy of ``image`` (I420) and where its picture lies."""
    scale, x0, y0, _, _ = letterbox_geometry(image.shape[:2], size)
    _, out = FrameConverter.build(image.shape[:2], (0, 0, 2, 2), size).from_rgb(image)
    assert out.shape == (size[0] * 3 // 2, size[1])
    return out, scale, x0, y0


def test_letterbox_keeps_aspect_and_centres():
    portrait = np.full((200, 100, 3), 255, np.uint8)
    out, scale, x0, y0 = letterbox(portrait, (90, 160))
    out = rgb(out)
    assert out.shape == (90, 160, 3) and scale == 0.45 and (x0, y0) == (57, 0)
    assert out[:, :x0].max() == 0 and out[:, x0 : x0 + 45].min() == 255 and out[:, x0 + 45 :].max() == 0


@pytest.mark.parametrize(("box", "size"), [((301, 157, 171, 93), (180, 320)), ((0, 0, 37, 11), (90, 210))])
def test_masking_after_the_letterbox_hides_every_overlay_pixel(box, size):
    frame = np.zeros((360, 640, 3), np.uint8)
    x, y, w, h = box
    frame[y : y + h, x : x + w] = (255, 40, 0)  # colour in the chroma planes too
    small, scale, x0, y0 = letterbox(frame, size)
    assert rgb(small).max() > 200
    covering = _covering_box(box, scale, x0, y0, size)
    mw, mh = covering[2:]
    HiddenPixels.box(covering, size).apply(small)
    assert rgb(small).max() == 0
    assert mw <= w * scale + 2 and mh <= h * scale + 2  # no more than the pixels it touches


def test_i420_masking_blacks_out_the_box_and_the_chroma_it_touches():
    image = np.full((15, 8), 200, np.uint8)  # a 10 x 8 I420 picture
    HiddenPixels.box((3, 1, 2, 4), (10, 8)).apply(image)  # x 3-4, y 1-4: chroma columns 1-2, rows 0-2
    y, chroma = image[:10], image[10:].reshape(2, 5, 4)
    assert (y[1:5, 3:5] == 16).all() and (y == 16).sum() == 8
    assert (chroma[:, 0:3, 1:3] == 128).all() and (chroma == 128).sum() == 2 * 6
    black = i420_black((4, 6))
    assert rgb(black).max() == 0 and black.shape == (6, 6)


def test_video_ids_are_stable_and_tell_same_named_files_apart(tmp_path):
    a, b = tmp_path / "x" / "clip.mp4", tmp_path / "y" / "clip.mp4"
    assert video_id_for(a) == video_id_for(a) != video_id_for(b)
    assert video_id_for(a).startswith("clip-")


def indexed_frames(n: int, size: tuple[int, int]) -> np.ndarray:
    """Frames that show their index as their grey level (6 levels apart: far beyond H.264's error)."""
    return np.stack([np.full((*size, 3), 10 + 6 * i, np.uint8) for i in range(n)])


def decoded_index(frame: np.ndarray) -> int:
    return round((float(np.median(frame)) - 10) / 6)


def _spool(path, frames, gop):
    spool = FrameSpool(path, fps=20, gop=gop, crf=10)
    for f in frames:
        spool.append(f)
    spool.close()
    return spool


def test_frame_spool_round_trip_and_cuts_on_key_frames(tmp_path):
    from pixelpad.video import probe

    frames = indexed_frames(40, (36, 64))
    spool = _spool(tmp_path / "s", frames, gop=8)
    assert len(spool) == 40
    assert [decoded_index(f) for f in FrameSpool.read(tmp_path / "s", 3, 9)] == list(range(3, 9))
    whole = list(FrameSpool.read(tmp_path / "s"))
    segments, files = [(24, 40), (0, 16)], [tmp_path / "a.mp4", tmp_path / "b.mp4"]
    FrameSpool.cut(tmp_path / "s", segments, files)
    for (start, stop), path in zip(segments, files, strict=True):
        assert probe(path).num_frames == stop - start
        cut = [f.image for f in iter_frames(path, threads=1)]
        # Packets copied from a key frame on decode to the very same pixels.
        np.testing.assert_array_equal(np.stack(cut), np.stack(whole[start:stop]))
    with pytest.raises(SpoolError, match="frame 12 is not a key frame"):
        FrameSpool.cut(tmp_path / "s", [(12, 20)], [tmp_path / "c.mp4"])


def test_frame_spool_image_stats_pool_each_chunks_first_frame(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (12, 8, 16, 3), dtype=np.uint8)
    _spool(tmp_path / "s", frames, gop=4)
    stats = FrameSpool.image_stats(tmp_path / "s", 4, 12, gop=4)
    stored = np.stack([rgb(cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420)) for f in frames])  # as encoded: 4:2:0
    sampled = stored[[4, 8], ::4, ::4].reshape(-1, 3) / 255.0
    for name, want in (("min", sampled.min(0)), ("max", sampled.max(0)), ("mean", sampled.mean(0)),
                       ("std", sampled.std(0))):  # fmt: skip
        np.testing.assert_allclose(stats[name], want, atol=1e-9)
    with pytest.raises(SpoolError, match="not a finished"):
        FrameSpool.image_stats(tmp_path / "nothing", 0, 4, gop=4)


def test_even_box_covers_the_box_with_even_corners():
    assert even_box((3, 5, 10, 7), (100, 200)) == (2, 4, 12, 8)
    assert even_box((-4, 95, 300, 30), (101, 199)) == (0, 94, 199, 7)  # clipped at odd edges
    with pytest.raises(ValueError):
        even_box((300, 0, 10, 10), (100, 200))


def _yuv_frame(rng: np.random.Generator, size: tuple[int, int], colorspace: int) -> av.VideoFrame:
    """A photo-like yuv420p frame (smooth colour fields): an RGB picture converted by FFmpeg."""
    h, w = size
    rgb = cv2.resize(rng.integers(0, 256, (6, 9, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    frame = frame.reformat(format="yuv420p", dst_colorspace=colorspace)
    frame.colorspace = colorspace
    return frame


# BT.601 with an even letterbox: the stored copy is the decoder's planes shrunk (no colour transform);
# the others go through RGB.
@pytest.mark.parametrize(
    ("size", "colorspace"), [((360, 640), 2), ((540, 960), 6), ((361, 639), 1), ((720, 404), 5)]
)
def test_fast_frame_conversion_matches_ffmpegs_whole_frame_conversion(size, colorspace):
    frame = _yuv_frame(np.random.default_rng(colorspace), size, colorspace)
    convert = FrameConverter.build(size, (101, 37, 150, 91), (180, 320))
    fast_crop, fast_small = convert(frame)
    slow_crop, slow_small = convert.from_rgb(frame.to_ndarray(format="rgb24"))
    assert fast_crop.shape == slow_crop.shape == (92, 152, 3) and fast_small.shape == slow_small.shape
    assert fast_small.shape == (270, 320)
    # The same colours (FFmpeg's fixed-point 8-bit path is itself 1-2 levels off the exact matrix)...
    assert np.abs(fast_crop.astype(int) - slow_crop).mean() < 2.0
    assert np.abs(fast_small.astype(int) - slow_small).mean() < 2.0
    assert np.abs(rgb(fast_small).astype(int) - rgb(slow_small)).mean() < 2.0
    shift = max(2, size[1] // 240)  # pixels: the picture is smoother the larger the frame
    # ...at the same place
    assert np.abs(fast_crop.astype(int) - np.roll(slow_crop, shift, axis=1)).mean() > 3
    assert np.abs(rgb(fast_small).astype(int) - np.roll(rgb(slow_small), 2, axis=1)).mean() > 3


def test_other_pixel_formats_take_the_slow_path():
    rgb = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv444p")
    convert = FrameConverter.build((64, 96), (10, 10, 20, 20), (32, 48))
    fast_crop, _ = convert(frame)
    np.testing.assert_array_equal(fast_crop, convert.from_rgb(frame.to_ndarray(format="rgb24"))[0])


def test_rest_limits_are_a_pixel_and_a_half_of_each_sticks_travel():
    from types import SimpleNamespace

    from pixelpad.extract.pipeline import rest_limits
    from pixelpad.overlay.skin import StickGeometry

    skin = SimpleNamespace(sticks=lambda: {"right": StickGeometry((0, 0, 9, 9), (20.0, 10.0))})
    np.testing.assert_allclose(rest_limits(skin, 0.3), [[0, 0], [0.25, 0.5]])  # 6 and 3 video pixels
    np.testing.assert_allclose(rest_limits(skin, 1.5), [[0, 0], [0.05, 0.1]])


def test_frame_spool_encodes_with_its_x264_options(tmp_path):
    for params, want in (("subme=1:me=dia", b" me=dia subme=1 "), ("", b" me=hex subme=2 ")):
        spool = FrameSpool(tmp_path / "s", fps=20, gop=4, preset="veryfast", x264_params=params)
        for f in indexed_frames(8, (36, 64)):
            spool.append(f)
        spool.close()
        assert want in (tmp_path / "s" / "frames.mp4").read_bytes()


def test_decoding_without_the_loop_filter_changes_a_blocky_videos_pixels(tmp_path):
    from pixelpad.video import write_video

    rng = np.random.default_rng(0)
    frames = [cv2.resize(rng.integers(0, 256, (9, 16, 3), dtype=np.uint8), (128, 72)) for _ in range(6)]
    write_video(tmp_path / "v.mp4", frames, 10, crf=40)  # coarse quantiser: the filter smooths block edges

    def decoded(options):
        return np.stack(
            [f.image for f in iter_frames(tmp_path / "v.mp4", threads=1, decoder_options=options)]
        )

    plain, skipped = decoded(None), decoded({"skip_loop_filter": "all"})
    assert np.abs(plain.astype(int) - skipped).mean() > 0.1
    np.testing.assert_array_equal(decoded({"skip_loop_filter": "none"}), plain)
