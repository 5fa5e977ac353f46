"""The ``pixelpad policy`` commands and loading the encoder from a local Hugging Face directory."""

from __future__ import annotations

import json

import pytest
import torch
from policy_official import HEADS, write_checkpoint
from transformers import SiglipVisionConfig, SiglipVisionModel

from pixelpad.cli import main
from pixelpad.policy import CheckpointError, Policy, get_preset
from pixelpad.policy.vision import config_with_vision_dir


def _siglip_dir(tmp_path, **changes) -> object:
    cfg = SiglipVisionConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2, image_size=32,
        patch_size=8, **changes,
    )  # fmt: skip
    torch.manual_seed(3)
    SiglipVisionModel(cfg).save_pretrained(tmp_path / "siglip")
    return tmp_path / "siglip"


def test_encoder_weights_load_from_a_local_directory(tmp_path) -> None:
    path = _siglip_dir(tmp_path)
    config = config_with_vision_dir(get_preset("tiny"), path)
    assert (config.vision_width, config.image_size, config.patch_size) == (64, 32, 8)
    assert config.mixer_head_dim == 16  # the mixer keeps its heads and widens to the encoder
    policy = Policy(config, vision_weights=path)
    saved = SiglipVisionModel.from_pretrained(path).state_dict()
    for name, tensor in policy.vision.state_dict().items():  # all but the unused pooling head
        assert torch.equal(saved[name], tensor), name
    with pytest.raises(CheckpointError, match="hidden_size=64"):
        Policy(get_preset("tiny"), vision_weights=path)
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        Policy(get_preset("tiny"), vision_weights=tmp_path)


def test_init_info_and_convert_commands(tmp_path, capsys) -> None:
    assert main(["policy", "init", "--preset", "tiny", "--image-size", "32", str(tmp_path / "tiny")]) == 0
    assert Policy.from_pretrained(tmp_path / "tiny").config.image_size == 32
    capsys.readouterr()
    assert main(["policy", "info", str(tmp_path / "tiny")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == Policy.from_pretrained(tmp_path / "tiny").num_parameters()

    write_checkpoint(tmp_path / "ng.pt")
    ng, ours = str(tmp_path / "ng.pt"), str(tmp_path / "ours")
    convert = ["policy", "convert", ng, ours, "--vision-heads", str(HEADS)]
    assert main(convert) == 0
    assert Policy.from_pretrained(tmp_path / "ours").config.action_dim == 25
    assert main(["policy", "info", str(tmp_path / "missing.pt")]) == 2
    assert "no checkpoint file" in capsys.readouterr().err
