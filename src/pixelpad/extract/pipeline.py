"""The per-video function of ``pixelpad extract``: locate → read → refine → stage an episode.

:class:`VideoExtractor` is built once per worker process (or Ray actor): it loads the skins, the
template bank for localisation and, if given, the parser. Called with a task it:

1. probes the video (an unreadable file is ``failed`` with the reason) and checks its length;
2. locates the overlay (none found: ``no_overlay``);
3. decodes the video once, converting only the overlay's region and a small letterboxed copy of
   each frame (:mod:`pixelpad.extract.frames`): the overlay is read by the template reader and
   (pairs of consecutive crops) by the parser, and the copy, with the overlay box blacked out, is
   H.264-encoded to a spool on disk with a key frame at every chunk (:mod:`pixelpad.extract.spool`;
   a ten-hour video needs no memory for its frames); frames are resampled to the dataset's frame
   rate on the way;
4. chooses (or blends) the readers, smooths, refines (the parser's sticks centred and normalised,
   the template reader's rest offsets removed within a pixel and a half, null frames, < 50 %
   non-null chunks dropped, action density): an idle video is ``too_idle``;
5. cuts each kept segment out of the spool as an episode file (packets copied, not re-encoded) and
   returns them with the metadata as a JSON-able result; the driver (:mod:`pixelpad.extract.run`)
   commits them as episodes — one writer, whatever the engine, but the encoding is done here, in
   parallel workers.

Errors never escape: every exception becomes a ``failed`` result with its reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pixelpad.actions import ACTION_DIM
from pixelpad.errors import PixelpadError
from pixelpad.extract.frames import FrameConverter, HiddenPixels, letterbox_geometry
from pixelpad.extract.manifest import DONE, FAILED, NO_OVERLAY, TOO_IDLE
from pixelpad.extract.spool import VIDEO_NAME, FrameSpool
from pixelpad.overlay.refine import RefineConfig, refine
from pixelpad.overlay.smoothing import smooth
from pixelpad.video import crop

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
MASKS = ("footprint", "box")
READERS: tuple[str, ...] = ("auto", "template", "parser")
# Sprites put on whole pixels (position and size rounded), and localisation's sub-pixel error, can
# shift a stick's cap by about this many video pixels from where the skin's geometry says it rests.
MISREGISTRATION_PX = 1.5


class ExtractError(PixelpadError):
    """Extraction settings that cannot work (no skins, a parser asked for but not given...)."""


@dataclass(frozen=True)
class ExtractConfig:
    """Everything a worker needs; JSON-able so it travels to pool processes and Ray actors."""

    out: str  # dataset root; spools go under OUT/extract/staging
    skins: tuple[str, ...]  # skin directories
    reader: str = "auto"  # auto (both if a parser is given, then choose) | template | parser
    parser: str | None = None  # parser checkpoint directory
    fps: float = 30.0  # the dataset's frame rate: every video is resampled to it
    frame_size: tuple[int, int] = (180, 320)  # (height, width) of stored frames, letterboxed
    # What is blacked out of the stored frames: "footprint", the pixels the overlay's pictures cover
    # (pixelpad.overlay.footprint), or "box", its whole bounding box.
    mask: str = "footprint"
    features: tuple[str, ...] = ("sift", "xfeat")  # localisation features
    max_hours: float = 12.0  # longer videos are failed with a reason (split them first)
    smooth_window: int = 3
    parser_batch: int = 64
    parser_device: str = "cpu"
    crf: int = 20  # x264 settings of the stored frames (the dataset's encoding)
    preset: str = "veryfast"
    # Over the preset: the encode is a fifth of a worker's per-frame CPU. On 2100 frames of game
    # footage at 320x180, crf 20 (encode + handing frames to x264): veryfast 1.36 ms a frame, 1726
    # bytes, PSNR 34.8/34.8/33.7 dB on three videos (against the RGB frames given); with these options
    # 0.91 ms, 1918 bytes (+11 %), the same PSNR; superfast 0.99 ms, 3119 bytes; ultrafast 0.55 ms,
    # 4708 bytes (2.7x: the dataset's disk, and the bytes every training epoch reads, for 0.36 ms
    # more of the worker's time saved); ultrafast at crf 26 makes 1796 bytes at 0.7 dB less PSNR.
    # cabac=0 (CAVLC entropy coding): on 1500 stored frames of three benchmark videos (benchmarks/
    # extract.py), encode 0.707-0.718 -> 0.623-0.632 ms a frame, decoding the result to RGB 0.623-0.727
    # -> 0.478-0.577 ms a frame (what training reads), 1788 -> 1950 bytes a frame (+9 %), PSNR 42.46 dB
    # either way (against the I420 frames given); x264's no-deblock would save 0.04 ms more for
    # +1.5 % bytes and 0.07 dB less.
    x264_params: str = "subme=1:me=dia:partitions=none:cabac=0"
    decode_threads: int = 0  # FFmpeg decoding threads (0: FFmpeg decides)
    # The read pass decodes without H.264's deblocking (loop) filter (libavcodec's skip_loop_filter):
    # the readers compare whole regions with renderings, and the stored copy is shrunk, so block
    # edges barely matter. On the 53 videos of benchmarks/extract.py (50 x 10 s, 3 x 30 s, template
    # reader, same locations): button accuracy 0.9913 with and without, stick R² 0.9716 without vs
    # 0.9713 with; read pass 4.11 vs 4.46 ms of CPU a frame. Decoding alone: 0.93 -> 0.76 ms a frame
    # at 1.1 Mbps, no change at 6 Mbps (x264 hardly deblocks at low quantisers).
    skip_loop_filter: bool = True
    # Localisation samples key frames only in videos longer than this many frames: decoding its
    # evenly spread samples otherwise decodes nearly every frame, a second full decode (the read pass
    # is the first). 720 frames is 24 s at 30 fps, a dozen key frames at the usual 2-s interval;
    # with 8 (15-s videos) it missed 3 of 20 overlays where evenly spread frames missed 1.
    locate_keyframes_above: int = 720
    # Localisation samples this many frames, with no first look (LocateConfig.frames, .early_frames):
    # its cost is about proportional to the frames searched, and the first look at 10 frames ended no
    # search early on the 6 benchmark videos checked (it only added a search). On 20 videos of
    # benchmarks/extract.py (template reader), 25 frames + first look at 10: locate 4.34 s of CPU a
    # video, all located, 16 right colourways, button accuracy 0.9892, stick R² 0.9452; 8 frames:
    # 2.12 s, all, 16, 0.9907, 0.946; 10 frames: 2.44 s, all, 17, 0.9908, 0.9234 (a small overlay's
    # stick reads move with a pixel of localisation error, whichever frames are sampled).
    locate_frames: int = 8
    locate_early_frames: int = 0
    # Layouts localisation refines (guided matching, edge polish, scoring each against the mean frame:
    # most of its time) from each of its three sources: the first pass's best (LocateConfig.shortlist,
    # 8 by default), the edge search's proposals (.proposals, 8) and the second look at the best fit's
    # region (.region_shortlist, 12). On the 55 videos of benchmarks/extract.py (2 x 180 s, 3 x 30 s,
    # 50 x 10 s), each located with both alternately: 4 of each gave the same skin and the same affine
    # on all 55 (47 right colourways either way) for 2.84 s of CPU a video vs 3.44 s with the defaults.
    locate_refined: int = 4
    game: str = "unknown"
    refine: RefineConfig = field(default_factory=RefineConfig)

    def __post_init__(self) -> None:
        if self.reader not in READERS:
            raise ExtractError(f"reader must be one of {', '.join(READERS)}, got {self.reader!r}")
        if self.reader == "parser" and not self.parser:
            raise ExtractError("--reader parser needs --parser CHECKPOINT_DIR")
        if self.mask not in MASKS:
            raise ExtractError(f"mask must be one of {', '.join(MASKS)}, got {self.mask!r}")
        if self.frame_size[0] % 2 or self.frame_size[1] % 2 or min(self.frame_size) < 2:
            raise ExtractError(f"frame_size must be even (H.264), got {self.frame_size}")
        if not self.skins:
            raise ExtractError("extraction needs at least one skin directory (--skins)")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ExtractConfig:
        raw = json.loads(text)
        raw["refine"] = RefineConfig(**raw["refine"])
        for key in ("skins", "features", "frame_size"):
            raw[key] = tuple(raw[key])
        return cls(**raw)


def video_id_for(path: str | os.PathLike[str]) -> str:
    """A stable id: the file's stem plus a hash of its absolute path (two ``clip.mp4`` stay apart)."""
    resolved = str(Path(path).resolve())
    return f"{Path(path).stem}-{hashlib.sha1(resolved.encode()).hexdigest()[:8]}"


