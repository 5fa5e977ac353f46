"""Guided matching and the template bank's feature cache, against plain reference computations."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from pixelpad.overlay.bank import BACKGROUNDS, TemplateBank
from pixelpad.overlay.features import Features
from pixelpad.overlay.guided import _close_pairs, guided_matches, stack_frames
from pixelpad.overlay.procedural import procedural_skins


def test_close_pairs_match_all_pairs_distances():
    rng = np.random.default_rng(1)
    for radius in (0.5, 3.0, 12.0):
        a, b = rng.uniform(0, 80, (300, 2)), rng.uniform(0, 80, (700, 2))
        i, j = _close_pairs(a, b, radius, np.minimum(a.min(0), b.min(0)))
        gap = np.linalg.norm(a[:, None] - b[None], axis=2)
        expected = set(zip(*np.nonzero(gap < radius), strict=True))
        assert set(zip(i.tolist(), j.tolist(), strict=True)) == {(int(x), int(y)) for x, y in expected}
        assert len(i) == len(expected)  # no pair twice


def test_guided_matches_pick_the_closest_descriptor_near_the_projection():
    rng = np.random.default_rng(2)
    points = rng.uniform(10, 90, (50, 2))
    descriptors = rng.normal(size=(50, 16)).astype(np.float32)
    descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
    # Frame keypoints: noisy copies of the first 30 template keypoints, 1 px away, plus clutter.
    noisy = descriptors[:30] + rng.normal(0, 0.02, (30, 16)).astype(np.float32)
    frame_kp = np.concatenate([points[:30] + np.array([1.0, 0.0]), rng.uniform(0, 100, (40, 2))]).astype(
        np.float32
    )
    frame_desc = np.concatenate([noisy, rng.normal(size=(40, 16)).astype(np.float32)])
    q, t = guided_matches(Features(frame_kp, frame_desc), points, descriptors, 2.0, 0.5)
    assert len(set(q.tolist())) == len(q)  # one match per frame keypoint
    pairs = set(zip(q.tolist(), t.tolist(), strict=True))
    assert {(k, k) for k in range(30)} <= pairs  # every true pair found
    for k, j in pairs:  # ... and every match is near its projection and close in descriptor
        assert np.linalg.norm(frame_kp[k] - points[j]) < 2.0
        assert np.linalg.norm(frame_desc[k] - descriptors[j]) < 0.5


def test_stacked_frames_match_as_each_frame_alone():
    """All frames' keypoints searched at once give each frame's own matches, in frame order."""
    rng = np.random.default_rng(3)
    points = rng.uniform(10, 90, (40, 2))
    descriptors = rng.normal(size=(40, 16)).astype(np.float32)
    descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
    per_frame = {}
    for number in (0, 3, 7, 9):  # frame numbers as a first look picks them; one frame has no keypoints
        n = 0 if number == 7 else 60
        seen = rng.choice(40, min(n, 25), replace=False)
        kp = np.concatenate(
            [points[seen] + rng.normal(0, 0.7, (len(seen), 2)), rng.uniform(0, 100, (n - len(seen), 2))]
        )
        desc = np.concatenate(
            [descriptors[seen] + rng.normal(0, 0.05, (len(seen), 16)), rng.normal(size=(n - len(seen), 16))]
        )
        per_frame[number] = Features(kp.astype(np.float32), desc.astype(np.float32))
    stacked = stack_frames({"sift": per_frame})["sift"]
    q, t = guided_matches(stacked.features, points, descriptors, 2.5, 0.6)
    expected = []
    for number, feats in per_frame.items():
        fq, ft = guided_matches(feats, points, descriptors, 2.5, 0.6)
        expected += [(number, feats.keypoints[i].tolist(), j) for i, j in zip(fq, ft, strict=True)]
    got = [(stacked.frame[i], stacked.features.keypoints[i].tolist(), j) for i, j in zip(q, t, strict=True)]
    assert got == expected and len(expected) >= 50


def test_bank_cache_is_reused_and_keyed_by_the_templates(tmp_path):
    skins = procedural_skins(3, seed=11)
    fresh = TemplateBank(skins, ("sift",), progress=False)
    first = TemplateBank(skins, ("sift",), progress=False, cache_dir=tmp_path)
    files = sorted(tmp_path.glob("*.npz"), key=lambda f: f.stat().st_mtime)
    assert len(files) == len(BACKGROUNDS["sift"])  # one file per background: each part cached alone
    cached = TemplateBank(skins, ("sift",), progress=False, cache_dir=tmp_path)
    for bank in (first, cached):
        np.testing.assert_array_equal(bank.indexes["sift"].descriptors, fresh.indexes["sift"].descriptors)
        np.testing.assert_array_equal(bank.indexes["sift"].template, fresh.indexes["sift"].template)
    TemplateBank(skins[:2], ("sift",), progress=False, cache_dir=tmp_path)  # other skins: other files
    assert len(list(tmp_path.glob("*.npz"))) == 2 * len(BACKGROUNDS["sift"])
    files[0].write_bytes(b"torn")  # an unreadable cache is rebuilt, not trusted
    again = TemplateBank(skins, ("sift",), progress=False, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.indexes["sift"].descriptors, fresh.indexes["sift"].descriptors)


def test_procedural_templates_are_the_same_in_every_process():
    """The bank cache is keyed by the templates' pixels: a skin drawn differently in another process
    (say, iterating a set, whose order changes with the hash seed) would never hit the cache."""
    code = (
        "import hashlib; from pixelpad.overlay.procedural import procedural_skins; "
        "from pixelpad.overlay.bank import make_template; "
        "print(hashlib.sha256(b''.join(make_template(s).image.tobytes() for s in procedural_skins(6, 3)))"
        ".hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1
