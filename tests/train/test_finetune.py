"""Fine-tuning: from the official ng.pt format, from a pixelpad run; freezing; the memory check."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_factories import tiny_config

from pixelpad.train import TrainError, train
from pixelpad.train.checkpoint import checkpoint_dir
from pixelpad.train.finetune import check_fits, initial_policy, training_bytes


def _official_factory():
    """The policy tests' writer of ng.pt-format checkpoints (tests/policy/policy_official.py)."""
    path = Path(__file__).parents[1] / "policy" / "policy_official.py"
    spec = importlib.util.spec_from_file_location("policy_official", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_finetune_from_an_official_checkpoint(tmp_path, pattern_data):
    official = _official_factory()
    saved = official.write_checkpoint(tmp_path / "ng.pt")
    config = tiny_config(
        pattern_data,
        tmp_path / "run",
        init_from=str(tmp_path / "ng.pt"),
        freeze=("vision",),
        steps=3,
        lr=1e-4,
    )
    run = train(config)
    from pixelpad.policy import Policy

    tuned = Policy.from_pretrained(run / "policy")
    start = Policy.from_nitrogen_checkpoint(tmp_path / "ng.pt")
    assert tuned.config == start.config  # the checkpoint's layout (25 dims) and horizon are kept
    assert (tuned.config.action_dim, tuned.config.horizon) == (official.ACTION_DIM, official.HORIZON)
    before, after = start.state_dict(), load_file(checkpoint_dir(run, 3) / "model.safetensors")
    vision = [k for k in before if k.startswith("vision.")]
    assert vision and all(torch.equal(before[k], after[k]) for k in vision)  # frozen
    changed = [k for k in before if not k.startswith("vision.") and not torch.equal(before[k], after[k])]
    assert len(changed) > 10
    assert saved["ckpt_config"]  # the factory wrote the official structure we loaded


def test_init_from_a_run_loads_its_ema_policy(tmp_path, pattern_data):
    run = train(tiny_config(pattern_data, tmp_path / "first", steps=2))
    from pixelpad.policy import Policy

    expected = Policy.from_pretrained(run / "policy").state_dict()
    for source in (run, checkpoint_dir(run, 2), run / "policy"):
        loaded = initial_policy("tiny", str(source)).state_dict()
        assert all(torch.equal(loaded[k], expected[k]) for k in expected)
    with pytest.raises(TrainError):
        initial_policy("tiny", str(tmp_path / "nowhere"))
    with pytest.raises(TrainError, match="unknown preset"):
        initial_policy("huge", None)


def test_a_model_that_cannot_fit_is_refused(monkeypatch):
    model = torch.nn.Linear(1000, 1000)
    assert training_bytes(model) == 20 * 1001000
    assert training_bytes(model, shards=4) == 5 * 1001000
    monkeypatch.setattr("os.sysconf", lambda name: 4096 if name == "SC_PAGE_SIZE" else 1000)  # 4 MB of RAM
    with pytest.raises(TrainError, match="--strategy fsdp"):
        check_fits(model, torch.device("cpu"), shards=1, preset="test")
    check_fits(model, torch.device("cpu"), shards=8, preset="test")  # sharded over 8 ranks it fits
