"""Stage 1 of the demo: "internet videos" made from demonstrators playing real games.

Each (task, seed) episode is played by the task's scripted demonstrator in the simulator
(:func:`pixelpad.eval.play_episode`, the same start state and judge as the evaluation). The frames the
demonstrator saw and the actions it chose are kept; the frames become a stream-like video with a real
skin composited at a random corner, scale and opacity, H.264 at a stream bit rate
(:func:`pixelpad.overlay.synthesize_video`). The true actions go beside the video
(``<video>.actions.npy``, written by the overlay stage) for scoring only: nothing downstream of the
extraction reads them.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import json
import logging
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from pixelpad.actions import MENU_BUTTONS, mask_buttons
from pixelpad.errors import PixelpadError

log = logging.getLogger(__name__)


class RecordError(PixelpadError):
    """A demonstration that cannot be recorded (no skins, a demonstrator that failed every episode)."""


@dataclass(frozen=True)
class RecordConfig:
    """What to record and how to encode it.

    Attributes:
        tasks: task names (``pixelpad.eval.select_tasks``) whose demonstrators play.
        seeds: one recorded episode per task and seed.
        video_size: (H, W) of the videos (even); game frames are resized to it.
        scale: range of the overlay's scale (1 = 30 % of the frame width).
        opacity: range of the overlay's opacity.
        bitrate: range of the stream encoder's bit rate, bits per second.
        skins: skin directories, or folders of the shared collection (all of it by default).
        env_factory: ``module:function`` building a task's env, as :class:`pixelpad.eval.EvalConfig`.
        time_limit_s: caps each task's time limit when set (toy runs).
        seed: draws skins and placements.
        workers: episodes recorded at once, each in its own process and game.
    """

    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    video_size: tuple[int, int] = (360, 480)
    scale: tuple[float, float] = (0.8, 1.3)
    opacity: tuple[float, float] = (0.7, 1.0)
    bitrate: tuple[float, float] = (1.0e6, 2.5e6)
    skins: tuple[str, ...] = ()
    env_factory: str = "pixelpad.eval.env:make_env"
    time_limit_s: float | None = None
    seed: int = 0
    workers: int = 1


@dataclass
class _Recorder:
    """Wraps an agent: keeps every frame it is shown (resized) and every action it returns."""

    inner: Any
    size: tuple[int, int]  # (H, W)
    frames: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)

    def reset(self, seed: int) -> None:
        self.inner.reset(seed)

    def act(self, frame: np.ndarray) -> np.ndarray:
        action = mask_buttons(np.asarray(self.inner.act(frame), np.float32), MENU_BUTTONS)
        h, w = self.size
        self.frames.append(cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA))
        self.actions.append(action)
        return action


def capped(tasks: Sequence[Any], time_limit_s: float | None) -> list[Any]:
    """The tasks with their time limits capped at ``time_limit_s`` (toy runs), else unchanged."""
    import dataclasses

    if time_limit_s is None:
        return list(tasks)
    return [dataclasses.replace(t, time_limit_s=min(t.time_limit_s, time_limit_s)) for t in tasks]


def record_demonstrations(config: RecordConfig, out: Path, *, progress: bool = True) -> list[dict[str, Any]]:
    """Play, composite and encode every (task, seed) demonstration into ``out``; returns one row each.

    A video already in ``out`` (its ground truth written last) is kept, so an interrupted stage resumes.
    Episodes run in ``config.workers`` processes; each depends only on its task and seed, so the rows
    are the same for any number of workers. Rows, in (task, seed) order: ``video`` path, ``task``,
    ``category``, ``game``, ``seed``, the episode's ``status``, ``time_to_success_s``, ``steps`` and
    ``wall_s`` (as :class:`pixelpad.eval.EpisodeResult` has them), ``skin``, ``placement``, ``bitrate``.
    """
    from pixelpad.eval import select_tasks

    out.mkdir(parents=True, exist_ok=True)
    tasks = select_tasks(config.tasks)
    jobs = [(task.name, seed) for task in tasks for seed in config.seeds]
    limit = {task.name: task.time_limit_s for task in tasks}
    bar = tqdm(total=len(jobs), desc="record", unit="episode", disable=not progress)
    if config.workers == 1:
        rows = []
        for name, seed in jobs:
            rows.append(record_one(config, name, seed, out))
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")  # no forked copies of X connections
        with cf.ProcessPoolExecutor(config.workers, mp_context=context) as pool:
            longest_first = sorted(jobs, key=lambda job: -limit[job[0]])  # no long episode starts last
            futures = {job: pool.submit(record_one, config, *job, out) for job in longest_first}
            for future in cf.as_completed(futures.values()):
                future.result()
                bar.update()
        rows = [futures[job].result() for job in jobs]
    bar.close()
    return rows


def record_one(config: RecordConfig, task_name: str, seed: int, out: Path) -> dict[str, Any]:
    """One demonstration: play it (unless its video is already whole), composite, encode; its row."""
    from pixelpad.eval import load_env_factory, play_episode, select_tasks
    from pixelpad.overlay import GroundTruth, random_placement, synthesize_video

    (task,) = capped(select_tasks([task_name]), config.time_limit_s)
    video = out / f"{task.name}-seed{seed}.mp4"
    episode = video.with_suffix(".episode.json")  # written last: the video and its truth are whole
    if not episode.is_file():
        # One generator per video: its skin and placement do not depend on which videos came before.
        rng = np.random.default_rng([config.seed, seed, *task.name.encode()])
        skins = _skins(config.skins)
        start = time.perf_counter()
        for attempt in (1, 2):  # a crashed or hung game is played once more, as evaluation does
            recorder = _Recorder(task.demonstrator(), config.video_size)
            env = load_env_factory(config.env_factory)(task, seed)
            try:
                status, time_to_success, _ = play_episode(task, recorder, env, seed)
                break
            except Exception as err:
                if attempt == 2:
                    raise RecordError(f"{task.name} seed {seed} crashed twice: {err}") from err
                log.warning("%s seed %d crashed (%s); playing it again", task.name, seed, err)
            finally:
                env.close()
        skin = skins[int(rng.integers(len(skins)))]
        synthesize_video(
            np.stack(recorder.frames), skin, video, actions=np.stack(recorder.actions),
            placement=random_placement(rng, scale=config.scale, opacity=config.opacity),
            bitrate=float(rng.uniform(*config.bitrate)), fps=task.fps,
        )  # fmt: skip
        episode.write_text(json.dumps({
            "status": status, "time_to_success_s": time_to_success, "steps": len(recorder.actions),
            "wall_s": time.perf_counter() - start,
        }))  # fmt: skip
    truth = GroundTruth.load(video)
    return {
        "video": str(video), "task": task.name, "category": task.category, "game": task.game,
        "seed": seed, **json.loads(episode.read_text()), "skin": truth.skin,
        "placement": vars(truth.placement), "bitrate": truth.bitrate,
    }  # fmt: skip


def skin_dirs(names: Sequence[str]) -> tuple[str, ...]:
    """Skin directories: each name as a path, or else inside the shared collection
    (:func:`pixelpad.overlay.default_skins_dir`); no names means the whole collection."""
    from pixelpad.overlay import default_skins_dir

    shared = default_skins_dir()
    out = []
    for name in names or ("",):
        if name and Path(name).is_dir():
            out.append(name)
        elif shared is not None and (shared / name).is_dir():
            out.append(str(shared / name))
        else:
            raise RecordError(f"no skin directory {name or 'collection'!r}: give a path, or PIXELPAD_SKINS")
    return tuple(out)


@functools.cache
def _skins(names: tuple[str, ...]) -> list[Any]:
    """The usable skins of ``names``, loaded once per process (seconds for the whole collection)."""
    from pixelpad.overlay import load_skins

    return _usable_skins(load_skins(skin_dirs(names)))


def _usable_skins(skins: list[Any]) -> list[Any]:
    """Skins that show the d-pad and the face buttons: the controls the demonstrators press (a video
    whose overlay hides what the player does teaches nothing)."""
    needed = {"dpad_left", "dpad_right", "dpad_up", "dpad_down", "south"}
    usable = [s for s in skins if needed <= set(s.controls)]
    if not usable:
        raise RecordError(f"none of {len(skins)} skins shows all of {sorted(needed)}")
    log.info("%d of %d skins show the controls the demonstrators use", len(usable), len(skins))
    return usable
