"""The SigLIP vision encoder and the frame preprocessing in front of it.

The encoder is ``transformers.SiglipVisionModel``: fixed-resolution SigLIP 2 checkpoints (e.g.
``google/siglip2-large-patch16-256``) load with it. It is built from a ``SiglipVisionConfig`` made
from our :class:`PolicyConfig` (random init), or loaded from a local directory in Hugging Face
layout -- never downloaded. Its ``last_hidden_state`` (after the post-LayerNorm) gives the image
tokens.

Preprocessing follows SigLIP's image processor: resize to image_size², scale to [0, 1], normalise
with mean = std = 0.5. The resize is an antialiased bicubic on 8-bit values in torch (the official
processor resizes with PIL; the two agree to one grey level).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import SiglipVisionConfig, SiglipVisionModel

from pixelpad.policy.config import PolicyConfig
from pixelpad.policy.errors import CheckpointError, PolicyInputError

logger = logging.getLogger(__name__)


def siglip_config(config: PolicyConfig) -> SiglipVisionConfig:
    """The ``SiglipVisionConfig`` of the encoder that ``config`` describes."""
    siglip = SiglipVisionConfig(
        hidden_size=config.vision_width,
        intermediate_size=config.vision_mlp,
        num_hidden_layers=config.vision_layers,
        num_attention_heads=config.vision_heads,
        image_size=config.image_size,
        patch_size=config.patch_size,
        num_channels=config.num_channels,
        layer_norm_eps=config.vision_eps,
        hidden_act="gelu_pytorch_tanh",
        vision_use_head=config.vision_use_head,
    )
    siglip._attn_implementation = "sdpa"
    return siglip


class ConvStem(torch.nn.Module):
    """Pixels (B, C, S, S) -> tokens (B, width, S / patch, S / patch) through log2(patch) 3x3 convolutions
    of stride 2 (``PolicyConfig.vision_stem = "conv"``), in place of SigLIP's one strided patch conv.

    Why: a patch conv puts each pixel in exactly one token, so a small sprite near a patch border is
    cut between tokens that each see part of it, and its place inside the patch is only in the pattern
    of its pixels. Overlapping windows let the tokens on both sides see it. Trained on 30 Chromium
    demonstrations, ``tiny_motion`` with this stem scored 42 of 80 episodes over four trainings where
    the patch stem scored 15 of 60 over three (README, the demo section). ``weight`` is there because
    SigLIP's embeddings read the stem's dtype from it.
    """

    def __init__(self, channels: int, width: int, patch: int) -> None:
        super().__init__()
        layers, depth = [], patch.bit_length() - 1
        sizes = [channels] + [max(width >> (depth - 1 - i), 16) for i in range(depth)]
        for i in range(depth):
            layers.append(torch.nn.Conv2d(sizes[i], sizes[i + 1], 3, stride=2, padding=1))
            if i < depth - 1:
                layers.append(torch.nn.GELU())
        self.layers = torch.nn.Sequential(*layers)

    @property
    def weight(self) -> Tensor:
        return self.layers[-1].weight

    def forward(self, pixels: Tensor) -> Tensor:
        return self.layers(pixels)


def build_vision(config: PolicyConfig) -> SiglipVisionModel:
    """A randomly initialised encoder of the sizes in ``config``."""
    model = SiglipVisionModel(siglip_config(config))
    if config.vision_stem == "conv":
        # SiglipVisionModel is the embeddings and encoder themselves (transformers >= 5)
        model.embeddings.patch_embedding = ConvStem(
            config.num_channels, config.vision_width, config.patch_size
        )
    return model


def config_with_vision_dir(config: PolicyConfig, path: str | Path) -> PolicyConfig:
    """``config`` with its vision fields taken from a local Hugging Face SigLIP directory."""
    siglip = _read_siglip_config(path)
    return config.replace(
        image_size=siglip.image_size,
        patch_size=siglip.patch_size,
        vision_width=siglip.hidden_size,
        vision_layers=siglip.num_hidden_layers,
        vision_heads=siglip.num_attention_heads,
        vision_mlp=siglip.intermediate_size,
        vision_eps=siglip.layer_norm_eps,
        vision_use_head=False,
        mixer_head_dim=siglip.hidden_size // config.mixer_heads,
    )


def load_vision(config: PolicyConfig, path: str | Path) -> SiglipVisionModel:
    """Load pretrained encoder weights from a local directory; its sizes must match ``config``."""
    if config.vision_stem != "patch":
        raise CheckpointError("pretrained SigLIP weights hold a patch stem; a conv stem trains from scratch")
    if config.previous_frame_gap:
        raise CheckpointError(
            "pretrained SigLIP weights read RGB only; a policy with previous_frame_gap > 0 trains its "
            "encoder from scratch"
        )
    siglip = _read_siglip_config(path)
    expected = siglip_config(config)
    for name in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"):
        if getattr(siglip, name) != getattr(expected, name):
            raise CheckpointError(
                f"vision weights in {path} have {name}={getattr(siglip, name)}, the policy config "
                f"{getattr(expected, name)}; build the config with config_with_vision_dir()"
            )
    if (siglip.image_size, siglip.patch_size) != (config.image_size, config.patch_size):
        raise CheckpointError(
            f"vision weights in {path} are for {siglip.image_size}px images in {siglip.patch_size}px "
            f"patches, the policy config says {config.image_size}/{config.patch_size}"
        )
    model = SiglipVisionModel.from_pretrained(
        str(path), config=expected, local_files_only=True, attn_implementation="sdpa"
    )
    logger.info("loaded SigLIP vision weights from %s", path)
    return model


def _read_siglip_config(path: str | Path) -> SiglipVisionConfig:
    if not Path(path, "config.json").is_file():
        raise CheckpointError(f"{path} is not a Hugging Face model directory (no config.json)")
    try:
        return SiglipVisionConfig.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"cannot read a SigLIP vision config from {path}: {err}") from err


def as_frame_batch(frames: np.ndarray | Tensor, device: torch.device | None = None) -> Tensor:
    """uint8 frames (H, W, 3) or (B, H, W, 3), numpy or torch → uint8 tensor (B, H, W, 3)."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames
    if tensor.dtype != torch.uint8:
        raise PolicyInputError(f"frames must be uint8 RGB, got dtype {tensor.dtype}")
    if tensor.ndim == 3:
        tensor = tensor[None]
    if tensor.ndim != 4 or tensor.shape[-1] != 3 or tensor.shape[0] == 0:
        raise PolicyInputError(
            f"frames must be (H, W, 3) or (B, H, W, 3) RGB, got shape {tuple(tensor.shape)}"
        )
    return tensor if device is None else tensor.to(device)


def preprocess(frames: Tensor, image_size: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """uint8 frames (B, H, W, 3) → SigLIP pixel values (B, 3, image_size, image_size) in [-1, 1].

    The resize works on 8-bit values like PIL's: on a CPU through torch's uint8 kernel (about ten
    times faster than in float), elsewhere in float and rounded back to whole grey levels.
    """
    x = frames.permute(0, 3, 1, 2)
    if x.shape[-2:] != (image_size, image_size):
        size = (image_size, image_size)
        if x.device.type == "cpu":
            x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
        else:
            x = F.interpolate(x.float(), size=size, mode="bicubic", antialias=True, align_corners=False)
            x = x.round().clamp(0, 255)
    x = x.to(torch.float32) / 255.0
    return ((x - 0.5) / 0.5).to(dtype)
