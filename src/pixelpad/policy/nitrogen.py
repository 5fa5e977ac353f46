"""Import of the released NitroGen checkpoint (``ng.pt``).

The file is a ``torch.load``-able dict: ``model`` (the state dict), ``step``, ``epoch`` and
``ckpt_config`` (``model_cfg``, ``tokenizer_cfg``, ``modality_cfg``, as plain dicts). We read it
with ``weights_only=True`` (no code runs), derive a :class:`PolicyConfig` from the config and the
tensor shapes, refuse options that would change the computation in ways we do not implement, and
rename the weights onto our modules:

==================================================  ===============================================
official                                            ours
==================================================  ===============================================
``vision_encoder.*`` (SiglipVisionTransformer)      ``vision.*`` (SiglipVisionModel, same inside)
``vl_self_attention_model.transformer_blocks.N.*``  ``mixer.N.*``
``model.timestep_encoder.timestep_embedder.*``      ``dit.timestep_embedder.*``
``model.*`` (DiT blocks, proj_out_1/2)              ``dit.*``
``action_encoder.Wk.{W,b}`` ([E, in, out], [E, out]) ``action_encoder.Wk.{weight,bias}`` (embodiment 0)
``action_decoder.layerk.{W,b}``                     ``action_decoder.layerk.{weight,bias}``
``*.pos_embed.pe`` (fixed sinusoid tables)          checked against ours, not stored
==================================================  ===============================================

What the released code does and we reproduce: the image tokens are left-padded with zero vectors
to ``tokenizer_cfg.max_sequence_length`` and the padding is attended to (its attention mask is
never used); a game-id token precedes the image when the model has a game embedding.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from pixelpad.actions import CHECKPOINT_ACTION_DIM
from pixelpad.policy.config import PolicyConfig
from pixelpad.policy.errors import CheckpointError, PolicyConfigError
from pixelpad.policy.layers import sinusoid_table
from pixelpad.policy.pretrained import build_with_weights

if TYPE_CHECKING:
    from pixelpad.policy.model import Policy

logger = logging.getLogger(__name__)

# Defaults of the official pydantic configs, for fields a checkpoint's config leaves out.
_DIT_DEFAULTS: dict[str, Any] = {
    "num_attention_heads": 8,
    "attention_head_dim": 64,
    "num_layers": 12,
    "dropout": 0.1,
    "attention_bias": True,
    "activation_fn": "gelu-approximate",
    "norm_type": "ada_norm",
    "norm_elementwise_affine": False,
    "norm_eps": 1e-5,
    "max_num_positional_embeddings": 512,
    "positional_embeddings": "sinusoidal",
    "interleave_self_attention": False,
    "cross_attention_dim": None,
}
_MIXER_DEFAULTS = {k: _DIT_DEFAULTS[k] for k in _DIT_DEFAULTS if "norm" not in k and "cross" not in k}
_MODEL_DEFAULTS: dict[str, Any] = {
    "add_pos_embed": False,
    "hidden_size": 1024,
    "max_seq_len": 1024,
    "noise_beta_alpha": 1.5,
    "noise_beta_beta": 1.0,
    "noise_s": 0.999,
    "num_timestep_buckets": 1000,
    "num_inference_timesteps": 16,
    "max_num_embodiments": 1,
    "vision_encoder_name": "google/siglip-large-patch16-256",
    "vision_hidden_size": 768,
}
_TOKENIZER_DEFAULTS: dict[str, Any] = {"num_visual_tokens_per_frame": 256, "max_sequence_length": 300}

_RENAMES = (
    ("vision_encoder.", "vision."),
    ("vl_self_attention_model.transformer_blocks.", "mixer."),
    ("model.timestep_encoder.timestep_embedder.", "dit.timestep_embedder."),
    ("model.", "dit."),
)
_PER_EMBODIMENT = re.compile(r"^(action_encoder\.W\d|action_decoder\.layer\d)\.(W|b)$")
_VISION = "vision_encoder."


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load ``ng.pt`` safely (``weights_only=True``) and check its top-level structure."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # bad files raise pickle, zip, EOF or runtime errors: all mean the same
        raise CheckpointError(
            f"{path} is not a loadable torch checkpoint ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f"{path}: expected a dict with 'model' and 'ckpt_config', got {type(checkpoint)}"
        )
    for key in ("model", "ckpt_config"):
        if key not in checkpoint:
            raise CheckpointError(f"{path}: not a NitroGen checkpoint, key {key!r} is missing")
    if not isinstance(checkpoint["model"], Mapping) or not all(
        isinstance(v, Tensor) for v in checkpoint["model"].values()
    ):
        raise CheckpointError(f"{path}: 'model' is not a state dict of tensors")
    ckpt_config = checkpoint["ckpt_config"]
    if not isinstance(ckpt_config, Mapping) or "model_cfg" not in ckpt_config:
        raise CheckpointError(f"{path}: 'ckpt_config' has no 'model_cfg'")
    return checkpoint


def config_from_checkpoint(
    ckpt_config: Mapping[str, Any], state: Mapping[str, Tensor], *, vision_heads: int | None = None
) -> PolicyConfig:
    """The :class:`PolicyConfig` that computes what the released code computes for this checkpoint."""
    model = {**_MODEL_DEFAULTS, **ckpt_config["model_cfg"]}
    dit = {**_DIT_DEFAULTS, **(model.get("diffusion_model_cfg") or {})}
    mixer = {**_MIXER_DEFAULTS, **(model.get("vl_self_attention_cfg") or {})}
    tokenizer = {**_TOKENIZER_DEFAULTS, **(ckpt_config.get("tokenizer_cfg") or {})}
    modality = ckpt_config.get("modality_cfg") or {}

    def unsupported(ok: bool, what: str) -> None:
        if not ok:
            raise CheckpointError(f"unsupported NitroGen checkpoint: {what}")

    unsupported(modality.get("frame_per_sample", 1) == 1, "only single-frame models are supported")
    for name, cfg in (("diffusion_model_cfg", dit), ("vl_self_attention_cfg", mixer)):
        unsupported(
            cfg["activation_fn"] == "gelu-approximate", f"{name}.activation_fn={cfg['activation_fn']}"
        )
        unsupported(
            cfg["positional_embeddings"] in (None, "sinusoidal"),
            f"{name}.positional_embeddings={cfg['positional_embeddings']}",
        )
    unsupported(dit["norm_type"] == "ada_norm", f"diffusion_model_cfg.norm_type={dit['norm_type']}")
    unsupported(not dit["norm_elementwise_affine"], "diffusion_model_cfg.norm_elementwise_affine=True")
    unsupported(dit["norm_eps"] == 1e-5, f"diffusion_model_cfg.norm_eps={dit['norm_eps']} (1e-5 only)")
    unsupported(dit["attention_bias"] == mixer["attention_bias"], "attention_bias differs in mixer and DiT")
    hidden = dit["num_attention_heads"] * dit["attention_head_dim"]
    unsupported(hidden == model["hidden_size"], f"DiT width {hidden} != hidden_size {model['hidden_size']}")
    unsupported(
        dit.get("output_dim", hidden) == hidden, f"DiT output_dim {dit.get('output_dim')} != {hidden}"
    )
    unsupported(
        dit["cross_attention_dim"] in (None, model["vision_hidden_size"]),
        f"cross_attention_dim {dit['cross_attention_dim']} != vision width {model['vision_hidden_size']}",
    )
    vision = _vision_shapes(state, model["vision_encoder_name"], vision_heads)
    unsupported(
        vision["vision_width"] == model["vision_hidden_size"],
        f"vision weights are {vision['vision_width']} wide, model_cfg.vision_hidden_size says "
        f"{model['vision_hidden_size']}",
    )
    image_tokens = (vision["image_size"] // vision["patch_size"]) ** 2
    unsupported(
        tokenizer["num_visual_tokens_per_frame"] == image_tokens,
        f"tokenizer expects {tokenizer['num_visual_tokens_per_frame']} image tokens, the encoder makes "
        f"{image_tokens}",
    )
    games = state.get("game_embedding.weight")
    action_dim = int(model["action_dim"])
    try:
        return PolicyConfig(
            **vision,
            mixer_layers=int(mixer["num_layers"]),
            mixer_heads=int(mixer["num_attention_heads"]),
            mixer_head_dim=int(mixer["attention_head_dim"]),
            mixer_sinusoidal=mixer["positional_embeddings"] == "sinusoidal",
            dit_layers=int(dit["num_layers"]),
            dit_heads=int(dit["num_attention_heads"]),
            dit_head_dim=int(dit["attention_head_dim"]),
            interleave_self_attention=bool(dit["interleave_self_attention"]),
            dit_sinusoidal=dit["positional_embeddings"] == "sinusoidal",
            max_sinusoidal_positions=int(
                max(dit["max_num_positional_embeddings"], mixer["max_num_positional_embeddings"])
            ),
            attention_bias=bool(dit["attention_bias"]),
            action_layout="checkpoint" if action_dim == CHECKPOINT_ACTION_DIM else "pixelpad",
            action_dim=action_dim,
            horizon=int(model["action_horizon"]),
            learned_positions=int(model["max_seq_len"]) if model["add_pos_embed"] else 0,
            position_init_std=0.02,
            context_length=int(tokenizer["max_sequence_length"]),
            num_games=0 if games is None else int(games.shape[0]),
            num_timestep_buckets=int(model["num_timestep_buckets"]),
            noise_beta_alpha=float(model["noise_beta_alpha"]),
            noise_beta_beta=float(model["noise_beta_beta"]),
            noise_s=float(model["noise_s"]),
            num_inference_steps=int(model["num_inference_timesteps"] or 16),
            dropout=float(dit["dropout"]),
        )
    except (PolicyConfigError, TypeError, KeyError) as err:
        raise CheckpointError(f"NitroGen checkpoint config does not fit a policy: {err}") from err


def _vision_shapes(state: Mapping[str, Tensor], name: str, heads: int | None) -> dict[str, Any]:
    """SigLIP sizes read off the vision weights (heads from ``heads``, else the model name)."""
    patch_key = _VISION + "embeddings.patch_embedding.weight"
    pos_key = _VISION + "embeddings.position_embedding.weight"
    fc1_key = _VISION + "encoder.layers.0.mlp.fc1.weight"
    for key in (patch_key, pos_key, fc1_key):
        if key not in state:
            raise CheckpointError(f"not a NitroGen checkpoint: missing weight {key!r}")
    width, _, patch, _ = state[patch_key].shape
    side = math.isqrt(state[pos_key].shape[0])
    layers = 1 + max(int(k.split(".")[3]) for k in state if k.startswith(_VISION + "encoder.layers."))
    if heads is None:
        heads = 16 if "so400m" in name else max(1, width // 64)  # SigLIP heads are 64 wide, but So400m
    return {
        "image_size": int(side * patch),
        "patch_size": int(patch),
        "vision_width": int(width),
        "vision_layers": layers,
        "vision_heads": int(heads),
        "vision_mlp": int(state[fc1_key].shape[0]),
        "vision_use_head": any(k.startswith(_VISION + "head.") for k in state),
    }


def convert_state_dict(state: Mapping[str, Tensor], config: PolicyConfig) -> dict[str, Tensor]:
    """Official weights → our names and shapes (embodiment 0); sinusoid tables are checked, dropped."""
    out: dict[str, Tensor] = {}
    for key, tensor in state.items():
        if key.endswith("pos_embed.pe"):
            _check_sinusoid(key, tensor, config)
            continue
        match = _PER_EMBODIMENT.match(key)
        if match:
            if tensor.shape[0] > 1:
                logger.warning("%s holds %d embodiments; using embodiment 0", key, tensor.shape[0])
            value = tensor[0].T if match.group(2) == "W" else tensor[0]
            out[f"{match.group(1)}.{'weight' if match.group(2) == 'W' else 'bias'}"] = value.contiguous()
            continue
        for old, new in _RENAMES:
            if key.startswith(old):
                key = new + key[len(old) :]
                break
        out[key] = tensor
    return out


def official_name(name: str) -> str:
    """Our weight name → the released checkpoint's (for error messages).

    Per-embodiment weights are shown by their official name; their shapes are shown in our
    layout (transposed, without the embodiment axis).
    """
    match = re.match(r"^(action_encoder\.W\d|action_decoder\.layer\d)\.(weight|bias)$", name)
    if match:
        return f"{match.group(1)}.{'W' if match.group(2) == 'weight' else 'b'}"
    for old, new in _RENAMES:  # the more specific prefix comes first either way
        if name.startswith(new):
            return old + name[len(new) :]
    return name


def _check_sinusoid(key: str, table: Tensor, config: PolicyConfig) -> None:
    enabled = config.mixer_sinusoidal if key.startswith("vl_self_attention_model.") else config.dit_sinusoidal
    if not enabled:
        raise CheckpointError(f"unexpected weight {key!r}: its config has no sinusoidal positions")
    ours = sinusoid_table(table.shape[-2], table.shape[-1])
    if not torch.allclose(table.reshape(ours.shape).float(), ours, atol=1e-4):
        raise CheckpointError(f"{key}: the fixed sinusoid table differs from the one this code computes")


def read_nitrogen_config(path: str | Path, *, vision_heads: int | None = None) -> PolicyConfig:
    """The :class:`PolicyConfig` of an official checkpoint file."""
    checkpoint = read_checkpoint(path)
    return config_from_checkpoint(checkpoint["ckpt_config"], checkpoint["model"], vision_heads=vision_heads)


def load_nitrogen_checkpoint(path: str | Path, *, vision_heads: int | None = None) -> Policy:
    """A :class:`Policy` with the weights of the released ``ng.pt`` (float32, CPU, eval mode)."""
    checkpoint = read_checkpoint(path)
    state = checkpoint["model"]
    config = config_from_checkpoint(checkpoint["ckpt_config"], state, vision_heads=vision_heads)
    converted = {k: v.float() for k, v in convert_state_dict(state, config).items()}
    policy = build_with_weights(config, converted, where=str(path), display=official_name)
    logger.info("loaded %s (step %s, %d parameters)", path, checkpoint.get("step"), policy.num_parameters())
    return policy.eval()
