"""Every size and option of the policy in one frozen dataclass, and the named presets.

The policy is a SigLIP vision encoder → a small self-attention "mixer" over the image tokens → a
DiT action head that denoises a chunk of ``horizon`` actions by flow matching, cross-attending to
the mixed image tokens. The fields below say every size of it; ``PRESETS`` names three of them:

* ``tiny``: for tests and CPU demos (< 2M parameters, 64×64 frames, patch 8), trained from scratch,
  with three departures from the released design that make it read the frame in a short CPU run
  (frames standardised, the pooled image in the AdaLN conditioning, the clean chunk as the head's
  target; see ``pixel_norm``, ``image_condition`` and ``prediction``). Without them its output did
  not depend on the frame after 2,500 demo steps: Chromium's dark frames differed by ~1% of the pooled
  context, and the velocity target's noise drowned what little signal there was;
* ``tiny_motion``: ``tiny`` that also sees the frame 3 data frames (0.1 s at 30 fps) before the current
  one (``previous_frame_gap``), so it can tell a rising player from a falling one (a server gets
  both frames in each request);
* ``tiny_motion_conv``: ``tiny_motion`` whose tokens come from a stack of small convolutions
  (``vision_stem="conv"``) instead of one patch convolution;
* ``base``: a SigLIP-B/16-sized model on our own 21-dim action layout;
* ``nitrogen_500m``: the released NitroGen shapes (SigLIP2-L/16 at 256², 25-dim actions, horizon 18,
  the official left-padding of the image tokens to 300), about 493.6M parameters.

Example:
    >>> cfg = get_preset("tiny")
    >>> cfg.hidden_size, cfg.num_image_tokens
    (128, 64)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pixelpad.actions import ACTION_DIM, CHECKPOINT_ACTION_DIM, CHECKPOINT_HORIZON, DEFAULT_HORIZON
from pixelpad.policy.errors import PolicyConfigError

# The action layouts a policy can speak (see pixelpad.policy.layout).
LAYOUT_DIMS: dict[str, int] = {"pixelpad": ACTION_DIM, "checkpoint": CHECKPOINT_ACTION_DIM}


@dataclass(frozen=True)
class PolicyConfig:
    """All sizes and options of a :class:`pixelpad.policy.Policy`."""

    # --- vision encoder (transformers SiglipVisionModel) ---
    image_size: int = 256  # frames are resized to image_size² before the encoder
    patch_size: int = 16  # image tokens = (image_size / patch_size)²
    vision_width: int = 1024
    vision_layers: int = 24
    vision_heads: int = 16
    vision_mlp: int = 4096
    vision_use_head: bool = False  # SigLIP's pooling head: unused by the policy, kept for ng.pt
    vision_eps: float = 1e-6
    # pixel values: "siglip" ((x - 0.5) / 0.5, what pretrained SigLIP expects) or "frame" (then each
    # frame standardised to mean 0, std 1: a dark game's frames otherwise differ by a few percent of the
    # token norm, and an encoder trained from scratch barely tells them apart)
    pixel_norm: str = "siglip"
    # > 0: the encoder also sees the frame this many frames (at the training data's rate) before the
    # current one, as three more input channels holding the difference of the two frames. One frame
    # cannot tell a rising player from a falling one, or a ship moving left from one moving right; 0
    # (the released model) reads one frame. Frames before an episode's first count as its first.
    previous_frame_gap: int = 0
    # how pixels become tokens: "patch" (SigLIP's one patch_size-strided convolution, what pretrained
    # weights hold) or "conv" (log2(patch_size) 3x3 convolutions of stride 2 whose windows overlap, so
    # a small sprite near a patch border reaches the tokens on both sides; see vision.ConvStem)
    vision_stem: str = "patch"
    # --- VL mixer: pre-LN self-attention blocks over the image tokens, width = vision_width ---
    mixer_layers: int = 4
    mixer_heads: int = 16
    mixer_head_dim: int = 64
    # add a fixed sinusoidal table to the normed tokens before attention (diffusers' option)
    mixer_sinusoidal: bool = False
    # --- DiT action head, width hidden_size = dit_heads * dit_head_dim ---
    dit_layers: int = 8
    dit_heads: int = 16
    dit_head_dim: int = 64
    interleave_self_attention: bool = True  # odd blocks self-attend, even blocks cross-attend
    # add the mean of the mixed image tokens, projected to the DiT width, to the timestep embedding, so
    # every AdaLN layer is modulated by the frame (a global path beside the cross-attention; the
    # released model has none)
    image_condition: bool = False
    dit_sinusoidal: bool = False
    max_sinusoidal_positions: int = 512
    attention_bias: bool = True  # bias on to_q/to_k/to_v (mixer and DiT)
    # --- actions ---
    action_layout: str = "pixelpad"  # "pixelpad" (21 dims) or "checkpoint" (the released 25 dims)
    action_dim: int = ACTION_DIM
    horizon: int = DEFAULT_HORIZON
    learned_positions: int = 1024  # size of the learned position table of the action tokens; 0 = none
    # init std of that table: the released model used 0.02; 1.0 lets a fresh model tell the chunk's
    # steps apart from the start (its loss falls ~4x faster on a small CPU run)
    position_init_std: float = 1.0
    # --- image-token bookkeeping of the released model ---
    # left-pad the image tokens with zero vectors to this length (attended to, as officially); 0 = off
    context_length: int = 0
    num_games: int = 0  # > 0: a game-id token (embedding row 0 = unconditional) before the image
    # --- flow matching ---
    num_timestep_buckets: int = 1000
    noise_beta_alpha: float = 1.5  # training time u ~ Beta(alpha, beta), t = (1 - u) * noise_s
    noise_beta_beta: float = 1.0
    noise_s: float = 0.999
    num_inference_steps: int = 16
    # what the action head outputs: "velocity" (a - noise, the released model) or "action" (the clean
    # chunk; the sampler turns it into the velocity (action - x_t) / (1 - t)). Its training error is the
    # action's error only, with no share of the unpredictable noise, so the frame's signal is not drowned
    prediction: str = "velocity"
    dropout: float = 0.0  # on attention outputs and MLPs of mixer and DiT while training

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise PolicyConfigError(message)

        positive = [
            "image_size", "patch_size", "vision_width", "vision_layers", "vision_heads", "vision_mlp",
            "mixer_heads", "mixer_head_dim", "dit_layers", "dit_heads", "dit_head_dim", "action_dim",
            "horizon", "num_timestep_buckets", "num_inference_steps", "max_sinusoidal_positions",
        ]  # fmt: skip
        for name in positive:
            need(int(getattr(self, name)) > 0, f"{name} must be positive, got {getattr(self, name)}")
        need(self.previous_frame_gap >= 0, f"previous_frame_gap must be >= 0, got {self.previous_frame_gap}")
        need(self.mixer_layers >= 0, f"mixer_layers must be >= 0, got {self.mixer_layers}")
        need(self.image_size % self.patch_size == 0, "image_size must be a multiple of patch_size")
        need(self.vision_width % self.vision_heads == 0, "vision_width must be divisible by vision_heads")
        need(
            self.mixer_heads * self.mixer_head_dim == self.vision_width,
            f"mixer width mixer_heads*mixer_head_dim = {self.mixer_heads * self.mixer_head_dim} must equal "
            f"vision_width = {self.vision_width} (the mixer runs on the image tokens as they are)",
        )
        need(
            self.action_layout in LAYOUT_DIMS,
            f"action_layout must be one of {sorted(LAYOUT_DIMS)}, got {self.action_layout!r}",
        )
        need(
            self.action_dim == LAYOUT_DIMS[self.action_layout],
            f"action_layout {self.action_layout!r} has {LAYOUT_DIMS[self.action_layout]} dims, "
            f"but action_dim = {self.action_dim}",
        )
        need(
            self.learned_positions == 0 or self.learned_positions >= self.horizon,
            f"learned_positions ({self.learned_positions}) must be 0 or >= horizon ({self.horizon})",
        )
        need(self.num_games >= 0, "num_games must be >= 0")
        need(
            self.context_length == 0 or self.context_length >= self.num_context_tokens_unpadded,
            f"context_length {self.context_length} is shorter than the {self.num_context_tokens_unpadded} "
            "image (and game) tokens",
        )
        longest = max(
            self.num_context_tokens if self.mixer_sinusoidal else 0,
            self.horizon if self.dit_sinusoidal else 0,
        )
        need(
            longest <= self.max_sinusoidal_positions,
            f"max_sinusoidal_positions {self.max_sinusoidal_positions} < sequence length {longest}",
        )
        need(
            self.pixel_norm in ("siglip", "frame"),
            f"pixel_norm must be 'siglip' or 'frame', got {self.pixel_norm!r}",
        )
        need(
            self.vision_stem in ("patch", "conv"),
            f"vision_stem must be 'patch' or 'conv', got {self.vision_stem!r}",
        )
        need(
            self.vision_stem == "patch" or self.patch_size & (self.patch_size - 1) == 0,
            f"a conv stem halves the frame per layer: patch_size must be a power of 2, got {self.patch_size}",
        )
        need(
            self.prediction in ("velocity", "action"),
            f"prediction must be 'velocity' or 'action', got {self.prediction!r}",
        )
        need(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}")
        need(0.0 < self.noise_s <= 1.0, f"noise_s must be in (0, 1], got {self.noise_s}")
        need(self.noise_beta_alpha > 0 and self.noise_beta_beta > 0, "Beta parameters must be positive")

    @property
    def hidden_size(self) -> int:
        """Width of the DiT and of the action tokens."""
        return self.dit_heads * self.dit_head_dim

    @property
    def num_channels(self) -> int:
        """Input channels of the patch embedding: RGB, and the difference from the previous frame."""
        return 6 if self.previous_frame_gap else 3

    @property
    def num_image_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def num_context_tokens_unpadded(self) -> int:
        return self.num_image_tokens + (1 if self.num_games > 0 else 0)

    @property
    def num_context_tokens(self) -> int:
        """Length of the token sequence the mixer sees and the DiT cross-attends to."""
        return max(self.context_length, self.num_context_tokens_unpadded)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PolicyConfig:
        """Build from a mapping (e.g. a saved ``config.json``); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PolicyConfigError(f"unknown policy config field(s) {unknown}")
        return cls(**dict(values))

    def replace(self, **changes: Any) -> PolicyConfig:
        """A copy with some fields changed (validated again)."""
        return self.from_dict({**self.to_dict(), **changes})


