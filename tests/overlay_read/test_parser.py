"""The parser: grid targets, save/load, and that training learns the stand-in task and resumes."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from pixelpad.overlay.parser import Parser, ParserError, get_preset, stick_targets
from pixelpad.overlay.parser_train import STATE_NAME, TrainParserConfig, evaluate, train_parser

# The tiny preset at the stand-in pairs' own size (64 x 128).
TOY = dataclasses.replace(get_preset("tiny"), image_height=64, image_width=128)


def test_stick_targets_expectation_is_the_value():
    values = torch.tensor([[[0.33, -0.71], [1.0, -1.0]], [[0.0, 0.05], [-0.999, 0.5]]])
    target = stick_targets(values, 11)
    grid = Parser(get_preset("tiny")).grid_xy
    torch.testing.assert_close(target @ grid, values, atol=1e-5, rtol=0)
    torch.testing.assert_close(target.sum(-1), torch.ones(2, 2))


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
