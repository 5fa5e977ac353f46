"""Extraction benchmark: reader accuracy on synthetic overlay videos, and pipeline speed vs bare decode.

Accuracy: N synthetic videos (real skins, random corner, scale 0.5-1.5, opacity 0.5-1, H.264 at
1-6 Mbps, 60 s each by default) over game footage (a simulator recording of chromium-bsu when the
simulator works, else procedural scenes) go through the per-video pipeline (locate → read →
refine) with each reader; printed per reader: button frame accuracy and stick R² against the ground
truth (controls the skin shows), also on the videos localisation found, on those whose skin
(colourway) it named right, and — for the template reader — the R² its reads would get after the
paper's per-video 99th-percentile stick normalisation (which the pipeline does not apply to
template reads: the figure says why).

Speed: pipeline frames/s ÷ bare decode frames/s (decoding every frame to RGB with a plain decode,
nothing else) of the same videos, measured in the same run: each video is decoded bare right before
and right after its extraction, so on a shared machine both see the same load (an earlier version
decoded every set before and after all extractions, minutes apart). The pipeline's cost is a
per-video set-up (probe, locate, the reader's renderings: about a second or two, whatever the
length) plus a per-frame cost, so the ratio depends on video length; stream recordings are minutes
to hours long, where the steady state (the decode-read-store loop alone) is the figure that holds.
The table prints every length measured: the accuracy videos (60 s: still far shorter than a stream,
long enough that set-up is not most of the cost; 10-s videos ran at 0.16 at 21e3675), a few 30-s
videos (``--long``), ten 2-s clips (``--clips``; there set-up dominates) and two 3-minute videos
(``--streams``: the whole-video ratio close to the steady one), each with its set-up and steady state,
plus what committing episodes costs the driver (one process for all workers; the workers encode the stored
frames, so the pipeline's figures include that). The pipeline decodes without H.264's deblocking
filter (``--deblock`` turns it back on) and encodes the stored frames with ExtractConfig's x264
options (``--x264-params``).
Both decode on one thread by default (``--threads``): a batch runs one worker per core, and on a
shared machine a multi-threaded bare decode takes more of the CPU than the pipeline's serial part,
which skews wall-clock ratios; ratios of CPU time are printed beside them.
Goals (issue 7): R² ≥ 0.90, accuracy ≥ 0.98, speed ratio ≥ 0.5 with the template reader on CPU.

The template reader needs no training, so every skin is "held out" for it. Pass ``--parser DIR``
(``pixelpad overlay train-parser --out DIR``) to measure the parser too; it is judged on these
skins and this footage whatever it was trained on. ``--keep DIR`` keeps the videos and reuses them
on the next run with the same settings. With the videos kept, a default run took about 40 minutes on
two cores shared at load 3-4 (making the 50 60-s videos takes about 15 more; localisation 1.6-2.0 s
of CPU a video).

    python benchmarks/extract.py [--videos 50] [--seconds 60] [--long 3 --long-seconds 30] [--clips 10]
                                 [--streams 2 --stream-seconds 180] [--parser DIR] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from pixelpad.actions import AXIS_SLICE, BUTTON_SLICE, INDEX
from pixelpad.dataset import EpisodeWriter
from pixelpad.extract.pipeline import ExtractConfig, VideoExtractor, make_task
from pixelpad.extract.run import write_episodes
from pixelpad.extract.spool import FrameSpool
from pixelpad.overlay.composite import place, random_placement
from pixelpad.overlay.footage import procedural_footage, record_game
from pixelpad.overlay.library import default_skins_dir, load_skins
from pixelpad.overlay.refine import RefineConfig, normalise_sticks
from pixelpad.overlay.synth import GroundTruth, SynthError, synthesize_video
from pixelpad.video import iter_frames


def footage(frames: int, seed: int) -> tuple[str, np.ndarray]:
    try:
        return "chromium-bsu", record_game("chromium-bsu", frames, (360, 640), seed=seed)
    except Exception as err:  # no simulator here: procedural scenes instead
        print(f"(no game footage: {err}; using procedural footage)")
        return "procedural", procedural_footage(frames, (360, 640), seed=seed)


def make_videos(
    root: Path, n: int, frames: int, seed: int, clips: list[np.ndarray], prefix: str = "v"
) -> list:
    """``n`` videos of ``frames`` frames each over ``clips`` (looped back and forth when shorter)."""
    rng = np.random.default_rng(seed)
    skins = load_skins([default_skins_dir()])
    videos = []
    for i in range(n):
        skin = skins[int(rng.integers(len(skins)))]
        path = root / f"{prefix}{i:03d}-{frames}.mp4"
        bitrate, placement, seed = (
            float(rng.uniform(1e6, 6e6)),
            random_placement(rng),
            int(rng.integers(1 << 30)),
        )
        try:
            truth = GroundTruth.load(path) if path.exists() else None
        except SynthError:  # a broken leftover: make it again
            truth = None
        if truth is None or (truth.skin, truth.placement, truth.num_frames) != (skin.name, placement, frames):
            clip = clips[i % len(clips)]  # looped back and forth: 3.7 GB for 3 minutes, so only when needed
            order = np.arange(frames) % (2 * len(clip) - 2 or 1)
            clip = clip[np.where(order < len(clip), order, 2 * len(clip) - 2 - order)]
            synthesize_video(clip, skin, path, placement=placement, bitrate=bitrate, seed=seed)
        videos.append(path)
    return videos


def rendered(truth: GroundTruth, skins: dict) -> np.ndarray:
    """The truth as the video shows it: stick offsets rounded to whole pixels of the placed skin.

    A small overlay moves its cap in steps of 1 / (range in pixels) axis units (0.3 at scale 0.5),
    which caps any reader's R² against the continuous truth; this separates that from reading error.
    """
    scaled, _ = place(skins[truth.skin], (360, 640), truth.placement)
    out = truth.actions.copy()
    for side, geometry in scaled.sticks().items():
        for axis, r in zip(("x", "y"), geometry.range, strict=True):
            col = INDEX[f"{side}_{axis}"]
            out[:, col] = np.round(out[:, col] * r) / r if r else out[:, col]
    return out


def scores(pairs: list[tuple[np.ndarray, GroundTruth]], skins: dict | None = None) -> tuple[float, float]:
    """Pooled button frame accuracy and stick R² over the shown controls of every video (against the
    rendered truth when ``skins`` is given)."""
    hits, cells, resid, total = 0, 0, 0.0, 0.0
    for actions, truth in pairs:
        true_actions = truth.actions if skins is None else rendered(truth, skins)
        shown = truth.mask()
        b = shown[BUTTON_SLICE]
        same = (actions[:, BUTTON_SLICE] > 0.5) == (truth.actions[:, BUTTON_SLICE] > 0.5)
        hits, cells = hits + int(same[:, b].sum()), cells + int(same[:, b].size)
        s = shown[AXIS_SLICE]
        pred, true = actions[:, AXIS_SLICE][:, s], true_actions[:, AXIS_SLICE][:, s]
        resid += float(((pred - true) ** 2).sum())
        total += float(((true - true.mean(0)) ** 2).sum())
    return hits / max(cells, 1), 1 - resid / max(total, 1e-9)


BARE_KEYS = ("bare_frames", "bare_seconds", "bare_cpu")


def run_reader(extractor: VideoExtractor, videos: list[Path], reader: str, write: Path | None = None) -> dict:
    """Extract ``videos``; scores and timings (the extractor's own set-up excluded: once per worker).

    The worker encodes the stored frames itself (its time includes that); with ``write``, its episode
    files are also committed to a dataset there (what the driver does after the worker, timed apart:
    ``write`` seconds). Each video is also decoded bare right before and right after its extraction
    (``bare_*``), so the baseline sees the same load as the pipeline on a shared machine.
    """
    pairs, right, found = [], [], []  # per video: located? with the right skin (colourway)?
    timing = {"seconds": 0.0, "cpu": 0.0, "locate": 0.0, "setup": 0.0, "read": 0.0, "frames": 0,
              "read_frames": 0, "write": 0.0, "written": 0, "locate_cpu": 0.0, "read_cpu": 0.0,
              **dict.fromkeys(BARE_KEYS, 0)}  # fmt: skip
    located = 0
    cfg = extractor.config
    writer = EpisodeWriter(write, fps=cfg.fps, gop=cfg.refine.horizon) if write else None
    for video in videos:
        bare = bare_decode(video, cfg.decode_threads)
        t0, c0 = time.perf_counter(), time.process_time()
        result = extractor(make_task(video))
        timing["seconds"] += time.perf_counter() - t0
        timing["cpu"] += time.process_time() - c0
        for before, after, key in zip(bare, bare_decode(video, cfg.decode_threads), BARE_KEYS, strict=True):
            timing[key] += before + after
        truth = GroundTruth.load(video)
        timing["frames"] += truth.num_frames
        details = result["details"]
        if result["status"] != "done":
            pairs.append((np.zeros_like(truth.actions), truth))  # a miss counts as reading nothing
            right.append(False)
            found.append(False)
            continue
        found.append(True)
        located += 1
        right.append(details["skin"] == truth.skin)
        timing["locate"] += details["locate_seconds"]
        timing["setup"] += details["reader_setup_seconds"]
        timing["read"] += details["read_seconds"] - details["reader_setup_seconds"]
        timing["locate_cpu"] += details["locate_cpu_seconds"]
        timing["read_cpu"] += details["read_cpu_seconds"] - details["reader_setup_cpu_seconds"]
        timing["read_frames"] += truth.num_frames
        actions = np.load(Path(result["spool"]) / "actions.npy")
        pairs.append((actions, truth))
        if writer is not None:
            t0 = time.perf_counter()
            write_episodes(writer, result, cfg, set())
            timing["write"] += time.perf_counter() - t0
            timing["written"] += len(actions)
        FrameSpool.remove(result["spool"])
        if len(pairs) % 10 == 0:
            accuracy, r2 = scores(pairs)
            print(
                f"  {reader}: {len(pairs)} videos, button acc {accuracy:.4f}, stick R2 {r2:.4f}", flush=True
            )
    if writer is not None:
        writer.close()
    skins = {s.name: s for s in load_skins([default_skins_dir()])}
    accuracy, r2 = scores(pairs)
    right_pairs = [p for p, ok in zip(pairs, right, strict=True) if ok]
    found_pairs = [p for p, ok in zip(pairs, found, strict=True) if ok]
    normalised = [(normalise_sticks(a, RefineConfig())[0], t) for a, t in pairs]
    return {
        "reader": reader, "accuracy": accuracy, "r2": r2, "r2_rendered": scores(pairs, skins)[1],
        "r2_normalised": scores(normalised)[1],
        "right": scores(right_pairs) if right_pairs else (np.nan, np.nan),
        "found": scores(found_pairs) if found_pairs else (np.nan, np.nan),
        "located": located, "right_skin": sum(right), "n": len(videos), **timing,
    }  # fmt: skip


def bare_decode(video: Path, threads: int) -> tuple[int, float, float]:
    """Bare decode of ``video``: every frame to RGB, a plain decode (deblocking on), nothing else.

    Returns (frames, wall-clock seconds, CPU seconds of all threads)."""
    t0, c0, n = time.perf_counter(), time.process_time(), 0
    for _ in iter_frames(video, threads=threads):
        n += 1
    return n, time.perf_counter() - t0, time.process_time() - c0


def accuracy_table(rows: list[dict]) -> None:
    print(f"{'reader':9s} {'button acc':>10s} {'stick R2':>9s} {'(rendered)':>10s} {'located':>8s} "
          f"{'right skin':>10s}")  # fmt: skip
    for r in rows:
        print(f"{r['reader']:9s} {r['accuracy']:10.4f} {r['r2']:9.4f} {r['r2_rendered']:10.4f} "
              f"{r['located']:>5d}/{r['n']:<2d} {r['right_skin']:>7d}/{r['n']:<2d}")  # fmt: skip
        print(f"{'':9s} {r['found'][0]:10.4f} {r['found'][1]:9.4f}   on the videos located (misses left out)")
        print(f"{'':9s} {r['right'][0]:10.4f} {r['right'][1]:9.4f}   on the videos whose skin was right")
        if r["reader"] == "template":
            print(f"{'':9s} {'':10s} {r['r2_normalised']:9.4f}   after 99th-percentile stick normalisation")


def speed_table(rows: list[tuple[str, dict]]) -> None:
    """``rows``: (label, run_reader result, with the bare decode of the same videos)."""
    print(f"{'':16s} {'':8s} {'bare':>6s} {'pipeline':>17s} {'steady':>17s} {'per video (s)':>22s}")
    print(f"{'videos':16s} {'reader':8s} {'fps':>6s} {'fps':>6s} {'ratio':>5s} {'cpu':>5s} {'fps':>6s} "
          f"{'ratio':>5s} {'cpu':>5s} {'locate':>6s} {'cpu':>5s} {'set-up':>6s}")  # fmt: skip
    for label, r in rows:
        bare, bare_cpu = r["bare_frames"] / r["bare_seconds"], r["bare_frames"] / max(r["bare_cpu"], 1e-9)
        fps, steady = r["frames"] / r["seconds"], r["read_frames"] / max(r["read"], 1e-9)
        cpu = r["frames"] / max(r["cpu"], 1e-9) / bare_cpu
        steady_cpu = r["read_frames"] / max(r["read_cpu"], 1e-9) / bare_cpu
        n = max(r["located"], 1)
        print(f"{label:16s} {r['reader']:8s} {bare:6.1f} {fps:6.1f} {fps / bare:5.3f} {cpu:5.3f} "
              f"{steady:6.1f} {steady / bare:5.3f} {steady_cpu:5.3f} {r['locate'] / n:6.2f} "
              f"{r['locate_cpu'] / n:5.2f} {r['setup'] / n:6.2f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=50, help="videos for accuracy (and speed)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each of those videos")
    ap.add_argument("--long", type=int, default=3, help="longer videos, for speed (0: none)")
    ap.add_argument("--long-seconds", type=float, default=30.0, help="length of each longer video")
    ap.add_argument("--clips", type=int, default=10, help="2-s clips, for speed (0: none)")
    ap.add_argument("--streams", type=int, default=2, help="stream-length videos, for speed (0: none)")
    ap.add_argument("--stream-seconds", type=float, default=180.0, help="length of each stream-length video")
    ap.add_argument("--parser", default=None, help="parser checkpoint directory (adds the parser's figures)")
    ap.add_argument("--threads", type=int, default=1, help="decoding threads, pipeline and bare decode alike "
                    "(1: one worker per core, as a batch runs; 0: FFmpeg decides)")  # fmt: skip
    ap.add_argument(
        "--preset", default="veryfast", help="x264 preset the workers encode the stored frames with"
    )
    ap.add_argument("--x264-params", default=None, help="x264 options over the preset (default: the "
                    "pipeline's, ExtractConfig.x264_params)")  # fmt: skip
    ap.add_argument("--deblock", action="store_true", help="the pipeline decodes with H.264's deblocking "
                    "filter (default: without, ExtractConfig.skip_loop_filter)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default=None, help="keep the videos here (reused by a later run) instead of a "
                    "temporary folder")  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(1)
    frames = round(args.seconds * 30)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        clips = [footage(150, args.seed + k) for k in range(2)]
        print(f"footage: {', '.join(name for name, _ in clips)}")
        clips = [clip for _, clip in clips]
        sets = {
            f"{args.videos} x {args.seconds:g} s": make_videos(root, args.videos, frames, args.seed, clips),
            f"{args.long} x {args.long_seconds:g} s": make_videos(
                root, args.long, round(args.long_seconds * 30), args.seed + 1, clips, "long"
            ),
            f"{args.clips} x 2 s": make_videos(root, args.clips, 60, args.seed + 2, clips, "clip"),
            f"{args.streams} x {args.stream_seconds:g} s": make_videos(
                root, args.streams, round(args.stream_seconds * 30), args.seed + 3, clips, "stream"
            ),
        }
        sets = {label: videos for label, videos in sets.items() if videos}
        encoding = {} if args.x264_params is None else {"x264_params": args.x264_params}
        readers = [("template", None)] + (
            [("parser", args.parser), ("auto", args.parser)] if args.parser else []
        )
        rows, speed = [], []
        for name, parser in readers:
            config = ExtractConfig(
                out=str(root / f"out-{name}"), skins=(str(default_skins_dir()),), reader=name, parser=parser,
                features=("sift",), refine=RefineConfig(min_density=0.0, min_non_null=0.0),  # all frames
                decode_threads=args.threads, preset=args.preset, skip_loop_filter=not args.deblock,
                **encoding,
            )  # fmt: skip
            t0 = time.perf_counter()
            extractor = VideoExtractor(config)
            print(
                f"{name}: worker set-up (skins, localisation bank, parser) {time.perf_counter() - t0:.1f} s"
            )
            for i, (label, videos) in enumerate(sets.items()):
                if i > 0 and name != "template":
                    continue
                write = root / f"episodes-{name}-{i}" if "long" in videos[0].name else None
                if write is not None:
                    shutil.rmtree(write, ignore_errors=True)
                row = run_reader(extractor, videos, name, write)
                if i == 0:
                    rows.append(row)
                speed.append((label, row))
    print(f"\n{args.videos} synthetic videos x {args.seconds:g} s")
    print("(real skins, bitrates 1-6 Mbps, scale 0.5-1.5, opacity 0.5-1, random corner)\n")
    accuracy_table(rows)
    print()
    speed_table(speed)
    for label, row in speed:
        if row["written"]:
            per_frame = row["write"] / row["written"]
            fps = row["frames"] / (row["seconds"] + row["write"])
            b = row["bare_frames"] / row["bare_seconds"]
            print(f"\nwriting episodes ({label}): {per_frame * 1e3:.2f} ms/frame in the driver (committing "
                  f"the episodes the worker encoded); worker + writing in one process: {fps:.1f} frames/s, "
                  f"ratio {fps / b:.3f}")  # fmt: skip
    print(
        "\nstick R2 (rendered): against the cap positions the video shows (whole pixels of the placed skin)"
    )
    print("ratio: pipeline (probe, locate, read, refine, frames encoded as episodes) frames/s / bare decode;")
    print("cpu: the same ratio per CPU second (all threads; steadier than wall time on a shared machine);")
    print(f"decoding threads: {args.threads} (0: FFmpeg decides), in the pipeline and the bare decode alike;")
    print("bare: each video decoded to RGB just before and after its extraction (deblocking on);")
    deblock = "on" if args.deblock else "off"
    print(f"the pipeline decodes with deblocking {deblock} (ExtractConfig.skip_loop_filter);")
    cfg = extractor.config
    print(f"stored frames: H.264 at preset {cfg.preset}, x264 options '{cfg.x264_params}', encoded by the "
          "worker (in the pipeline's figures);")  # fmt: skip
    print("steady: the decode-read-store loop alone (no locate, no rendering of the reader's pictures);")
    print("locate, set-up: seconds per video; a video of N frames runs at about")
    print("  N / (locate + set-up + N / steady) frames/s, so stream-length videos run at the steady ratio")
    print("goals: stick R2 >= 0.90, button accuracy >= 0.98, ratio >= 0.5 (template reader, CPU)")


if __name__ == "__main__":
    main()
