"""Small pure functions of the pipeline: resampling, letterboxing, ids, the frame spool."""

import cv2
import numpy as np
import pytest

from pixelpad.extract.pipeline import _covering_box, letterbox, resample_indices, video_id_for
from pixelpad.extract.spool import FrameSpool


def test_resample_indices():
    np.testing.assert_array_equal(resample_indices(10, 30, 30), np.arange(10))
    np.testing.assert_array_equal(resample_indices(10, 60, 30), [0, 2, 4, 6, 8])
    np.testing.assert_array_equal(resample_indices(4, 15, 30), [0, 0, 1, 2, 2, 2, 3, 3])


def test_letterbox_keeps_aspect_and_centres():
    portrait = np.full((200, 100, 3), 255, np.uint8)
    out, scale, x0, y0 = letterbox(portrait, (90, 160))
    assert out.shape == (90, 160, 3) and scale == 0.45 and (x0, y0) == (57, 0)
    assert out[:, :x0].max() == 0 and out[:, x0 : x0 + 45].min() == 255 and out[:, x0 + 45 :].max() == 0


@pytest.mark.parametrize(("box", "size"), [((301, 157, 171, 93), (180, 320)), ((0, 0, 37, 11), (90, 210))])
def test_masking_after_the_letterbox_hides_every_overlay_pixel(box, size):
    frame = np.zeros((360, 640, 3), np.uint8)
    x, y, w, h = box
    frame[y : y + h, x : x + w] = 255
    small, scale, x0, y0 = letterbox(frame, size)
    mx, my, mw, mh = _covering_box(box, scale, x0, y0, size)
    small[my : my + mh, mx : mx + mw] = 0
    assert small.max() == 0
    assert mw <= w * scale + 2 and mh <= h * scale + 2  # no more than the pixels it touches


def test_video_ids_are_stable_and_tell_same_named_files_apart(tmp_path):
    a, b = tmp_path / "x" / "clip.mp4", tmp_path / "y" / "clip.mp4"
    assert video_id_for(a) == video_id_for(a) != video_id_for(b)
    assert video_id_for(a).startswith("clip-")


def test_frame_spool_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    small = [rng.integers(0, 255, (3, 4, 3), dtype=np.uint8) for _ in range(5)]
    frames = [cv2.resize(s, (64, 36), interpolation=cv2.INTER_CUBIC) for s in small]  # photo-like
    spool = FrameSpool.create(tmp_path / "s", quality=100)
    for f in frames:
        spool.append(f)
    spool.close()
    back = list(FrameSpool.read(tmp_path / "s", 1, 4))
    assert len(back) == 3 and len(spool) == 5
    for got, want in zip(back, frames[1:4], strict=True):
        assert np.abs(got.astype(int) - want).mean() < 3  # JPEG at quality 100: near-lossless
        assert np.abs(got.astype(int) - frames[0]).mean() > 10 or want is frames[0]  # and in order
