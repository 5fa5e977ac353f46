"""A factory of checkpoints in the released ``ng.pt`` format, and a plain reference of its sampler.

The factory writes random tensors under the official key names and shapes (tiny sizes), with a
``ckpt_config`` like the released one. The reference recomputes the official ``get_action`` loop
directly from that state dict with plain tensor algebra -- no pixelpad module involved -- so a test
can check that our loader + fast sampler compute the same thing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import SiglipVisionConfig, SiglipVisionModel

WIDTH = 32  # vision, mixer and DiT width
HEADS = 2
PATCH = 8
IMAGE = 32  # 16 image tokens
ACTION_DIM = 25
HORIZON = 5
CONTEXT = 20  # tokenizer max_sequence_length: 16 image tokens + game token + 3 zero pads
SIGLIP = SiglipVisionConfig(
    hidden_size=WIDTH,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=HEADS,
    image_size=IMAGE,
    patch_size=PATCH,
    layer_norm_eps=1e-6,
    hidden_act="gelu_pytorch_tanh",
)


def _sinusoid(length: int, dim: int) -> Tensor:
    pe = torch.zeros(1, length, dim)
    pos = torch.arange(length)[:, None].float()
    div = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))
    pe[0, :, 0::2], pe[0, :, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    return pe


def ckpt_config(*, games: bool, sinusoidal: bool) -> dict[str, Any]:
    positional = "sinusoidal" if sinusoidal else None
    block = {"num_attention_heads": HEADS, "attention_head_dim": WIDTH // HEADS, "dropout": 0.1}
    return {
        "experiment_name": "factory",
        "model_cfg": {
            "model_type": "nitrogen",
            "add_pos_embed": True,
            "hidden_size": WIDTH,
            "max_seq_len": 32,
            "action_dim": ACTION_DIM,
            "action_horizon": HORIZON,
            "num_inference_timesteps": 16,
            "max_num_embodiments": 1,
            "vision_encoder_name": "google/siglip2-large-patch16-256",
            "vision_hidden_size": WIDTH,
            "diffusion_model_cfg": {
                **block,
                "output_dim": WIDTH,
                "num_layers": 3,
                "interleave_self_attention": True,
                "cross_attention_dim": WIDTH,
                "positional_embeddings": positional,
                "norm_type": "ada_norm",
                "activation_fn": "gelu-approximate",
            },
            "vl_self_attention_cfg": {**block, "num_layers": 2, "positional_embeddings": positional},
        },
        "tokenizer_cfg": {
            "tokenizer_id": "nitrogen",
            "num_visual_tokens_per_frame": (IMAGE // PATCH) ** 2,
            "max_action_dim": ACTION_DIM,
            "max_sequence_length": CONTEXT,
            "action_horizon": HORIZON,
            "game_mapping_cfg": {"src_files": []} if games else None,
        },
        "modality_cfg": {"frame_per_sample": 1, "action_per_chunk": HORIZON},
    }


def official_state_dict(*, games: int, sinusoidal: bool, seed: int = 0) -> dict[str, Tensor]:
    """Random weights under the released names and shapes (see :func:`ckpt_config`)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, Tensor] = {}

    def rnd(*shape: int, scale: float = 0.2) -> Tensor:
        return torch.randn(*shape, generator=gen) * scale

    siglip = SiglipVisionModel(SIGLIP)
    for key, value in siglip.state_dict().items():
        state["vision_encoder." + key] = value + rnd(*value.shape, scale=0.02)
    d = WIDTH

    def linear(prefix: str, n_in: int, n_out: int) -> None:
        state[prefix + ".weight"], state[prefix + ".bias"] = rnd(n_out, n_in), rnd(n_out)

    def attention(prefix: str) -> None:
        for name in ("to_q", "to_k", "to_v", "to_out.0"):
            linear(f"{prefix}.attn1.{name}", d, d)
        linear(f"{prefix}.ff.net.0.proj", d, 4 * d)
        linear(f"{prefix}.ff.net.2", 4 * d, d)
        if sinusoidal:
            state[f"{prefix}.pos_embed.pe"] = _sinusoid(512, d)

    for i in range(2):
        prefix = f"vl_self_attention_model.transformer_blocks.{i}"
        for norm in ("norm1", "norm3"):
            state[f"{prefix}.{norm}.weight"], state[f"{prefix}.{norm}.bias"] = 1 + rnd(d), rnd(d)
        attention(prefix)
    linear("model.timestep_encoder.timestep_embedder.linear_1", 256, d)
    linear("model.timestep_encoder.timestep_embedder.linear_2", d, d)
    for i in range(3):
        prefix = f"model.transformer_blocks.{i}"
        linear(f"{prefix}.norm1.linear", d, 2 * d)
        attention(prefix)
    linear("model.proj_out_1", d, 2 * d)
    linear("model.proj_out_2", d, d)
    per_embodiment = {
        "action_encoder.W1": (ACTION_DIM, d),
        "action_encoder.W2": (2 * d, d),
        "action_encoder.W3": (d, d),
        "action_decoder.layer1": (d, d),
        "action_decoder.layer2": (d, ACTION_DIM),
    }
    for prefix, (n_in, n_out) in per_embodiment.items():  # [embodiments, in, out] and [embodiments, out]
        state[prefix + ".W"], state[prefix + ".b"] = rnd(1, n_in, n_out), rnd(1, n_out)
    state["position_embedding.weight"] = rnd(32, d, scale=0.02)
    if games:
        table = rnd(games, d)
        table[0] = 0.0  # padding_idx row: the unconditional game
        state["game_embedding.weight"] = table
    return state