PRESETS: dict[str, PolicyConfig] = {
    # Tests and CPU demos: 64×64 frames in 8×8 patches (64 tokens), ~1.2M parameters; frame-standardised
    # pixels, image condition and clean-chunk prediction (see the module docstring).
    "tiny": PolicyConfig(
        image_size=64,
        patch_size=8,
        vision_width=128,
        vision_layers=2,
        vision_heads=4,
        vision_mlp=512,
        mixer_layers=1,
        mixer_heads=4,
        mixer_head_dim=32,
        dit_layers=2,
        dit_heads=4,
        dit_head_dim=32,
        learned_positions=64,
        pixel_norm="frame",
        image_condition=True,
        prediction="action",
    ),
    # A SigLIP-B/16 at 256² with a 6-block DiT on our 21-dim layout.
    "base": PolicyConfig(
        image_size=256,
        patch_size=16,
        vision_width=768,
        vision_layers=12,
        vision_heads=12,
        vision_mlp=3072,
        mixer_layers=2,
        mixer_heads=12,
        mixer_head_dim=64,
        dit_layers=6,
        dit_heads=12,
        dit_head_dim=64,
        learned_positions=64,
        dropout=0.1,
    ),
    # The released NitroGen model: SigLIP2-L/16 at 256², 4-block mixer, 8-block interleaved DiT.
    "nitrogen_500m": PolicyConfig(
        vision_use_head=True,
        position_init_std=0.02,
        action_layout="checkpoint",
        action_dim=CHECKPOINT_ACTION_DIM,
        horizon=CHECKPOINT_HORIZON,
        context_length=300,
        dropout=0.1,
    ),
}


# The tiny policy with the frame 0.1 s (3 frames at 30 fps; one 10 fps Neverball step) before the current
# one: trained on the demo's extracted episodes it finished 15 of 20 SuperTux episodes in play, against 1
# of 20 for tiny (same data, seed and steps; Neverball 17/20 vs 14/20, Chromium 4/20 vs 5/20).
PRESETS["tiny_motion"] = PRESETS["tiny"].replace(previous_frame_gap=3)
# tiny_motion with the conv stem: trained on 30 Chromium demonstrations (dropout 0.1, weight decay 0.05)
# it scored chromium-score-100 11/20 and 8/20 over two training seeds where tiny_motion scored 4/20.
PRESETS["tiny_motion_conv"] = PRESETS["tiny_motion"].replace(vision_stem="conv")


def get_preset(name: str) -> PolicyConfig:
    """The preset called ``name`` (see ``PRESETS``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise PolicyConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
