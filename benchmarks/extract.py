"""Extraction benchmark: reader accuracy on synthetic overlay videos, and pipeline speed vs bare decode.

Makes N synthetic videos (real skins, random corner, scale 0.5-1.5, opacity 0.5-1, H.264 at 1-6
Mbps) over game footage (a simulator recording of chromium-bsu when the simulator works, else
procedural scenes), then runs the per-video pipeline (locate → read → refine) with each reader and
prints, per reader, button frame accuracy and stick R² against the ground truth (controls the skin
shows), and the ratio pipeline frames/s ÷ bare decode frames/s of the same videos, measured in the
same run (decoding every frame to RGB, nothing else). Goals (issue 7): R² ≥ 0.90, accuracy ≥ 0.98,
speed ratio ≥ 0.5 with the template reader on CPU.

The template reader needs no training, so every skin is "held out" for it. Pass ``--parser DIR``
(``pixelpad overlay train-parser --out DIR``) to measure the parser too; it is judged on these
skins and this footage whatever it was trained on.

    python benchmarks/extract.py [--videos 50] [--frames 60] [--parser out/parser-narrow]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from pixelpad.actions import AXIS_SLICE, BUTTON_SLICE
from pixelpad.extract.pipeline import ExtractConfig, VideoExtractor, make_task
from pixelpad.overlay.composite import random_placement
from pixelpad.overlay.footage import procedural_footage, record_game
from pixelpad.overlay.library import default_skins_dir, load_skins
from pixelpad.overlay.refine import RefineConfig
from pixelpad.overlay.synth import GroundTruth, synthesize_video
from pixelpad.video import iter_frames


def footage(frames: int, seed: int) -> tuple[str, np.ndarray]:
    try:
        return "chromium-bsu", record_game("chromium-bsu", frames, (360, 640), seed=seed)
    except Exception as err:  # no simulator here: procedural scenes instead
        print(f"(no game footage: {err}; using procedural footage)")
        return "procedural", procedural_footage(frames, (360, 640), seed=seed)


def make_videos(root: Path, n: int, frames: int, seed: int) -> list[Path]:
    rng = np.random.default_rng(seed)
    skins = load_skins([default_skins_dir()])
    clips = [footage(frames, seed + k) for k in range(2)]
    print(f"footage: {', '.join(name for name, _ in clips)}; {len(skins)} real skins")
    videos = []
    for i in range(n):
        skin = skins[int(rng.integers(len(skins)))]
        _, clip = clips[i % len(clips)]
        path = root / f"v{i:03d}.mp4"
        bitrate = float(rng.uniform(1e6, 6e6))
        placement = random_placement(rng)
        synthesize_video(
            clip, skin, path, placement=placement, bitrate=bitrate, seed=int(rng.integers(1 << 30))
        )
        videos.append(path)
    return videos


def scores(pairs: list[tuple[np.ndarray, GroundTruth]]) -> tuple[float, float]:
    """Pooled button frame accuracy and stick R² over the shown controls of every video."""
    hits, cells, resid, total = 0, 0, 0.0, 0.0
    for actions, truth in pairs:
        shown = truth.mask()
        b = shown[BUTTON_SLICE]
        same = (actions[:, BUTTON_SLICE] > 0.5) == (truth.actions[:, BUTTON_SLICE] > 0.5)
        hits, cells = hits + int(same[:, b].sum()), cells + int(same[:, b].size)
        s = shown[AXIS_SLICE]
        pred, true = actions[:, AXIS_SLICE][:, s], truth.actions[:, AXIS_SLICE][:, s]
        resid += float(((pred - true) ** 2).sum())
        total += float(((true - true.mean(0)) ** 2).sum())
    return hits / max(cells, 1), 1 - resid / max(total, 1e-9)


def run_reader(videos: list[Path], out: Path, reader: str, parser: str | None) -> dict:
    config = ExtractConfig(
        out=str(out), skins=(str(default_skins_dir()),), reader=reader, parser=parser, features=("sift",),
        refine=RefineConfig(min_density=0.0, min_non_null=0.0),  # keep every frame: we score them all
    )  # fmt: skip
    t0 = time.perf_counter()
    extractor = VideoExtractor(config)
    setup = time.perf_counter() - t0
    pairs, seconds, frames, located, wrong_skin, read_seconds, read_frames = [], 0.0, 0, 0, 0, 0.0, 0
    for video in videos:
        t0 = time.perf_counter()
        result = extractor(make_task(video))
        seconds += time.perf_counter() - t0
        truth = GroundTruth.load(video)
        frames += truth.num_frames
        if result["status"] != "done":
            pairs.append((np.zeros_like(truth.actions), truth))  # a miss counts as reading nothing
            continue
        located += 1
        read_seconds += result["details"]["read_seconds"]
        read_frames += truth.num_frames
        wrong_skin += result["details"]["skin"] != truth.skin
        pairs.append((np.load(Path(result["spool"]) / "actions.npy"), truth))
    accuracy, r2 = scores(pairs)
    return {"reader": reader, "accuracy": accuracy, "r2": r2, "fps": frames / seconds, "setup_s": setup,
            "read_fps": read_frames / max(read_seconds, 1e-9),
            "located": located, "wrong_skin": wrong_skin}  # fmt: skip


def decode_fps(videos: list[Path]) -> float:
    t0, n = time.perf_counter(), 0
    for video in videos:
        for _ in iter_frames(video):
            n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=50)
    ap.add_argument("--frames", type=int, default=60, help="frames per video")
    ap.add_argument("--parser", default=None, help="parser checkpoint directory (adds the parser's figures)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        videos = make_videos(root, args.videos, args.frames, args.seed)
        bare = decode_fps(videos)
        readers = [("template", None)] + (
            [("parser", args.parser), ("auto", args.parser)] if args.parser else []
        )
        rows = [run_reader(videos, root / f"out-{name}", name, parser) for name, parser in readers]
        bare_again = decode_fps(videos)  # decode speed drifts on a shared machine: average two runs
    bare = (bare + bare_again) / 2
    print(f"\n{args.videos} synthetic videos x {args.frames} frames")
    print("(real skins, bitrates 1-6 Mbps, scale 0.5-1.5, opacity 0.5-1, random corner)")
    print(f"bare decode: {bare:.1f} frames/s")
    header = ("reader", "button acc", "stick R2", "located", "pipeline fps", "fps ratio")
    print(
        f"{header[0]:9s} {header[1]:>10s} {header[2]:>9s} {header[3]:>8s} {header[4]:>13s} {header[5]:>10s}"
    )
    for row in rows:
        located = f"{row['located']}/{args.videos}"
        ratio = row["fps"] / bare
        print(f"{row['reader']:9s} {row['accuracy']:10.4f} {row['r2']:9.4f} {located:>8s} {row['fps']:13.1f} "
              f"{ratio:10.3f} {row['read_fps'] / bare:16.3f}   (setup {row['setup_s']:.1f} s, "
              f"{row['wrong_skin']} wrong skin)")  # fmt: skip
    print(
        "fps ratio: whole pipeline (locate + read + refine) / bare decode; read-pass ratio: without locate,"
    )
    print("which samples 25 frames per video whatever its length (the steady state of long videos)")
    print("goals: stick R2 >= 0.90, button accuracy >= 0.98, fps ratio >= 0.5 (template reader, CPU)")


if __name__ == "__main__":
    main()
