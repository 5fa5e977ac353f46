"""Benchmark: telling colourways of one layout apart, given where the overlay is.

Localisation finds a layout and its transform by features, which colourways share; the picture
then has to name the colourway (:mod:`pixelpad.overlay.photometric`). This isolates that step:
``--videos`` synthetic stream videos of real and procedural skins (opacity 0.5-1, scale 0.5-1.5, four
corners, 1-6 Mbit/s H.264) over game footage, sampled as ``locate`` samples them, and for each the
true layout's colourways and the true transform, off by up to ``--jitter`` pixels and 1% in scale
as a fitted one is. Prints the share of right colourways for the blended fit
(:func:`~pixelpad.overlay.photometric.choose_template`) against the whole-box correlation it replaced
(the baseline, measured in the same run), the time per video, and the misses. Only layouts with
more than one colourway count. Takes ~3 minutes (most of it making the templates and videos).

    python benchmarks/colourway.py                  # 80 videos
    python benchmarks/colourway.py --videos 20      # a quick look
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pixelpad.overlay.bank import TemplateBank, default_cache_dir
from pixelpad.overlay.composite import BASE_WIDTH, CORNERS, Placement
from pixelpad.overlay.footage import procedural_footage
from pixelpad.overlay.library import default_skins_dir, load_skins
from pixelpad.overlay.locate import LocateConfig, sample_for_locate
from pixelpad.overlay.photometric import box_correlation, choose_template
from pixelpad.overlay.procedural import procedural_skins
from pixelpad.overlay.synth import synthesize_video


def footage_clips(size: tuple[int, int], frames: int, cache: Path) -> list[np.ndarray]:
    """Game recordings ``benchmarks/locate.py`` keeps in ``cache`` at this size, else procedural scenes."""
    h, w = size
    clips = [np.load(p) for p in sorted(cache.glob(f"*-{h}x{w}-*.npy"))]
    clips = [c for c in clips if len(c) >= frames]
    if clips:
        print(f"footage: {len(clips)} game recordings from {cache}")
        return clips
    print(f"footage: no recordings in {cache} (run benchmarks/locate.py once); procedural scenes")
    return [procedural_footage(3 * frames, size, seed) for seed in range(3)]


def correlation_choice(bank: TemplateBank, layout: int, affine: np.ndarray, mean: np.ndarray) -> int:
    """The baseline: the colourway whose picture over mid-grey correlates best with the mean frame."""
    siblings = np.flatnonzero(bank.layout_of == layout)
    scores = [box_correlation(bank.templates[int(t)].image, affine, mean) for t in siblings]
    return int(siblings[int(np.argmax(scores))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=80)
    ap.add_argument("--templates", type=int, default=300, help="real skins + procedural ones")
    ap.add_argument("--width", type=int, default=480)
    ap.add_argument("--height", type=int, default=272)
    ap.add_argument("--frames", type=int, default=90, help="frames per video")
    ap.add_argument("--jitter", type=float, default=1.0, help="pixels the transform is off by, at most")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=default_cache_dir().parent / "footage")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    real = load_skins([default_skins_dir()])
    skins = real + procedural_skins(max(0, args.templates - len(real)), 0)
    t = time.perf_counter()
    bank = TemplateBank(skins, kinds=(), progress=False)
    print(f"templates: {len(bank)} ({len(real)} real), {len(bank.layouts)} layouts, "
          f"made in {time.perf_counter() - t:.0f} s")  # fmt: skip
    shared = [np.flatnonzero(bank.layout_of == lay) for lay in range(len(bank.layouts))]
    candidates = [s for s in range(len(bank)) if len(shared[bank.layout_of[s]]) > 1]
    real_candidates = [s for s in candidates if s < len(real)]
    procedural_candidates = [s for s in candidates if s >= len(real)]

    clips = footage_clips((args.height, args.width), args.frames, args.cache)
    work = Path(tempfile.mkdtemp(prefix="pixelpad-bench-colourway-"))
    rows = []
    for i in tqdm(range(args.videos), desc="videos"):
        pool = real_candidates if i % 2 == 0 else procedural_candidates
        template = pool[int(rng.integers(len(pool)))]
        skin = bank.templates[template].skin
        clip = clips[i % len(clips)]
        start = int(rng.integers(0, len(clip) - args.frames + 1))
        placement = Placement(CORNERS[i % 4], float(rng.uniform(0.5, 1.5)), float(rng.uniform(0.5, 1.0)))
        bitrate = float(rng.uniform(1e6, 6e6))
        path = work / f"video{i:03d}.mp4"
        truth = synthesize_video(clip[start : start + args.frames], skin, path, placement=placement,
                                 bitrate=bitrate, seed=i)  # fmt: skip
        frames, _ = sample_for_locate(path, LocateConfig())
        scale = placement.scale * BASE_WIDTH * args.width / skin.size[1] / bank.templates[template].factor
        scale *= 1 + rng.uniform(-0.01, 0.01)
        offset = np.array(truth.box[:2]) + rng.uniform(-args.jitter, args.jitter, 2)
        affine = np.array([[scale, 0, offset[0]], [0, scale, offset[1]]])
        mean = frames.astype(np.float32).mean(axis=0)
        layout = int(bank.layout_of[template])
        t0 = time.perf_counter()
        baseline = correlation_choice(bank, layout, affine, mean)
        t1 = time.perf_counter()
        chosen, _ = choose_template(bank, [(layout, affine)], mean)
        t2 = time.perf_counter()
        rows.append((template, baseline, chosen, placement, bitrate, t1 - t0, t2 - t1))

    def rate(column: int, which=lambda r: True) -> str:
        picked = [r[column] == r[0] for r in rows if which(r)]
        return f"{np.mean(picked or [0]):.1%} of {len(picked)}"

    is_real = lambda r: r[0] < len(real)  # noqa: E731
    print(f"\n== right colourway, true layout and transform (+-{args.jitter:g} px, +-1% scale)")
    print(f"whole-box correlation (baseline): {rate(1)} (real {rate(1, is_real)}, "
          f"procedural {rate(1, lambda r: not is_real(r))})")  # fmt: skip
    print(f"blended fit per tile            : {rate(2)} (real {rate(2, is_real)}, "
          f"procedural {rate(2, lambda r: not is_real(r))})")  # fmt: skip
    wrong_base = sum(r[1] != r[0] for r in rows)
    wrong_new = sum(r[2] != r[0] for r in rows)
    print(f"misses: {wrong_base} -> {wrong_new} (ratio {wrong_new / max(wrong_base, 1):.2f})")
    print(f"ms per video: baseline {1e3 * np.mean([r[5] for r in rows]):.0f}, "
          f"blended fit {1e3 * np.mean([r[6] for r in rows]):.0f}")  # fmt: skip
    print("\n== misses of the blended fit (opacity, scale, Mbit/s)")
    for template, _, chosen, p, bitrate, *_ in rows:
        if chosen != template:
            alike = np.array_equal(bank.templates[template].image, bank.templates[chosen].image)
            note = "  (same released picture: only pressed looks differ)" if alike else ""
            print(f"    {bank.templates[template].skin.name} -> {bank.templates[chosen].skin.name}  "
                  f"op {p.opacity:.2f} scale {p.scale:.2f} {bitrate / 1e6:.1f}{note}")  # fmt: skip


if __name__ == "__main__":
    main()