def write_checkpoint(path: Path, *, games: int = 0, sinusoidal: bool = True, seed: int = 0) -> dict[str, Any]:
    """Write an ``ng.pt``-format file to ``path``; returns what was saved."""
    checkpoint = {
        "model": official_state_dict(games=games, sinusoidal=sinusoidal, seed=seed),
        "step": 7,
        "epoch": 1,
        "ckpt_config": ckpt_config(games=games > 0, sinusoidal=sinusoidal),
    }
    torch.save(checkpoint, path)
    return checkpoint


# ---------------- the reference: the released get_action, written out plainly ----------------


def _linear(x: Tensor, s: dict[str, Tensor], prefix: str) -> Tensor:
    return x @ s[prefix + ".weight"].T + s[prefix + ".bias"]


def _attention(q_in: Tensor, kv_in: Tensor, s: dict[str, Tensor], prefix: str) -> Tensor:
    def heads(x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], x.shape[1], HEADS, -1).transpose(1, 2)

    q = heads(_linear(q_in, s, prefix + ".to_q"))
    k = heads(_linear(kv_in, s, prefix + ".to_k"))
    v = heads(_linear(kv_in, s, prefix + ".to_v"))
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(q_in.shape[0], q_in.shape[1], -1)
    return _linear(out, s, prefix + ".to_out.0")


def _ff(x: Tensor, s: dict[str, Tensor], prefix: str) -> Tensor:
    hidden = F.gelu(_linear(x, s, prefix + ".net.0.proj"), approximate="tanh")
    return _linear(hidden, s, prefix + ".net.2")


def _ln(x: Tensor, eps: float, s: dict[str, Tensor] | None = None, prefix: str = "") -> Tensor:
    if s is None:
        return F.layer_norm(x, x.shape[-1:], eps=eps)
    return F.layer_norm(x, x.shape[-1:], s[prefix + ".weight"], s[prefix + ".bias"], eps)


@torch.no_grad()
def reference_get_action(
    checkpoint: dict[str, Any], pixel_values: Tensor, noise: Tensor, num_steps: int, game_id: int = 0
) -> Tensor:
    """The official sampler over the raw checkpoint: pixel values (B, 3, S, S), noise (B, T, A)."""
    s = checkpoint["model"]
    vision = SiglipVisionModel(SIGLIP)
    prefix = "vision_encoder."
    vision.load_state_dict({k[len(prefix) :]: v for k, v in s.items() if k.startswith(prefix)})
    images = vision.eval()(pixel_values=pixel_values).last_hidden_state  # (B, 16, D)
    batch, n_img, d = images.shape
    sinusoidal = any(k.endswith("pos_embed.pe") for k in s)
    x = noise
    for i in range(num_steps):
        t = int(i / float(num_steps) * 1000)
        # action encoder (embodiment 0)
        a_emb = x @ s["action_encoder.W1.W"][0] + s["action_encoder.W1.b"][0]
        half = d // 2
        freqs = torch.exp(-torch.arange(half).float() * (torch.log(torch.tensor(10000.0)) / half))
        tau = torch.cat([torch.sin(t * freqs), torch.cos(t * freqs)]).expand(batch, x.shape[1], d)
        h = torch.cat([a_emb, tau], dim=-1) @ s["action_encoder.W2.W"][0] + s["action_encoder.W2.b"][0]
        h = h * torch.sigmoid(h)
        sa = h @ s["action_encoder.W3.W"][0] + s["action_encoder.W3.b"][0]
        sa = sa + s["position_embedding.weight"][: x.shape[1]]
        # vision-language tokens: [zero pads, game token, image tokens], then the mixer
        vl = torch.zeros(batch, CONTEXT, d)
        vl[:, CONTEXT - n_img :] = images
        if "game_embedding.weight" in s:
            vl[:, CONTEXT - n_img - 1] = s["game_embedding.weight"][game_id]
        for j in range(2):
            p = f"vl_self_attention_model.transformer_blocks.{j}"
            h = _ln(vl, 1e-5, s, p + ".norm1")
            if sinusoidal:
                h = h + s[p + ".pos_embed.pe"][:, :CONTEXT]
            vl = vl + _attention(h, h, s, p + ".attn1")
            vl = vl + _ff(_ln(vl, 1e-5, s, p + ".norm3"), s, p + ".ff")
        # DiT
        exponent = -math.log(10000) * torch.arange(128).float() / (128 - 1)
        emb = t * torch.exp(exponent)
        features = torch.cat([torch.cos(emb), torch.sin(emb)])[None]
        temb = _linear(F.silu(_linear(features, s, "model.timestep_encoder.timestep_embedder.linear_1")), s,
                       "model.timestep_encoder.timestep_embedder.linear_2")  # fmt: skip
        for j in range(3):
            p = f"model.transformer_blocks.{j}"
            scale, shift = _linear(F.silu(temb), s, p + ".norm1.linear").chunk(2, dim=1)
            h = _ln(sa, 1e-5) * (1 + scale[:, None]) + shift[:, None]
            if sinusoidal:
                h = h + s[p + ".pos_embed.pe"][:, : sa.shape[1]]
            sa = sa + _attention(h, vl if j % 2 == 0 else h, s, p + ".attn1")
            sa = sa + _ff(_ln(sa, 1e-5), s, p + ".ff")
        shift, scale = _linear(F.silu(temb), s, "model.proj_out_1").chunk(2, dim=1)
        out = _linear(_ln(sa, 1e-6) * (1 + scale[:, None]) + shift[:, None], s, "model.proj_out_2")
        hidden = torch.relu(out @ s["action_decoder.layer1.W"][0] + s["action_decoder.layer1.b"][0])
        velocity = hidden @ s["action_decoder.layer2.W"][0] + s["action_decoder.layer2.b"][0]
        x = x + velocity / num_steps
    return x
