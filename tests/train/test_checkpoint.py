"""Checkpoints: round trip, atomicity under a failure mid-write, latest pointer, pruning, RNG."""

import random

import numpy as np
import pytest
import torch
from torch import nn

from pixelpad.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from pixelpad.train.errors import CheckpointError


def _save(run, step, model, **kw):
    opt = torch.optim.AdamW(model.parameters())
    return save_checkpoint(
        run,
        step,
        state={"note": "x"},
        model=model.state_dict(),
        ema=model.state_dict(),
        optimizer=opt.state_dict(),
        rng=[rng_state()],
        **kw,
    )


def test_round_trip_with_tied_weights(tmp_path):
    model = nn.Sequential(nn.Embedding(4, 3), nn.Linear(3, 4, bias=False))
    model[1].weight = model[0].weight  # tied: shared storage
    _save(tmp_path, 3, model)
    ck = load_checkpoint(tmp_path)
    assert ck.step == 3 and ck.state["note"] == "x"
    torch.testing.assert_close(ck.model["1.weight"], model[0].weight.detach())


def test_failure_mid_write_keeps_previous_checkpoint(tmp_path):
    model = nn.Linear(2, 2)
    first = _save(tmp_path, 1, model)

    def crash(_tmp):
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        _save(tmp_path, 2, model, export=crash)
    assert latest_checkpoint(tmp_path) == first
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == sorted(["latest", first.name])


def test_incomplete_directory_is_ignored_and_pruning(tmp_path):
    model = nn.Linear(2, 2)
    for step in (1, 2, 3, 4):
        _save(tmp_path, step, model, keep_last=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*"))
    assert names == ["step_00000003", "step_00000004"]
    (tmp_path / "checkpoints" / "step_00000009").mkdir()  # killed before trainer.json: incomplete
    (tmp_path / "checkpoints" / "latest").unlink()
    assert latest_checkpoint(tmp_path).name == "step_00000004"
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "nothing")


def test_rng_states_restore_every_generator():
    state = rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    torch.testing.assert_close(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]
