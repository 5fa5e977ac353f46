"""Benchmark: finding the overlay in synthetic stream videos with a 300-template bank.

Makes ``--videos`` short videos of real and procedural skins (opacity 0.5-1, scale 0.5-1.5, four
corners, 1-6 Mbit/s H.264) over real game footage recorded in the simulator (procedural scenes if
no game can run), plus ``--negatives`` overlay-free videos, and locates each with the default
settings. Prints the right-skin rate, box IoU, false accepts, seconds per video against the time to
decode its sampled frames (the baseline measured in the same run), the failures by cause, the
evidence distributions the acceptance threshold is calibrated on, and what SIFT and XFeat each add
on a subset. Template features and game recordings are kept in ``--cache`` between runs.

    python benchmarks/locate.py                 # default: 100 + 20 videos at 480x272 (long)
    python benchmarks/locate.py --videos 20 --negatives 10 --ablation 0    # a quick look
    python benchmarks/locate.py --only 8,32,52,105 --ablation 0            # rerun failures of a full run
    python benchmarks/locate.py --reuse /tmp/pixelpad-bench-locate-XXXX     # the same videos, located again
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from pixelpad.overlay.bank import TemplateBank, default_cache_dir
from pixelpad.overlay.composite import CORNERS, Placement
from pixelpad.overlay.footage import procedural_footage, record_game
from pixelpad.overlay.library import default_skins_dir, load_skins
from pixelpad.overlay.locate import LocateConfig, accepts, frame_features, locate_frames, sample_for_locate
from pixelpad.overlay.procedural import procedural_skins
from pixelpad.overlay.synth import GroundTruth, synthesize_video
from pixelpad.video import write_video

GAMES = ("chromium-bsu", "supertux", "neverball")


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def footage_clips(size, frames_per_game: int, seed: int, cache: Path | None) -> list[np.ndarray]:
    """One clip per game; recordings are kept in ``cache`` (the simulator takes a while to start games)."""
    clips = []
    for i, game in enumerate(GAMES):
        path = cache / f"{game}-{size[0]}x{size[1]}-{frames_per_game}-{seed + i}.npy" if cache else None
        if path is not None and path.is_file():
            clips.append(np.load(path))
            print(f"footage: {frames_per_game} frames of {game} from {path}")
            continue
        try:
            clips.append(record_game(game, frames_per_game, size, seed=seed + i))
            print(f"footage: recorded {frames_per_game} frames of {game}")
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, clips[-1])
        except Exception as err:  # any simulator failure: fall back to procedural scenes
            print(f"footage: {game} unavailable ({type(err).__name__}: {err}); using a procedural scene")
            clips.append(procedural_footage(frames_per_game, size, seed + i))
    return clips


def pixel_twins(skins, samples: int = 12, seed: int = 0) -> dict[str, str]:
    """Each skin's name -> the name of the first skin that renders ``samples`` actions identically.

    Some real skins ship colourways that are the same picture under two names: no locator can tell
    them apart from pixels, so the benchmark also scores them as one. The released picture sorts the
    skins first; only skins that share it are rendered under the random actions.
    """
    rng = np.random.default_rng(seed)
    actions = np.zeros((samples, 21), np.float32)
    actions[1:, :17] = rng.random((samples - 1, 17)) < 0.3
    actions[1:, 17:] = rng.uniform(-1, 1, (samples - 1, 4))

    def digest(skin, which: np.ndarray) -> bytes:
        h = hashlib.sha256()
        for action in which:
            picture = np.ascontiguousarray(skin.render(action))
            h.update(str(picture.shape).encode())
            h.update(picture.tobytes())
        return h.digest()

    by_released: dict[bytes, list] = {}
    for skin in skins:
        by_released.setdefault(digest(skin, actions[:1]), []).append(skin)
    twins = {}
    for group in by_released.values():
        first: dict[bytes, str] = {}
        for skin in group:
            key = digest(skin, actions[1:]) if len(group) > 1 else b""
            twins[skin.name] = first.setdefault(key, skin.name)
    return twins


def parse_only(text: str | None) -> set[int] | None:
    """``"3,7,10-12"`` -> {3, 7, 10, 11, 12}; None -> None (every video)."""
    if not text:
        return None
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def make_cases(args, clips, real, procedural, work: Path) -> list[tuple[int, Path, object]]:
    """``(video number, path, ground truth or None)`` for the videos ``args.only`` names (default all).

    Every video's placement is drawn whether or not it is made, so video ``i`` is the same video in a
    run of any subset: a failure of the full run can be rerun alone. Every video is encoded on one
    thread (``synthesize_video`` and the overlay-free ones here), so it is the same file in every run
    (a multi-threaded x264 encode differs from run to run). With ``args.reuse`` the videos (and their
    ground truth) of an earlier run in ``work`` are read instead of made.
    """
    rng = np.random.default_rng(args.seed)
    only = parse_only(args.only)
    cases = []
    for i in range(args.videos + args.negatives):
        clip = clips[i % len(clips)]
        start = int(rng.integers(0, len(clip) - args.frames + 1))
        footage = clip[start : start + args.frames]
        path = work / f"video{i:03d}.mp4"
        bitrate = float(rng.uniform(1e6, 6e6))
        truth = None
        wanted = only is None or i in only
        if i < args.videos:
            pool = real if i % 2 == 0 else procedural
            skin = pool[int(rng.integers(len(pool)))]
            placement = Placement(CORNERS[i % 4], float(rng.uniform(0.5, 1.5)), float(rng.uniform(0.5, 1.0)))
            if wanted and args.reuse:
                truth = GroundTruth.load(path)
            elif wanted:
                truth = synthesize_video(footage, skin, path, placement=placement, bitrate=bitrate, seed=i)
        elif wanted and not args.reuse:
            write_video(path, footage, 30, bitrate=int(bitrate), gop=60, fixed_gop=True, threads=1)
        if only is None or i in only:
            cases.append((i, path, truth))
    return cases


def accepted(found, cfg: LocateConfig) -> bool:
    return found is not None and accepts(found, cfg)


def category(truth, found, cfg: LocateConfig, twins: dict[str, str] | None = None) -> str:
    """Why a video with an overlay failed (or "ok"); ``twins`` scores pixel-identical skins as one."""
    if found is None:
        return "nothing fitted"
    same = twins[found.skin] == twins[truth.skin] if twins else found.skin == truth.skin
    if found.layout != truth.layout and not same:  # twins can be two layouts of one picture
        return "wrong layout"
    if not same:
        return "wrong colourway"
    if iou(found.box, truth.box) < 0.9:
        return "box IoU < 0.9"
    return "ok" if accepted(found, cfg) else "rejected"


def report_explained(rows, cfg: LocateConfig) -> None:
    """How much of the mean frame's detail the best fit's blended picture explains (what acceptance
    weighs, photometric.explained), by outcome, and what other floors would give."""
    print("\n== calibration: detail explained by the best fit's blended picture (min_explained)")
    found = [(t, f) for t, f, *_ in rows if f is not None]
    right = sorted(f.explained for t, f in found if t is not None and f.skin == t.skin)
    wrong = [f.explained for t, f in found if t is not None and f.skin != t.skin]
    none = sorted((f.explained, f.distinct) for t, f in found if t is None)
    lowest = ", ".join(f"{x:.2f}" for x in right[:5])
    print(f"right skin : min {min(right, default=0):.2f}, 5th pct {np.percentile(right or [0], 5):.2f}, "
          f"median {np.median(right or [0]):.2f}; lowest: {lowest}")  # fmt: skip
    print("wrong skin : " + ", ".join(f"{x:.2f}" for x in wrong))
    print("no overlay (explained, distinct): " + ", ".join(f"{x:.2f} {d}" for x, d in none))
    for floor in (0.0, 0.1, 0.2, 0.3):
        other = replace(cfg, min_explained=floor)
        good = np.mean([category(t, f, other) == "ok" for t, f, *_ in rows if t is not None])
        false = sum(accepted(f, other) for t, f, *_ in rows if t is None)
        print(f"  min_explained {floor:.1f}: right skin, IoU >= 0.9 {good:.1%}; false accepts {false}")


def result_row(row) -> dict:
    """One video's outcome for ``results.json`` (to study a run without rerunning it)."""
    truth, found, _, seconds, number = row
    out: dict = {"video": number, "seconds": round(seconds, 2)}
    if truth is not None:
        out |= {"skin": truth.skin, "box": list(truth.box)}
    if found is not None:
        out["found"] = found.to_dict() | {"evidence": round(found.evidence, 2)}
        out["found"]["candidates"] = found.candidates
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=100)
    ap.add_argument("--negatives", type=int, default=20)
    ap.add_argument("--templates", type=int, default=300, help="bank size: real skins + procedural ones")
    ap.add_argument("--width", type=int, default=480)
    ap.add_argument("--height", type=int, default=272)
    ap.add_argument("--frames", type=int, default=90, help="frames per video")
    ap.add_argument("--ablation", type=int, default=10, help="videos on which SIFT/XFeat alone are measured")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", help="run only these video numbers, e.g. 3,7,10-12 (negatives follow --videos)")
    ap.add_argument(
        "--cache",
        type=Path,
        default=default_cache_dir().parent,
        help="where template features and game recordings are kept between runs",
    )
    ap.add_argument("--no-cache", action="store_true", help="extract and record everything afresh")
    ap.add_argument(
        "--reuse",
        type=Path,
        help="the video folder of an earlier run with the same --seed, --frames and size: its videos are "
        "located again instead of made anew (results.json there is overwritten)",
    )
    args = ap.parse_args()
    cache = None if args.no_cache else args.cache
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    size = (args.height, args.width)

    real = load_skins([default_skins_dir()])
    procedural = procedural_skins(max(0, args.templates - len(real)), args.seed)
    skins = real + procedural
    twins = pixel_twins(skins)
    groups = {}
    for name, first in twins.items():
        groups.setdefault(first, []).append(name)
    identical = [names for names in groups.values() if len(names) > 1]
    print(f"pixel-identical skins: {'; '.join(' = '.join(g) for g in identical) or 'none'}")
    t = time.perf_counter()
    bank = TemplateBank(skins, progress=False, cache_dir=cache / "banks" if cache else None)
    print(f"bank: {len(bank)} templates ({len(real)} real), {len(bank.layouts)} layouts, "
          f"{ {k: len(v.descriptors) for k, v in bank.indexes.items()} } descriptors, "
          f"built in {time.perf_counter() - t:.0f} s")  # fmt: skip

    clips = footage_clips(size, 3 * args.frames, args.seed, cache / "footage" if cache else None)
    work = args.reuse or Path(tempfile.mkdtemp(prefix="pixelpad-bench-locate-"))
    cases = make_cases(args, clips, real, procedural, work)
    print(f"videos: {sum(t is not None for _, _, t in cases)} with overlays, "
          f"{sum(t is None for _, _, t in cases)} without, {args.width}x{args.height}, "
          f"{args.frames} frames each, in {work}")  # fmt: skip

    # Decide acceptance after, so one run also gives the distributions the thresholds are set from.
    base = replace(LocateConfig(), min_inliers=0, min_distinct=0, min_explained=-np.inf, min_tiles=0)
    cfg = LocateConfig()
    rows, kept, sampled = [], [], []
    for number, path, truth in tqdm(cases, desc="locate"):
        t0 = time.perf_counter()
        frames, _ = sample_for_locate(path, base)
        t1 = time.perf_counter()
        found = locate_frames(frames, bank, base)
        t2 = time.perf_counter()
        rows.append((truth, found, t1 - t0, t2 - t0, number))
        sampled.append(len(frames))
        if truth is not None and len(kept) < args.ablation:
            kept.append((truth, frames, frame_features(frames, bank, base)))

    pos = [(t, f) for t, f, *_ in rows if t is not None]
    numbers = [r[4] for r in rows if r[0] is not None]
    neg = [f for t, f, *_ in rows if t is None]
    cats = [category(t, f, cfg) for t, f in pos]
    good = [c == "ok" for c in cats]
    good_twins = [category(t, f, cfg, twins) == "ok" for t, f in pos]
    ious = [iou(t.box, f.box) if f is not None else 0.0 for t, f in pos]
    right = [f is not None and f.skin == t.skin for t, f in pos]
    false_accepts = sum(accepted(f, cfg) for f in neg)
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
    print(f"  counting pixel-identical skins as one: {np.mean(good_twins):.1%}")
    print(f"right skin: {np.mean(right):.1%}; right layout: "
          f"{np.mean([f is not None and f.layout == t.layout for t, f in pos]):.1%}; "
          f"accepted: {np.mean([accepted(f, cfg) for _, f in pos]):.1%}")  # fmt: skip
    print(f"box IoU: mean {np.mean(ious):.3f}, median {np.median(ious):.3f}, min {min(ious, default=0):.3f}")
    print(f"false accepts on overlay-free videos: {false_accepts} of {len(neg)}")
    early = np.mean([f is not None and f.searched < n for (_, f, *_), n in zip(rows, sampled, strict=True)])
    print(
        f"seconds per video: {total:.2f}; decoding its sampled frames: {decode:.2f}; "
        f"ratio {total / decode:.1f}; answered from a first look at {base.early_frames} frames: {early:.0%}"
    )
    print("\n== failures by cause (placement of each: opacity, scale, Mbit/s)")
    for cause in sorted(set(cats) - {"ok"}):
        which = [(n, t, f) for n, (t, f), c in zip(numbers, pos, cats, strict=True) if c == cause]
        print(f"{cause:16s}: {len(which)} (videos {','.join(str(n) for n, _, _ in which)})")
        for n, t, f in which:
            p = t.placement
            print(f"    {n:3d} {t.skin} op {p.opacity:.2f} scale {p.scale:.2f} {t.bitrate / 1e6:.1f} Mbit/s; "
                  f"found {f.skin if f else None} distinct {f.distinct if f else 0} "
                  f"agreement {f.agreement if f else 0:.2f} "
                  f"explained {f.explained if f else -1:.2f}")  # fmt: skip

    print("\n== calibration: (distinct inliers, picture agreement) -> evidence of the best fit")

    def show(found) -> str:
        return f"{found.distinct}x{found.agreement:.2f}={found.evidence:.0f}" if found else "none"

    right_found = sorted((f for (t, f), r in zip(pos, right, strict=True) if r), key=lambda f: f.evidence)
    right_e = [f.evidence for f in right_found]
    print(
        f"right skin : min {min(right_e, default=0):.0f}, 5th pct {np.percentile(right_e or [0], 5):.0f}, "
        f"median {np.median(right_e or [0]):.0f}; lowest: " + ", ".join(show(f) for f in right_found[:5])
    )
    print("wrong skin : " + ", ".join(show(f) for (t, f), r in zip(pos, right, strict=True) if f and not r))
    print("no overlay : " + ", ".join(show(f) for f in sorted(neg, key=lambda f: f.evidence if f else 0)))
    print(f"thresholds in use: min_explained {cfg.min_explained:.2f}, min_distinct {cfg.min_distinct}, "
          f"min_inliers {cfg.min_inliers}, min_tiles {cfg.min_tiles}")  # fmt: skip
    report_explained(rows, cfg)
    results = work / "results.json"
    results.write_text(json.dumps([result_row(r) for r in rows], indent=1))
    print(f"per-video results: {results}")

    if not kept:
        return
    print(f"\n== what each feature adds (first {len(kept)} videos with overlays)")
    for kinds in (("sift",), ("xfeat",), ("sift", "xfeat")):
        ok, support = [], []
        for truth, frames, feats in kept:
            f = locate_frames(frames, bank, replace(base, kinds=kinds, early_frames=0), feats)
            ok.append(category(truth, f, cfg) == "ok")
            support.append(f.distinct if f is not None and f.skin == truth.skin else 0)
        name = "+".join(kinds)
        print(
            f"{name:11s}: right skin & IoU >= 0.9 {np.mean(ok):.1%}, median distinct {np.median(support):.0f}"
        )


if __name__ == "__main__":
    main()
