"""Benchmark: finding the overlay in synthetic stream videos with a 300-template bank.

Makes ``--videos`` short videos of real and procedural skins (opacity 0.5-1, scale 0.5-1.5, four
corners, 1-6 Mbit/s H.264) over real game footage recorded in the simulator (procedural scenes if
no game can run), plus ``--negatives`` overlay-free videos, and locates each with the default
settings. Prints the right-skin rate, box IoU, false accepts, seconds per video against the time to
decode its sampled frames (the baseline measured in the same run), the pooled-inlier distributions
the acceptance threshold is calibrated on, and what SIFT and XFeat each add on a subset.

    python benchmarks/locate.py                 # default: 100 + 20 videos at 480x272, a few minutes
    python benchmarks/locate.py --videos 20     # quicker
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pixelpad.overlay.bank import TemplateBank
from pixelpad.overlay.composite import CORNERS, Placement
from pixelpad.overlay.footage import procedural_footage, record_game
from pixelpad.overlay.library import default_skins_dir, load_skins
from pixelpad.overlay.locate import LocateConfig, frame_features, locate_frames, sample_for_locate
from pixelpad.overlay.procedural import procedural_skins
from pixelpad.overlay.synth import synthesize_video
from pixelpad.video import write_video

GAMES = ("chromium-bsu", "supertux", "neverball")


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def footage_clips(size, frames_per_game: int, seed: int) -> list[np.ndarray]:
    clips = []
    for i, game in enumerate(GAMES):
        try:
            clips.append(record_game(game, frames_per_game, size, seed=seed + i))
            print(f"footage: recorded {frames_per_game} frames of {game}")
        except Exception as err:  # any simulator failure: fall back to procedural scenes
            print(f"footage: {game} unavailable ({type(err).__name__}: {err}); using a procedural scene")
            clips.append(procedural_footage(frames_per_game, size, seed + i))
    return clips


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=100)
    ap.add_argument("--negatives", type=int, default=20)
    ap.add_argument("--templates", type=int, default=300, help="bank size: real skins + procedural ones")
    ap.add_argument("--width", type=int, default=480)
    ap.add_argument("--height", type=int, default=272)
    ap.add_argument("--frames", type=int, default=90, help="frames per video")
    ap.add_argument("--ablation", type=int, default=20, help="videos on which SIFT/XFeat alone are measured")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    size = (args.height, args.width)

    real = load_skins([default_skins_dir()])
    procedural = procedural_skins(max(0, args.templates - len(real)), args.seed)
    skins = real + procedural
    t = time.perf_counter()
    bank = TemplateBank(skins, progress=False)
    print(f"bank: {len(bank)} templates ({len(real)} real), {len(bank.layouts)} layouts, "
          f"{ {k: len(v.descriptors) for k, v in bank.indexes.items()} } descriptors, "
          f"built in {time.perf_counter() - t:.0f} s")  # fmt: skip

    clips = footage_clips(size, 3 * args.frames, args.seed)
    work = Path(tempfile.mkdtemp(prefix="pixelpad-bench-locate-"))
    cases = []
    for i in range(args.videos + args.negatives):
        clip = clips[i % len(clips)]
        start = int(rng.integers(0, len(clip) - args.frames + 1))
        footage = clip[start : start + args.frames]
        path = work / f"video{i:03d}.mp4"
        bitrate = float(rng.uniform(1e6, 6e6))
        if i < args.videos:
            pool = real if i % 2 == 0 else procedural
            skin = pool[int(rng.integers(len(pool)))]
            placement = Placement(CORNERS[i % 4], float(rng.uniform(0.5, 1.5)), float(rng.uniform(0.5, 1.0)))
            truth = synthesize_video(footage, skin, path, placement=placement, bitrate=bitrate, seed=i)
            cases.append((path, truth))
        else:
            write_video(path, footage, 30, bitrate=int(bitrate), gop=60, fixed_gop=True)
            cases.append((path, None))
    print(f"videos: {args.videos} with overlays, {args.negatives} without, {args.width}x{args.height}, "
          f"{args.frames} frames each, in {work}")  # fmt: skip

    base = replace(LocateConfig(), min_inliers=0)  # decide after, so one run gives the distributions
    rows = []
    for path, truth in cases:
        t0 = time.perf_counter()
        frames, _ = sample_for_locate(path, base)
        t1 = time.perf_counter()
        feats = frame_features(frames, bank, base)
        found = locate_frames(frames, bank, base, feats)
        t2 = time.perf_counter()
        rows.append((truth, found, t1 - t0, t2 - t0, frames, feats))

    threshold = LocateConfig().min_inliers
    pos = [(t, f) for t, f, *_ in rows if t is not None]
    neg = [f for t, f, *_ in rows if t is None]
    right = [f is not None and f.skin == t.skin for t, f in pos]
    ious = [iou(t.box, f.box) if f is not None else 0.0 for t, f in pos]
    accepted = [f is not None and f.inliers >= threshold for t, f in pos]
    good = [r and a and i >= 0.9 for r, a, i in zip(right, accepted, ious, strict=True)]
    right_inliers = [f.inliers for (t, f), r in zip(pos, right, strict=True) if r]
    wrong_inliers = [f.inliers for (t, f), r in zip(pos, right, strict=True) if f is not None and not r]
    neg_inliers = [f.inliers if f is not None else 0 for f in neg]
    false_accepts = sum(i >= threshold for i in neg_inliers)
    decode = np.mean([r[2] for r in rows])
    total = np.mean([r[3] for r in rows])
    real_names = {s.name for s in real}
    is_real = [t.skin in real_names for t, _ in pos]
    on_real = [g for g, r in zip(good, is_real, strict=True) if r]
    on_procedural = [g for g, r in zip(good, is_real, strict=True) if not r]
    print("\n== localisation (default settings: SIFT on 25 frames + XFeat on 8)")
    print(
        f"right skin, accepted, IoU >= 0.9: {np.mean(good):.1%} of {len(pos)} "
        f"(real skins {np.mean(on_real or [0]):.1%}, procedural {np.mean(on_procedural or [0]):.1%})"
    )
    print(f"right skin: {np.mean(right):.1%}; right layout: "
          f"{np.mean([f is not None and f.layout == t.layout for t, f in pos]):.1%}; "
          f"accepted: {np.mean(accepted):.1%}")  # fmt: skip
    print(f"box IoU: mean {np.mean(ious):.3f}, median {np.median(ious):.3f}, min {np.min(ious):.3f}")
    print(f"false accepts on overlay-free videos: {false_accepts} of {len(neg)}")
    print(
        f"seconds per video: {total:.2f}; decoding its sampled frames: {decode:.2f}; "
        f"ratio {total / decode:.1f}"
    )
    print("\n== calibration of min_inliers (pooled RANSAC inliers of the best layout)")
    low = np.percentile(right_inliers or [0], 5)
    print(
        f"right skin : min {min(right_inliers, default=0)}, 5th pct {low:.0f}, "
        f"median {np.median(right_inliers or [0]):.0f}"
    )
    print(f"wrong skin : {sorted(wrong_inliers)}")
    print(f"no overlay : max {max(neg_inliers, default=0)}, all {sorted(neg_inliers)}")
    print(f"threshold in use: {threshold}")

    print(f"\n== what each feature adds (first {args.ablation} videos with overlays)")
    subset = [r for r in rows if r[0] is not None][: args.ablation]
    for kinds in (("sift",), ("xfeat",), ("sift", "xfeat")):
        cfg = replace(base, kinds=kinds)
        ok, inl = [], []
        for truth, _, _, _, frames, feats in subset:
            f = locate_frames(frames, bank, cfg, feats)
            ok.append(
                f is not None
                and f.skin == truth.skin
                and f.inliers >= threshold
                and iou(f.box, truth.box) >= 0.9
            )
            inl.append(f.inliers if f is not None and f.skin == truth.skin else 0)
        name = "+".join(kinds)
        print(f"{name:11s}: right skin & IoU >= 0.9 {np.mean(ok):.1%}, median inliers {np.median(inl):.0f}")


if __name__ == "__main__":
    main()