def make_task(path: str | os.PathLike[str]) -> dict[str, Any]:
    return {"video_id": video_id_for(path), "path": str(path)}


def _covering_box(box: Box, scale: float, x0: int, y0: int, size: tuple[int, int]) -> Box:
    """The letterboxed frame's pixels that any pixel of ``box`` (source frame) contributes to.

    Masking after the resize (not before) spares a full-size copy of every frame; area resampling
    spreads a source pixel only over the output pixels it overlaps, which this box covers.
    """
    x, y, w, h = box
    left, top = max(x0, x0 + math.floor(x * scale)), max(y0, y0 + math.floor(y * scale))
    right = min(size[1], x0 + math.ceil((x + w) * scale))
    bottom = min(size[0], y0 + math.ceil((y + h) * scale))
    return (left, top, max(1, right - left), max(1, bottom - top))


def _union(a: Box, b: Box) -> Box:
    """The smallest box holding boxes ``a`` and ``b`` (x, y, w, h)."""
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def native_affine(affine: np.ndarray, skin_size: tuple[int, int]) -> np.ndarray:
    """A :class:`~pixelpad.overlay.locate.Location` affine (canonical template → frame) as native
    skin pixels → frame pixels (the template is the skin with its longer side ``TEMPLATE_SIZE``)."""
    from pixelpad.overlay.bank import TEMPLATE_SIZE

    out = np.array(affine, np.float64)
    out[:, :2] *= TEMPLATE_SIZE / max(skin_size)
    return out


