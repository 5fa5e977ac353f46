"""The parser: grid targets, scores, save/load, that training learns the stand-in task and resumes,
and that the full-size GPU recipe runs (two steps, tiny model, workers, bfloat16 autocast on CPU)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from pixelpad.cli import main
from pixelpad.overlay.parser import Parser, ParserError, get_preset, stick_targets
from pixelpad.overlay.parser_train import STATE_NAME, TrainParserConfig, evaluate, scores, train_parser

# The tiny preset at the stand-in pairs' own size (64 x 128).
TOY = dataclasses.replace(get_preset("tiny"), image_height=64, image_width=128)


def test_stick_targets_expectation_is_the_value():
    values = torch.tensor([[[0.33, -0.71], [1.0, -1.0]], [[0.0, 0.05], [-0.999, 0.5]]])
    target = stick_targets(values, 11)
    grid = Parser(get_preset("tiny")).grid_xy
    torch.testing.assert_close(target @ grid, values, atol=1e-5, rtol=0)
    torch.testing.assert_close(target.sum(-1), torch.ones(2, 2))


def test_scores_against_hand_counts():
    truth = np.zeros((4, 17), np.float32)
    truth[0, 0] = truth[1, 0] = 1  # button 0 pressed in 2 of 4 visible pairs: no majority, prior says 0
    truth[2, 1] = 1
    batch = {
        "buttons": truth, "button_known": np.ones((4, 17), bool), "visible": np.ones(4, bool),
        "sticks": np.array([[0, 0, 0, 0], [1, 1, 1, 1], [-1, -1, -1, -1], [0, 0, 0, 0]], np.float32),
        "stick_known": np.array([[True, False]] * 4),
    }  # fmt: skip
    said = truth.copy()
    said[2, 1], said[3, 5] = 0, 1  # one miss, one false alarm: tp 2, fp 1, fn 1
    pred = {"buttons": said, "sticks": batch["sticks"] * 0.5, "visible": np.full(4, 0.9)}
    got = scores(pred, batch)
    assert got["button_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert got["button_acc"] == pytest.approx(66 / 68)
    assert got["button_balanced_acc"] == pytest.approx((2 / 3 + 64 / 65) / 2)
    assert got["button_f1_prior"] == 0 and got["button_balanced_acc_prior"] == 0.5
    assert got["button_acc_prior"] == pytest.approx(65 / 68)
    assert got["stick_r2"] == pytest.approx(0.75)  # left stick only: residual = total / 4
    assert got["visible_acc"] == 1


def test_save_load_round_trip(tmp_path, pair_source):
    model = Parser(get_preset("tiny")).eval()
    images = pair_source(4, np.random.default_rng(0))["images"]
    model.save_pretrained(tmp_path)
    again = Parser.from_pretrained(tmp_path)
    a, b = model.predict(images), again.predict(images)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6)
    assert a["sticks"].shape == (4, 4) and np.abs(a["sticks"]).max() <= 1
    with pytest.raises(ParserError):
        Parser.from_pretrained(tmp_path / "missing")


def test_training_beats_the_prior_and_resumes(tmp_path, pair_source):
    torch.manual_seed(0)
    config = TrainParserConfig(
        out_dir=str(tmp_path),
        steps=250,
        batch_size=32,
        lr=2e-3,
        warmup_steps=20,
        log_every=50,
        save_every=125,
        eval_pairs=256,
    )
    metrics = train_parser(pair_source, TOY, config)
    assert metrics["button_acc"] > metrics["button_acc_prior"] + 0.1
    assert metrics["button_f1"] > 0.7 and metrics["button_f1_prior"] == 0
    assert metrics["stick_r2"] > 0.6
    assert metrics["visible_acc"] > 0.95
    # Resume: the saved step is picked up, only the missing steps run, weights carry over.
    resumed = train_parser(pair_source, TOY, TrainParserConfig(**{**config.__dict__, "steps": 260}))
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 260 and steps.count(250) == 1
    assert torch.load(tmp_path / STATE_NAME, weights_only=True)["step"] == 260
    assert resumed["button_acc"] > metrics["button_acc_prior"] + 0.1
    loaded = evaluate(Parser.from_pretrained(tmp_path), pair_source(256, np.random.default_rng([0, 10_000])))
    assert loaded == pytest.approx(resumed, abs=1e-6)
    with pytest.raises(ParserError):
        train_parser(pair_source, get_preset("b0"), config)


def test_paper_recipe_runs_two_steps_with_workers_and_bf16(tmp_path, capsys):
    # The GPU recipe as it is, shrunk only in size: pairs drawn by worker processes from real
    # PairGenerator skins (procedural here), bfloat16 autocast (on the CPU), batch of 4.
    argv = ["overlay", "train-parser", "--recipe", "paper", "--out", str(tmp_path), "--skins",
            "--procedural", "2", "--footage-frames", "4", "--preset", "tiny", "--steps", "2", "--batch-size",
            "4", "--workers", "2", "--bf16", "--device", "cpu", "--eval-pairs", "8"]  # fmt: skip
    assert main(argv) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"button_f1", "stick_r2", "visible_acc"} <= set(metrics)
    state = torch.load(tmp_path / STATE_NAME, weights_only=True)
    assert state["step"] == 2 and state["config"]["bf16"] and state["config"]["workers"] == 2
    assert state["config"]["lr"] == 1e-4 and state["config"]["weight_decay"] == 0.1
    assert Parser.from_pretrained(tmp_path).config == get_preset("tiny")


def test_train_parser_refuses_a_missing_gpu(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["overlay", "train-parser", "--out", str(tmp_path), "--skins", "--procedural", "1",
                 "--device", "cuda", "--footage-frames", "2"]) == 2  # fmt: skip
    assert "no CUDA GPU" in capsys.readouterr().err
