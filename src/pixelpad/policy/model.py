"""The policy: one RGB frame (and, with ``previous_frame_gap``, an earlier one) → a chunk of future
gamepad actions.

frame (H, W, 3) uint8 [+ previous frame] ─ resize, normalise ─► SigLIP ─► image tokens (N, Dv)
   [game token] + left zero-padding (released model only) ─► mixer blocks ─► context (S, Dv)
noise (T, A) ─ N Euler steps of: action encoder + positions ─► DiT(⋯ context) ─► decoder ─► velocity
   ─► chunk (T, A) in the model's layout ─► decoded pixelpad actions (T, 21)

Example:
    >>> from pixelpad.policy import Policy, get_preset
    >>> policy = Policy(get_preset("tiny"))
    >>> policy.predict(np.zeros((48, 64, 3), np.uint8), seed=0).shape
    (1, 16, 21)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixelpad.policy.config import PolicyConfig
from pixelpad.policy.dit import ActionDecoder, ActionEncoder, DiT
from pixelpad.policy.errors import PolicyInputError
from pixelpad.policy.layers import MixerBlock, sinusoid_table
from pixelpad.policy.layout import decode, to_model_layout
from pixelpad.policy.sampling import sample_fast, training_targets
from pixelpad.policy.vision import as_frame_batch, build_vision, load_vision, preprocess


class Policy(nn.Module):
    """SigLIP + VL mixer + flow-matching DiT action head (see the module docstring).

    Args:
        config: every size and option.
        vision_weights: a local Hugging Face SigLIP directory to load the encoder from; random init
            when None.
    """

    def __init__(self, config: PolicyConfig, *, vision_weights: str | Path | None = None) -> None:
        super().__init__()
        self.config = config
        dim, width = config.hidden_size, config.vision_width
        self.vision = load_vision(config, vision_weights) if vision_weights else build_vision(config)
        if config.vision_use_head:  # SigLIP's pooling head never reaches the actions: nothing to train
            self.vision.head.requires_grad_(False)
        self.game_embedding = (
            nn.Embedding(config.num_games, width, padding_idx=0) if config.num_games else None
        )
        mixer_positions = (
            sinusoid_table(config.max_sinusoidal_positions, width) if config.mixer_sinusoidal else None
        )
        self.mixer = nn.ModuleList(
            MixerBlock(
                width,
                config.mixer_heads,
                config.mixer_head_dim,
                bias=config.attention_bias,
                dropout=config.dropout,
                positions=mixer_positions,
            )
            for _ in range(config.mixer_layers)
        )
        self.dit = DiT(config)
        self.image_condition = nn.Linear(width, dim) if config.image_condition else None
        self.action_encoder = ActionEncoder(config.action_dim, dim)
        self.action_decoder = ActionDecoder(dim, config.action_dim)
        self.position_embedding = (
            nn.Embedding(config.learned_positions, dim) if config.learned_positions else None
        )
        if self.position_embedding is not None:
            nn.init.normal_(self.position_embedding.weight, std=config.position_init_std)

    # ----- pieces -----
    @property
    def device(self) -> torch.device:
        return self.action_decoder.layer2.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.action_decoder.layer2.weight.dtype

    def reset_fixed_buffers(self) -> None:
        """Recompute the buffers that checkpoints do not store (after building on the meta device).

        They are fixed tables: SigLIP's ``position_ids`` and the sinusoid ``positions`` tables.
        """
        stored = set(self.state_dict())
        with torch.no_grad():
            for name, buffer in self.named_buffers():
                if name in stored:
                    continue
                if name.endswith("position_ids"):
                    buffer.copy_(torch.arange(buffer.shape[-1]).expand_as(buffer))
                elif name.endswith("positions"):
                    buffer.copy_(sinusoid_table(buffer.shape[0], buffer.shape[1]))
                else:
                    raise RuntimeError(f"no rule to rebuild the unsaved buffer {name!r}")

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def pixels(self, frames: np.ndarray | Tensor, previous: np.ndarray | Tensor | None = None) -> Tensor:
        """uint8 frames (H, W, 3) or (B, H, W, 3), any size → pixel values (B, C, S, S) on the model.

        With ``config.previous_frame_gap`` the last three channels are the frame minus ``previous`` (the
        frame that many data frames earlier, same shape; None: no motion, as at an episode's start),
        scaled like the frame itself so a motion keeps its size relative to the picture.
        """
        pixels = preprocess(as_frame_batch(frames, self.device), self.config.image_size, self.dtype)
        if previous is not None and not self.config.previous_frame_gap:
            raise PolicyInputError("this policy reads one frame (previous_frame_gap is 0): pass no previous")
        motion = None
        if self.config.previous_frame_gap:
            before = pixels
            if previous is not None:
                before = preprocess(as_frame_batch(previous, self.device), self.config.image_size, self.dtype)
                if before.shape != pixels.shape:
                    raise PolicyInputError(
                        f"previous frames must match the frames' shape, got {tuple(previous.shape)} for "
                        f"{tuple(frames.shape)}"
                    )
            motion = pixels - before
        if self.config.pixel_norm == "frame":
            mean = pixels.mean(dim=(1, 2, 3), keepdim=True)
            scale = pixels.std(dim=(1, 2, 3), keepdim=True) + 1e-2
            pixels = (pixels - mean) / scale
            motion = None if motion is None else motion / scale
        return pixels if motion is None else torch.cat([pixels, motion], dim=1)

    def image_tokens(self, pixels: Tensor) -> Tensor:
        """Pixel values (B, 3, S, S) → SigLIP tokens after the post-LayerNorm (B, N, Dv)."""
        return self.vision(pixel_values=pixels).last_hidden_state

    def context(self, image_tokens: Tensor, game_ids: Tensor | None = None) -> Tensor:
        """Image tokens (B, N, Dv) → the mixed context (B, S, Dv) the DiT cross-attends to.

        With ``num_games`` a game token (embedding of ``game_ids`` (B,), row 0 = unconditional) goes
        before the image tokens; with ``context_length`` the sequence is left-padded with zero vectors,
        which the released model attends to like any token.
        """
        tokens = image_tokens
        batch = tokens.shape[0]
        if self.game_embedding is not None:
            ids = torch.zeros(batch, dtype=torch.long, device=tokens.device) if game_ids is None else game_ids
            tokens = torch.cat(
                [self.game_embedding(ids.to(tokens.device))[:, None].to(tokens.dtype), tokens], 1
            )
        pad = self.config.num_context_tokens - tokens.shape[1]
        if pad > 0:
            tokens = F.pad(tokens, (0, 0, pad, 0))
        for block in self.mixer:
            tokens = block(tokens)
        return tokens

    def encode(
        self,
        frames: np.ndarray | Tensor,
        game_ids: Tensor | None = None,
        previous: np.ndarray | Tensor | None = None,
    ) -> Tensor:
        """uint8 frames (and previous frames, see :meth:`pixels`) → mixed context (B, S, Dv): everything
        that does not depend on the actions."""
        return self.context(self.image_tokens(self.pixels(frames, previous)), game_ids)

    def action_positions(self, horizon: int) -> Tensor | None:
        """The learned position embedding of ``horizon`` action tokens (T, D), or None."""
        if self.position_embedding is None:
            return None
        return self.position_embedding.weight[:horizon]

    def condition(self, context: Tensor) -> Tensor | None:
        """The image condition (B, D) added to the timestep embedding: the projected mean of the
        context's tokens (B, S, Dv); None without ``config.image_condition``."""
        if self.image_condition is None:
            return None
        return self.image_condition(context.mean(dim=1))

    def velocity(self, x: Tensor, buckets: Tensor, context: Tensor) -> Tensor:
        """Predicted velocity (B, T, A) of noisy actions x (B, T, A) at buckets (B,) given the context."""
        return self.to_velocity(self.head(x, buckets, context), x, buckets)

    def to_velocity(self, out: Tensor, x: Tensor, buckets: Tensor) -> Tensor:
        """The action head's output (B, T, A) as a velocity: as it is, or (action - x) / (1 - t)."""
        if self.config.prediction == "velocity":
            return out
        t = buckets.to(out.dtype) / self.config.num_timestep_buckets
        return (out - x.to(out.dtype)) / (1.0 - t)[:, None, None]

    def head(self, x: Tensor, buckets: Tensor, context: Tensor) -> Tensor:
        """The action head's output (B, T, A) (see ``config.prediction``) for noisy actions x at buckets."""
        tokens = self.action_encoder(x.to(self.dtype), buckets)
        positions = self.action_positions(x.shape[1])
        if positions is not None:
            tokens = tokens + positions
        modulations, out_modulation = self.dit.modulations(buckets, self.condition(context))
        return self.action_decoder(self.dit(tokens, modulations, out_modulation, context=context))

    # ----- training -----
    def loss(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Masked flow-matching MSE of a batch (scalar).

        ``batch``: ``frames`` uint8 (B, H, W, 3) any size, ``actions`` float (B, T, 21) in pixelpad
        layout, ``action_mask`` bool (B, T) (False on padding past the episode's end), and for a policy
        with ``previous_frame_gap`` ``previous`` uint8 (B, H, W, 3), the frames that many steps earlier.
        T must equal ``config.horizon``; actions are converted to the model's layout here. Noise and
        times come from torch's global generator.
        """
        actions = batch["actions"].to(self.device, torch.float32)
        mask = batch["action_mask"].to(self.device)
        if actions.ndim != 3 or actions.shape[1] != self.config.horizon:
            raise PolicyInputError(
                f"actions must be (B, {self.config.horizon}, 21) for this policy, got {tuple(actions.shape)}"
            )
        if mask.shape != actions.shape[:2]:
            raise PolicyInputError(f"action_mask must be {tuple(actions.shape[:2])}, got {tuple(mask.shape)}")
        target = to_model_layout(actions, self.config.action_layout)
        noise = torch.randn_like(target)
        beta = torch.distributions.Beta(self.config.noise_beta_alpha, self.config.noise_beta_beta)
        u = beta.sample((target.shape[0],)).to(self.device)
        x_t, velocity, buckets = training_targets(
            target, noise, u, self.config.noise_s, self.config.num_timestep_buckets
        )
        context = self.encode(batch["frames"], previous=batch.get("previous"))
        pred = self.head(x_t, buckets, context).float()
        goal = target if self.config.prediction == "action" else velocity
        weights = mask[..., None].expand_as(pred).float()
        return ((pred - goal) ** 2 * weights).sum() / (weights.sum() + 1e-6)

    # ----- inference -----
    @torch.no_grad()
    def sample(
        self,
        frames: np.ndarray | Tensor,
        noise: Tensor | None = None,
        num_steps: int | None = None,
        *,
        game_ids: Tensor | None = None,
        generator: torch.Generator | None = None,
        previous: np.ndarray | Tensor | None = None,
    ) -> Tensor:
        """The raw chunk (B, T, A), float32, in the model's own layout (fast cached sampler).

        ``noise`` (B, T, A) fixes the starting point (so two implementations can be compared);
        otherwise it is drawn from ``generator``. Dropout is off while sampling. ``previous``: see
        :meth:`pixels`.
        """
        steps = num_steps or self.config.num_inference_steps
        with self._eval_mode():
            context = self.encode(frames, game_ids, previous)
            noise = self._noise(context.shape[0], noise, generator)
            return sample_fast(self, context, noise, steps)

    def predict(
        self,
        frames: np.ndarray | Tensor,
        num_steps: int | None = None,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        game_ids: Tensor | None = None,
        previous: np.ndarray | Tensor | None = None,
    ) -> np.ndarray:
        """Pixelpad actions (B, T, 21) for uint8 frames (H, W, 3) or (B, H, W, 3) of any size.

        Buttons are thresholded, sticks clipped to [-1, 1]. ``seed`` makes the noise reproducible.
        ``previous``: the frames ``config.previous_frame_gap`` data frames earlier (see :meth:`pixels`).
        """
        if generator is None and seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(seed)
        raw = self.sample(
            frames, num_steps=num_steps, game_ids=game_ids, generator=generator, previous=previous
        )
        return decode(raw, self.config.action_layout)

    def _noise(self, batch: int, noise: Tensor | None, generator: torch.Generator | None) -> Tensor:
        shape = (batch, self.config.horizon, self.config.action_dim)
        if noise is None:
            return torch.randn(shape, generator=generator, device=self.device)
        if tuple(noise.shape) != shape:
            raise PolicyInputError(f"noise must have shape {shape}, got {tuple(noise.shape)}")
        return noise.to(self.device, torch.float32)

    @contextlib.contextmanager
    def _eval_mode(self) -> Iterator[None]:
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    # ----- files -----
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` to ``directory``; returns it."""
        from pixelpad.policy.pretrained import save_pretrained

        return save_pretrained(self, directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, device: str | torch.device = "cpu") -> Policy:
        """Load a policy written by :meth:`save_pretrained`."""
        from pixelpad.policy.pretrained import load_pretrained

        return load_pretrained(directory, device=device)

    @classmethod
    def from_nitrogen_checkpoint(cls, path: str | Path, *, vision_heads: int | None = None) -> Policy:
        """Load the released NitroGen ``ng.pt`` (see :mod:`pixelpad.policy.nitrogen`)."""
        from pixelpad.policy.nitrogen import load_nitrogen_checkpoint

        return load_nitrogen_checkpoint(path, vision_heads=vision_heads)
