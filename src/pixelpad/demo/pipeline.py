"""``pixelpad demo``: from gameplay videos with an input overlay to an agent playing real games.

The chain, each step a cached stage (:mod:`pixelpad.demo.stages`) under the run directory:

1. ``record``   -- demonstrators play the tasks; their footage becomes stream-like overlay videos
   (:mod:`pixelpad.demo.record`); the true actions stay beside the videos for scoring only;
2. ``extract``  -- ``pixelpad extract`` reads the actions back from the videos, one dataset per game,
   scored against the truth (:mod:`pixelpad.demo.extraction`);
3. ``train``    -- behaviour cloning of a small policy on the extracted episodes (overlay masked);
4. ``evaluate`` -- the policy, random and no-op on the task suite (the demonstrator's rates are its
   recorded episodes, judged by the same task checks);
5. ``play``     -- a video per task of the policy playing, its predicted controller drawn beside;
6. ``report``   -- one markdown page with every number and figure (:mod:`pixelpad.demo.report`).

A stage whose input is missing (a stage of the project not installed, or an earlier stage that
produced nothing) records ``{"missing": why}`` and the report says so; nothing is made up.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelpad.demo.stages import Stage, run_stages
from pixelpad.errors import PixelpadError

log = logging.getLogger(__name__)
Done = dict[str, dict[str, Any]]


class DemoError(PixelpadError):
    """A demo run that cannot go on as asked (unknown size, another configuration in the run directory)."""


@dataclass(frozen=True)
class DemoConfig:
    """Every size of the demo. The defaults run in well under an hour on 2 CPU cores; :meth:`toy`
    runs each stage in seconds (tests), :meth:`named` picks one by name."""

    # One task per game that its demonstrator completes reliably and no-op never does. Random input is
    # not shut out: it took chromium-score-100 5 times and neverball-unlock 9 times in 20, and no
    # Neverball task within the demonstrator's reach shuts it out (README, "Which tasks").
    tasks: tuple[str, ...] = ("chromium-score-100", "supertux-finish", "neverball-unlock")
    # Demonstrations recorded per task. Thirty a task (code of 33aaac0) did not help: 2,500 steps over three
    # times the frames, 55 % of them Neverball's, scored Chromium 1/20, Neverball 14/20, SuperTux 20/20.
    record_seeds: tuple[int, ...] = tuple(range(100, 110))
    # Evaluation episodes per task for the policy and random. Ten could not tell apart the policy's 7/10
    # [40-89 %] and random's 2/10 [6-51 %]; with twenty, 14/20 [48-85 %] and 2/20 [3-30 %] are apart.
    eval_seeds: tuple[int, ...] = tuple(range(20))
    # No-op plays the same inputs in every episode; ten of them show it (0/10 is [0-28 %]) for the cost
    # of ten full-length episodes less per task.
    noop_seeds: tuple[int, ...] = tuple(range(10))
    video_size: tuple[int, int] = (360, 480)  # (H, W) of the recorded videos
    # Frame rate of every extracted dataset: training needs one (a chunk must span one length of time);
    # a game the simulator steps more slowly (Neverball, 10 fps) has its frames repeated up to it.
    fps: float = 30.0
    skins: tuple[str, ...] = ()  # skin directories or folders of the shared collection; () = all of it
    time_limit_s: float | None = None  # caps every task's time limit (toy runs)
    # pixelpad.policy preset. tiny_motion also sees the frame 0.1 s earlier: trained on the same extracted
    # episodes (seed 0, 20 episodes a task) it scored SuperTux 15/20 and Neverball 17/20 where tiny, which
    # cannot tell a rising Tux from a falling one, scored 1/20 and 14/20; Chromium 4/20 vs 5/20. Its conv
    # stem variant scored Chromium 11/20 and 8/20 trained on Chromium alone (tiny_motion 4/20), and a whole
    # demo run Chromium 4/20, Neverball 16/20, SuperTux 19/20 (tiny_motion's last run: 3, 11, 19).
    policy_preset: str = "tiny_motion_conv"
    train_steps: int = 2500  # the validation loss still falls by a tenth from 1,500 to 2,000 steps
    batch_size: int = 32
    lr: float = 5e-4
    warmup_steps: int = 50
    val_every: int = 500
    val_fraction: float = 0.1  # episodes held out for the validation curves
    # How training samples the games: "size" (by dataset frames) or "pictures" (distinct frames, see
    # distinct_frame_weights). One run each: "pictures" scored Neverball 7/10 and SuperTux 0/10 where
    # "size" scored 10/10 and 7/10, and Chromium gained nothing (1/10 vs 2/10).
    weighting: str = "size"
    baselines: tuple[str, ...] = ("noop", "random")  # evaluated beside the policy
    # Actions of each predicted chunk played before predicting again. Four: Chromium-only tiny_motion_conv
    # policies scored 18/20 and 17/20 playing 4 where they scored 13/20 and 10/20 playing 8 (overlays at
    # the bottom-right corner; at random corners 12/20 and 7/20 against 11/20 and 8/20); the demo's
    # earlier policy: Chromium 5/20 vs 4/20, SuperTux 20/20 vs 19/20, Neverball 15/20 vs 16/20.
    execute: int = 4
    workers: int = 2  # recording, extraction and evaluation processes at once
    env_factory: str = "pixelpad.eval.env:make_env"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.weighting not in ("size", "pictures"):
            raise DemoError(f"unknown weighting {self.weighting!r}; expected size or pictures")

    @classmethod
    def toy(cls) -> DemoConfig:
        """Two short tasks of two games, one seed, a few training steps: every stage in seconds."""
        return cls(
            tasks=("supertux-finish", "neverball-coin"), record_seeds=(100,), eval_seeds=(0,),
            noop_seeds=(0,), video_size=(240, 320), time_limit_s=5.0, train_steps=3, batch_size=4,
            warmup_steps=1, val_every=0, val_fraction=0.0, baselines=("noop",), workers=1,
            skins=("nintendospy",),
        )  # fmt: skip

    @classmethod
    def named(cls, size: str) -> DemoConfig:
        """``default`` or ``toy``."""
        if size not in ("default", "toy"):
            raise DemoError(f"unknown demo size {size!r}; expected default or toy")
        return cls.toy() if size == "toy" else cls()


def task_list(config: DemoConfig) -> list[Any]:
    """The configured tasks, time limits capped for toy runs."""
    from pixelpad.demo.record import capped
    from pixelpad.eval import select_tasks

    return capped(select_tasks(config.tasks), config.time_limit_s)


def missing(done: Done, *stages: str) -> str | None:
    """Why a stage cannot run: the first of ``stages`` that recorded ``missing``, else None."""
    for name in stages:
        if "missing" in done.get(name, {}):
            return f"{name}: {done[name]['missing']}"
    return None


def record_stage(config: DemoConfig) -> Callable[[Path, Done], dict[str, Any]]:
    def run(folder: Path, done: Done) -> dict[str, Any]:
        from pixelpad.demo.record import RecordConfig, RecordError, record_demonstrations

        rows = record_demonstrations(
            RecordConfig(
                tasks=config.tasks, seeds=config.record_seeds, video_size=config.video_size,
                skins=config.skins, env_factory=config.env_factory, time_limit_s=config.time_limit_s,
                seed=config.seed, workers=config.workers,
            ),
            folder / "videos",
        )  # fmt: skip
        if not any(row["status"] == "success" for row in rows):
            raise RecordError("no demonstration succeeded: the demonstrators (or the games) are broken here")
        return {"videos": rows, "frames": sum(r["steps"] for r in rows)}

    return run


def extract_stage(config: DemoConfig) -> Callable[[Path, Done], dict[str, Any]]:
    def run(folder: Path, done: Done) -> dict[str, Any]:
        from pixelpad.demo.extraction import extract_available, outcomes, pairs, run_extract, score
        from pixelpad.demo.record import skin_dirs

        if not extract_available():
            return {"missing": "`pixelpad extract` is not installed (pixelpad.extract has no command yet)"}
        skins = list(skin_dirs(config.skins))
        by_game: dict[str, list[dict[str, Any]]] = {}
        for row in done["record"]["videos"]:
            by_game.setdefault(row["game"], []).append(row)
        # Stored frames: half the video size, the same aspect as the game (no letterbox bars).
        frame_size = (config.video_size[0] // 2, config.video_size[1] // 2)
        datasets, per_game, everything = {}, {}, []
        for game, rows in by_game.items():
            videos = [r["video"] for r in rows]
            root = run_extract(videos, skins, folder / game, game=game, fps=config.fps, frame_size=frame_size,
                               workers=config.workers)  # fmt: skip
            videos_done = outcomes(root)
            scored = pairs(root) if videos_done["done"] else []
            per_game[game] = {**score(scored), "videos": videos_done}
            if scored:  # a game none of whose videos gave an episode has no dataset to train on
                datasets[game] = str(root)
            everything += scored
        if not any(s["episodes"] for s in per_game.values()):
            return {"missing": "extraction produced no episodes", "per_game": per_game}
        return {"datasets": datasets, "accuracy": score(everything), "per_game": per_game}

    return run


def train_policy(
    data: tuple[str, ...], out: Path, config: DemoConfig, *, steps: int, init_from: str | None = None,
    seed: int = 0, data_weights: tuple[float, ...] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Behaviour cloning (or fine-tuning from ``init_from``) of ``config.policy_preset`` on ``data``; resumes
    a run interrupted in ``out``. Returns the run, its policy export and final metrics."""
    from pixelpad.train import TrainConfig, latest_checkpoint, make_report, train

    run = out / "run"
    train_config = TrainConfig(
        data=data, data_weights=data_weights, out=str(run), preset=config.policy_preset, init_from=init_from,
        steps=steps,
        batch_size=config.batch_size, lr=config.lr, warmup_steps=min(config.warmup_steps, steps - 1),
        val_every=config.val_every, val_fraction=config.val_fraction, val_samples=64,
        ckpt_every=max(50, steps // 4), keep_last=1, num_workers=1, seed=seed,
    )  # fmt: skip
    if not (run / "policy" / "config.json").is_file():
        train(train_config, resume=latest_checkpoint(run) is not None)
    figures = [str(p) for p in make_report(run, out / "figures")]
    return {"run": str(run), "policy": str(run / "policy"), "figures": figures, **final_metrics(run)}


def final_metrics(run: Path) -> dict[str, float]:
    """The last value of every metric in ``run/metrics.csv``."""
    import csv

    last: dict[str, tuple[int, float]] = {}
    with (run / "metrics.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            step = int(row["step"])
            if step >= last.get(row["name"], (-1, 0.0))[0]:
                last[row["name"]] = (step, float(row["value"]))
    return {name: value for name, (_, value) in last.items()}


def distinct_frame_weights(
    frames: dict[str, int], game_fps: dict[str, float], fps: float
) -> tuple[float, ...]:
    """Each game's sampling weight: its datasets' frames the game really drew (``frames`` by game, in
    datasets at ``fps``). A game played at 10 fps fills a 30 fps dataset with each frame three times;
    weighted by size it would get three times the training its distinct pictures are worth, at the
    expense of the games with the most to learn (by size, Neverball took half of every batch).
    """
    return tuple(n * min(1.0, game_fps[game] / fps) for game, n in frames.items())


def train_stage(config: DemoConfig) -> Callable[[Path, Done], dict[str, Any]]:
    def run(folder: Path, done: Done) -> dict[str, Any]:
        from pixelpad.dataset import EpisodeStore

        why = missing(done, "extract")
        if why:
            return {"missing": why}
        datasets = done["extract"]["datasets"]
        weights = None  # by size
        if config.weighting == "pictures":
            frames = {g: sum(e["length"] for e in EpisodeStore(r).episodes) for g, r in datasets.items()}
            weights = distinct_frame_weights(frames, {t.game: t.fps for t in task_list(config)}, config.fps)
        return train_policy(
            tuple(datasets.values()), folder, config, steps=config.train_steps, seed=config.seed,
            data_weights=weights,
        )  # fmt: skip

    return run


def evaluate(policies: list[str], tasks: list[Any], out: Path, config: DemoConfig, seeds=None) -> None:
    """Play every task with each policy spec into ``out``, all of them sharing one pool of workers (a
    policy whose results are all there is not replayed; an interrupted one is played again)."""
    from pixelpad.eval import EvalConfig, read_results, run_evals

    common = {
        "out": out, "workers": config.workers, "execute": config.execute, "env_factory": config.env_factory,
        "policy_fps": config.fps,
    }  # fmt: skip

    def seeds_of(spec: str) -> tuple[int, ...]:
        return tuple(seeds or (config.noop_seeds if spec == "noop" else config.eval_seeds))

    configs = [EvalConfig(policy=spec, seeds=seeds_of(spec), **common) for spec in policies]

    def complete(c: EvalConfig) -> bool:
        path = out / c.label / "episodes.jsonl"
        return path.is_file() and len(read_results(path)) == len(tasks) * len(c.seeds)

    todo = [c for c in configs if not complete(c)]
    if todo:
        run_evals(todo, tasks)


def write_demonstrator_results(rows: list[dict[str, Any]], out: Path) -> None:
    """The recorded demonstrations as the demonstrator's evaluation results (same tasks, same judge)."""
    from pixelpad.eval import EpisodeResult

    folder = out / "demonstrator"
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for r in rows:
        result = EpisodeResult(
            r["task"], r["category"], r["game"], "demonstrator", r["seed"], r["status"],
            r["time_to_success_s"], r["steps"], r["wall_s"], 1,
        )  # fmt: skip
        lines.append(json.dumps(result.to_json(), sort_keys=True))
    (folder / "episodes.jsonl").write_text("\n".join(lines) + "\n")


def evaluate_stage(config: DemoConfig) -> Callable[[Path, Done], dict[str, Any]]:
    def run(folder: Path, done: Done) -> dict[str, Any]:
        from pixelpad.eval import write_report

        write_demonstrator_results(done["record"]["videos"], folder)
        trained = None if missing(done, "train") else done["train"]["policy"]  # results name it by its path
        evaluate([*config.baselines, *([trained] if trained else [])], task_list(config), folder, config)
        write_report(folder)
        summary = json.loads((folder / "summary.json").read_text())
        label = trained
        chart = str(folder / "success_rates.png")
        return {
            "summary": summary,
            "report": str(folder / "report.md"),
            "chart": chart,
            "policy_label": label,
        }

    return run


def play_stage(config: DemoConfig) -> Callable[[Path, Done], dict[str, Any]]:
    def run(folder: Path, done: Done) -> dict[str, Any]:
        from pixelpad.demo.play import record_agent

        why = missing(done, "train")
        if why:
            return {"missing": why}
        videos = record_agent(
            Path(done["train"]["policy"]), task_list(config), folder, env_factory=config.env_factory,
            execute=config.execute, policy_fps=config.fps, workers=config.workers,
        )  # fmt: skip
        return {"videos": videos}

    return run


def report_stage(config: DemoConfig, root: Path) -> Callable[[Path, Done], dict[str, Any]]:
    def run(folder: Path, done: Done) -> dict[str, Any]:
        from pixelpad.demo.report import write_report

        path = write_report(root, config, done)
        return {"report": str(path)}

    return run


def demo_stages(config: DemoConfig, root: Path) -> list[Stage]:
    return [
        Stage("record", record_stage(config), "demonstrators play; stream-like overlay videos"),
        Stage("extract", extract_stage(config), "pixelpad extract on the videos, scored against the truth"),
        Stage("train", train_stage(config), "behaviour cloning on the extracted episodes"),
        Stage("evaluate", evaluate_stage(config), "the policy vs random and no-op on the tasks"),
        Stage("play", play_stage(config), "videos of the policy playing, controller drawn beside"),
        Stage("report", report_stage(config, root), "one markdown page with every number"),
    ]


def run_demo(
    out: Path,
    config: DemoConfig = DemoConfig(),
    *,
    force: tuple[str, ...] = (),
    echo: Callable[[str], None] = print,
) -> dict[str, dict[str, Any]]:
    """Run (or resume) the demo under ``out``; returns each stage's summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    saved, current = out / "config.json", json.dumps(dataclasses.asdict(config), indent=2)
    if saved.is_file() and saved.read_text() != current and not force:
        raise DemoError(
            f"{out} holds a run of another demo configuration: use another --out or --force record"
        )
    saved.write_text(current)
    return run_stages(out, demo_stages(config, out), force=force, echo=echo)