def rest_limits(skin: Any, scale: float, pixels: float = MISREGISTRATION_PX) -> np.ndarray:
    """``(2, 2)`` (left, right) x (x, y): the stick offsets, in axis units, that ``pixels`` of
    misregistration make on ``skin`` drawn at ``scale`` video pixels per skin pixel (at most 0.5)."""
    out = np.zeros((2, 2), np.float32)
    for side, geometry in skin.sticks().items():
        span = np.asarray(geometry.range, np.float64) * scale  # video pixels for a full push
        out[("left", "right").index(side)] = np.minimum(0.5, pixels / np.maximum(span, 1e-6))
    return out


def resample_indices(num_frames: int, source_fps: float, target_fps: float) -> np.ndarray:
    """Source frame index for each output frame at ``target_fps`` (nearest frame in time)."""
    n_out = max(1, int(np.floor(num_frames * target_fps / source_fps + 1e-6)))
    return np.minimum(np.round(np.arange(n_out) * source_fps / target_fps).astype(np.int64), num_frames - 1)


class VideoExtractor:
    """The per-video worker (see the module docstring); build once, call per task."""

    def __init__(self, config: ExtractConfig | str) -> None:
        from pixelpad.overlay.bank import TemplateBank, default_cache_dir
        from pixelpad.overlay.library import load_skins

        self.config = ExtractConfig.from_json(config) if isinstance(config, str) else config
        skins = load_skins(self.config.skins)
        self.skins = {s.name: s for s in skins}
        features = self.config.features
        self.bank = TemplateBank(skins, kinds=features, progress=False, cache_dir=default_cache_dir())
        self.parser = None
        if self.config.parser and self.config.reader in ("auto", "parser"):
            from pixelpad.overlay.parser import Parser

            self.parser = Parser.from_pretrained(self.config.parser, device=self.config.parser_device)
        self.staging = Path(self.config.out) / "extract" / "staging"

    def __call__(self, task: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        base = {"video_id": task["video_id"], "path": task["path"]}
        try:
            result = self._process(task)
        except PixelpadError as err:
            result = {"status": FAILED, "reason": str(err)}
        except Exception as err:  # a bug or a library failure on odd input: record it, keep going
            log.error("video %s: %s", task["path"], traceback.format_exc())
            result = {"status": FAILED, "reason": f"{type(err).__name__}: {err}"}
        if result["status"] != DONE:  # a failure after the read pass leaves its spool behind
            FrameSpool.remove(self.staging / task["video_id"])
        result.setdefault("details", {})["seconds"] = round(time.perf_counter() - start, 3)
        return {**base, "reason": "", **result}

    def _process(self, task: dict[str, Any]) -> dict[str, Any]:
        from pixelpad.overlay.locate import LocateConfig, locate
        from pixelpad.video import probe

        cfg = self.config
        info = probe(task["path"])
        if info.duration > cfg.max_hours * 3600:
            return {"status": FAILED, "reason": f"too long: {info.duration / 3600:.1f} h > {cfg.max_hours} h "
                    "(raise --max-hours or split the video)"}  # fmt: skip
        started, cpu = time.perf_counter(), time.process_time()  # CPU: steadier on a shared machine
        locate_config = LocateConfig(
            kinds=cfg.features, keyframes_above=cfg.locate_keyframes_above, frames=cfg.locate_frames,
            early_frames=cfg.locate_early_frames, shortlist=cfg.locate_refined, proposals=cfg.locate_refined,
            region_shortlist=cfg.locate_refined,
        )  # fmt: skip
        location = locate(task["path"], self.bank, locate_config)
        locate_s, locate_cpu = time.perf_counter() - started, time.process_time() - cpu
        if location is None:
            return {"status": NO_OVERLAY, "reason": "no known skin found in the sampled frames"}
        skin = self.skins[location.skin]
        details: dict[str, Any] = {
            "skin": skin.name, "box": list(location.box), "locate_confidence": round(location.confidence, 4),
            "locate_support": round(location.support, 4), "source_fps": info.fps,
            "source_size": [info.height, info.width], "locate_seconds": round(locate_s, 3),
            "locate_cpu_seconds": round(locate_cpu, 3),
        }  # fmt: skip
        started, cpu = time.perf_counter(), time.process_time()
        reads = self._read(task, info, location, skin)
        details["read_seconds"] = round(time.perf_counter() - started, 3)
        details["read_cpu_seconds"] = round(time.process_time() - cpu, 3)
        details.update(reads.pop("details"))
        if reads["num_frames"] == 0:
            return {"status": FAILED, "reason": "no frame could be decoded", "details": details}
        return self._finish(task, reads, skin, details, rest_limits(skin, location.scale))

    def _read(self, task: dict[str, Any], info: Any, location: Any, skin: Any) -> dict[str, Any]:
        """One decode pass: both readers' raw reads at the dataset's frame rate, and the frame spool.

        Only the overlay's region (what the readers look at) and a small letterboxed copy (what is
        stored) of each frame are converted to RGB (:mod:`pixelpad.extract.frames`).
        """
        from pixelpad.overlay.template_reader import TemplateReader
        from pixelpad.video import iter_frames

        cfg = self.config
        use_template = cfg.reader in ("auto", "template")
        started, cpu = time.perf_counter(), time.process_time()
        template = TemplateReader(skin, native_affine(location.affine, skin.size)) if use_template else None
        setup_s, setup_cpu = time.perf_counter() - started, time.process_time() - cpu
        source = (info.height, info.width)
        box = location.box
        region = _union(box, template.source_box()) if template is not None else box
        convert = FrameConverter.build(source, region, cfg.frame_size)
        origin = convert.crop[:2]
        scale, x0, y0, _, _ = letterbox_geometry(source, cfg.frame_size)
        masked_box = _covering_box(box, scale, x0, y0, cfg.frame_size)
        hidden = self._hidden(skin, location, masked_box, (scale, x0, y0))
        wanted = resample_indices(info.num_frames, info.fps, cfg.fps)
        t_images, t_reads, t_vis, p_images, p_reads, p_vis = [], [], [], [], [], []
        pair_crop = (
            (self.parser.config.image_height, self.parser.config.image_width // 2) if self.parser else None
        )
        spool = FrameSpool(
            self.staging / task["video_id"], cfg.fps, cfg.refine.horizon, cfg.crf, cfg.preset, cfg.x264_params
        )
        previous_crop: np.ndarray | None = None
        k = 0
        try:
            options = {"skip_loop_filter": "all"} if cfg.skip_loop_filter else None
            frames = iter_frames(
                task["path"], threads=cfg.decode_threads, convert=convert, decoder_options=options
            )
            for frame in frames:
                if k >= len(wanted):
                    break
                region_rgb, small = frame.image
                crop_now = None
                if pair_crop is not None:
                    crop_now = cv2.resize(
                        crop(region_rgb, (box[0] - origin[0], box[1] - origin[1], box[2], box[3])),
                        (pair_crop[1], pair_crop[0]), interpolation=cv2.INTER_AREA,
                    )  # fmt: skip
                hidden.apply(small)  # the overlay must not teach the policy
                while k < len(wanted) and frame.index >= wanted[k]:
                    if template is not None:
                        t_images.append(template.sample(region_rgb, origin))
                        if len(t_images) == template.config.batch:
                            self._run_template(template, t_images, t_reads, t_vis)
                    if crop_now is not None:
                        prev = crop_now if previous_crop is None else previous_crop
                        p_images.append(np.concatenate([prev, crop_now], axis=1))
                        if len(p_images) == cfg.parser_batch:
                            self._run_parser(p_images, p_reads, p_vis)
                    spool.append_i420(small)
                    k += 1
                previous_crop = crop_now
            if p_images:
                self._run_parser(p_images, p_reads, p_vis)
            if t_images:
                self._run_template(template, t_images, t_reads, t_vis)
        except BaseException:
            spool.abort()
            raise
        spool.close()
        n = len(spool)
        return {
            "num_frames": n,
            "template": (np.concatenate(t_reads).reshape(-1, ACTION_DIM), np.concatenate(t_vis))
            if t_reads else None,
            "parser": (np.concatenate(p_reads).reshape(-1, ACTION_DIM), np.concatenate(p_vis))
            if p_reads else None,
            "spool": spool.path,
            "details": {"frames": n, "reader_setup_seconds": round(setup_s, 3),
                        "reader_setup_cpu_seconds": round(setup_cpu, 3),
                        "stored_box": list(masked_box) if n else None, "masked": cfg.mask,
                        "unreadable_controls": list(template.unreadable) if template else []},
        }  # fmt: skip

    def _hidden(self, skin: Any, location: Any, box: Box, letterbox: tuple[float, int, int]) -> HiddenPixels:
        """What to black out of the stored frames (``ExtractConfig.mask``): the overlay's covering
        ``box`` there, or only the pixels its pictures cover."""
        from pixelpad.overlay.footprint import frame_footprint

        size = self.config.frame_size
        if self.config.mask == "box":
            return HiddenPixels.box(box, size)
        scale, x0, y0 = letterbox
        to_stored = np.array([[scale, 0.0, x0], [0.0, scale, y0], [0.0, 0.0, 1.0]])
        affine = to_stored @ np.vstack([native_affine(location.affine, skin.size), [0.0, 0.0, 1.0]])
        return HiddenPixels.of(frame_footprint(skin, affine[:2], size))

    @staticmethod
    def _run_template(
        reader: Any, images: list[np.ndarray], reads: list[np.ndarray], visible: list[np.ndarray]
    ) -> None:
        """Read the batched sampled overlays into ``(B, 21)`` reads and ``(B,)`` visibility."""
        r, v = reader.read_samples(np.stack(images))
        reads.append(r)
        visible.append(v)
        images.clear()

    def _run_parser(
        self, images: list[np.ndarray], reads: list[np.ndarray], visible: list[np.ndarray]
    ) -> None:
        """Parse the batched pairs into ``(B, 21)`` reads (NaN rows where the overlay is not visible)."""
        out = self.parser.predict(np.stack(images))
        batch = np.concatenate([out["buttons"], out["sticks"]], axis=1).astype(np.float32)
        batch[out["visible"] < 0.5] = np.nan
        reads.append(batch)
        visible.append(out["visible"].astype(np.float32))
        images.clear()

    def _finish(
        self,
        task: dict[str, Any],
        reads: dict[str, Any],
        skin: Any,
        details: dict[str, Any],
        limits: np.ndarray,
    ) -> dict:
        """Choose the reader, smooth, refine; ``limits``: the template reads' rest offsets to allow."""
        from pixelpad.overlay.reader_choice import choose

        cfg = self.config
        shown = skin.mask()
        choice = choose(reads["template"], reads["parser"], shown)
        raw = smooth(choice.reads, cfg.smooth_window)
        raw[:, ~shown] = np.where(np.isnan(raw[:, ~shown]), np.nan, 0.0)  # absent controls: not pressed
        # Template reads are in the skin's own stick geometry already: the skin says where the cap
        # rests and where full deflection puts it. 99th-percentile scaling could only distort them: a
        # player who never pushes a stick to the rim in a clip would have every push blown up
        # (benchmarks/extract.py prints the R² with and without; 0.35 vs 0.90 when measured on 50
        # two-second clips). Their rest offset is removed only up to what a pixel and a half of
        # misregistration explains (calibrated_rest). The parser's reads get the paper's centring and
        # scaling.
        calibrated = choice.reader in ("template", "blend")
        refine_config = cfg.refine
        if calibrated:
            refine_config = dataclasses.replace(refine_config, scale_sticks=False)
        refined = refine(raw, refine_config, limits if calibrated else None)
        details.update({
            "reader": choice.reader, **{k: round(v, 4) for k, v in choice.scores.items()},
            "density": round(refined.density, 4), "centre": refined.centre.round(4).tolist(),
            "scale": refined.scale.round(4).tolist(), "shown": [bool(b) for b in shown],
        })  # fmt: skip
        spool_dir = Path(reads["spool"])
        if not refined.kept:
            FrameSpool.remove(spool_dir)
            return {"status": TOO_IDLE, "details": details,
                    "reason": f"action density {refined.density:.3f} < {cfg.refine.min_density}"}  # fmt: skip
        if not refined.segments:
            FrameSpool.remove(spool_dir)
            why = f"no run of chunks with >= {cfg.refine.min_non_null:.0%} non-null frames"
            return {"status": TOO_IDLE, "details": details, "reason": why}
        np.save(spool_dir / "actions.npy", refined.actions)
        details["segments"] = [list(s) for s in refined.segments]
        return {"status": DONE, "details": details, "spool": str(spool_dir),
                "episodes": self._cut_episodes(spool_dir, refined.segments)}  # fmt: skip

    def _cut_episodes(self, spool_dir: Path, segments: list[tuple[int, int]]) -> list[dict[str, Any]]:
        """Each kept segment's frames as an episode file (packets copied from the spool) and its image
        statistics, for the driver to commit; the spool's video is removed once cut."""
        files = [spool_dir / f"episode-{start:09d}-{stop:09d}.mp4" for start, stop in segments]
        FrameSpool.cut(spool_dir, segments, files)
        gop = self.config.refine.horizon
        episodes = [
            {"segment": [start, stop], "video": str(path),
             "image_stats": FrameSpool.image_stats(spool_dir, start, stop, gop)}
            for (start, stop), path in zip(segments, files, strict=True)
        ]  # fmt: skip
        (spool_dir / VIDEO_NAME).unlink()
        return episodes
