"""The learned overlay parser: reads every control of any skin from two consecutive overlay crops.

Input: the overlay crops of frames t-1 and t placed side by side, ``(B, 3, H, W)``: 96 x 320 by
default, the size :class:`pixelpad.overlay.pairs.PairGenerator` draws (two 96 x 160 halves). The
previous frame lets the model tell a pressed sprite from a compression smear that is there in
both frames. Outputs, for frame t:

* one logit per button (17, pixelpad order);
* per stick, 121 logits over an 11 x 11 grid of (x, y) in [-1, 1]; read back as the expectation
  over the grid, which gives a continuous value between grid points (the paper's "hybrid
  classification": a classifier's robustness, a regressor's precision);
* one "overlay visible" logit: whether the crop shows a readable overlay at all.

Architecture: a randomly initialised ``transformers`` Segformer (MiT) encoder; an all-MLP neck
(SegFormer's decoder idea) projects the stages at or below ``neck_stride`` to ``neck_channels``,
upsamples them to that stride and fuses them. The head squeezes the neck to a few channels and
reads the whole map with one hidden layer: the crop is warped to the skin's own frame by the
localisation's affine, so each control sits at a fixed place and a position-specific read-out is
what fits (an attention-pooled head was tried first and learned several times slower).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pixelpad.actions import NUM_BUTTONS
from pixelpad.errors import PixelpadError

NUM_STICKS = 2
CONFIG_NAME = "parser_config.json"
WEIGHTS_NAME = "parser.safetensors"


class ParserError(PixelpadError):
    """A parser checkpoint or input that cannot be used."""


@dataclass(frozen=True)
class ParserConfig:
    """Every size of the parser. Defaults are MiT-b0 with a 1/8 neck (≈ 56 pairs/s on one CPU thread)."""

    hidden_sizes: tuple[int, ...] = (32, 64, 160, 256)  # MiT stage widths (b0)
    depths: tuple[int, ...] = (2, 2, 2, 2)  # transformer blocks per stage
    num_attention_heads: tuple[int, ...] = (1, 2, 5, 8)
    sr_ratios: tuple[int, ...] = (8, 4, 2, 1)  # spatial reduction of keys/values per stage
    neck_stride: int = 8  # 4 (full SegFormer neck, slower) or 8: finest stage fused by the neck
    neck_channels: int = 128
    head_channels: int = 16  # the neck is squeezed to this many channels, then flattened
    head_hidden: int = 512  # width of the hidden layer shared by all outputs
    grid: int = 11  # stick classes per axis: grid x grid positions
    image_height: int = 96  # the pair is resized to (image_height, image_width) before the encoder
    image_width: int = 320

    def __post_init__(self) -> None:
        if self.neck_stride not in (4, 8, 16, 32):
            raise ParserError(f"neck_stride must be 4, 8, 16 or 32, got {self.neck_stride}")
        if len({len(self.hidden_sizes), len(self.depths), len(self.num_attention_heads)}) != 1:
            raise ParserError("hidden_sizes, depths and num_attention_heads need one entry per stage")
        if self.image_height % self.neck_stride or self.image_width % self.neck_stride:
            raise ParserError(f"image size must be a multiple of neck_stride {self.neck_stride}")
        if self.grid < 2:
            raise ParserError(f"grid must be at least 2, got {self.grid}")


PRESETS: dict[str, ParserConfig] = {
    # For tests and smoke runs: a few thousand pairs/s on CPU.
    "tiny": ParserConfig(
        hidden_sizes=(16, 32, 64, 96),
        depths=(1, 1, 1, 1),
        num_attention_heads=(1, 1, 2, 2),
        neck_channels=48,
        head_hidden=256,
        image_height=48,
        image_width=160,
    ),
    # A short CPU run on a narrowed task (one layout, few colourways): tiny widths at full resolution.
    "small": ParserConfig(
        hidden_sizes=(16, 32, 64, 128),
        depths=(1, 1, 1, 1),
        num_attention_heads=(1, 1, 2, 4),
        neck_channels=64,
        head_hidden=256,
    ),
    "b0": ParserConfig(),
    # The full SegFormer neck: fuses the 1/4 stage at 256 channels (≈ 16 pairs/s on one CPU thread).
    # (Both speeds were measured at 128 x 256, the same number of pixels as 96 x 320 within 7 %.)
    "b0_full": ParserConfig(neck_stride=4, neck_channels=256),
}


def get_preset(name: str) -> ParserConfig:
    if name not in PRESETS:
        raise ParserError(f"unknown parser preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[name]


class Parser(nn.Module):
    """Segformer encoder + all-MLP neck + flattened read-out heads (see the module docstring)."""

    def __init__(self, config: ParserConfig) -> None:
        super().__init__()
        from transformers import SegformerConfig, SegformerModel

        self.config = config
        n = len(config.hidden_sizes)
        self.encoder = SegformerModel(
            SegformerConfig(
                num_encoder_blocks=n,
                hidden_sizes=list(config.hidden_sizes),
                depths=list(config.depths),
                num_attention_heads=list(config.num_attention_heads),
                sr_ratios=list(config.sr_ratios),
                patch_sizes=[7] + [3] * (n - 1),
                strides=[4] + [2] * (n - 1),
                mlp_ratios=[4] * n,
                drop_path_rate=0.0,
            )
        )
        strides = [4 * 2**i for i in range(n)]
        self.neck_stages = [i for i, s in enumerate(strides) if s >= config.neck_stride]
        d = config.neck_channels
        self.project = nn.ModuleList(nn.Conv2d(config.hidden_sizes[i], d, 1) for i in self.neck_stages)
        self.fuse = nn.Sequential(
            nn.Conv2d(d * len(self.neck_stages), d, 1, bias=False), nn.BatchNorm2d(d), nn.ReLU()
        )
        h = config.image_height // config.neck_stride
        w = config.image_width // config.neck_stride
        self.head = nn.Sequential(
            nn.Conv2d(d, config.head_channels, 1),
            nn.GELU(),
            nn.Flatten(),
            nn.Linear(config.head_channels * h * w, config.head_hidden),
            nn.GELU(),
        )
        self.button_head = nn.Linear(config.head_hidden, NUM_BUTTONS)
        self.stick_head = nn.Linear(config.head_hidden, NUM_STICKS * config.grid**2)
        self.visible_head = nn.Linear(config.head_hidden, 1)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        axis = torch.linspace(-1.0, 1.0, config.grid)
        gy, gx = torch.meshgrid(axis, axis, indexing="ij")
        # Class c is grid cell (row = c // grid, col = c % grid): x = gx, y = gy.
        self.register_buffer("grid_xy", torch.stack([gx.flatten(), gy.flatten()], -1), persistent=False)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, H, W, 3)`` pairs → normalised float ``(B, 3, image_height, image_width)``."""
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ParserError(f"expected uint8 pairs of shape (B, H, W, 3), got {tuple(images.shape)}")
        x = images.permute(0, 3, 1, 2).float().div_(255.0)
        size = (self.config.image_height, self.config.image_width)
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Normalised ``(B, 3, H, W)`` → logits: ``buttons (B, 17)``, ``sticks (B, 2, grid²)``,
        ``visible (B,)``."""
        states = self.encoder(x, output_hidden_states=True).hidden_states
        target = states[self.neck_stages[0]].shape[-2:]
        parts = [
            F.interpolate(proj(states[i]), size=target, mode="bilinear", align_corners=False)
            for proj, i in zip(self.project, self.neck_stages, strict=True)
        ]
        neck = self.fuse(torch.cat(parts, dim=1))  # (B, D, H/stride, W/stride)
        hidden = self.head(neck)  # (B, head_hidden)
        return {
            "buttons": self.button_head(hidden),
            "sticks": self.stick_head(hidden).view(-1, NUM_STICKS, self.config.grid**2),
            "visible": self.visible_head(hidden).squeeze(-1),
        }

    def stick_values(self, stick_logits: torch.Tensor) -> torch.Tensor:
        """``(B, 2, grid²)`` logits → ``(B, 4)`` expected (left_x, left_y, right_x, right_y)."""
        return (stick_logits.softmax(-1) @ self.grid_xy).flatten(1)

    @torch.no_grad()
    def predict(self, images: torch.Tensor | np.ndarray) -> dict[str, np.ndarray]:
        """uint8 pairs ``(B, H, W, 3)`` → ``buttons (B, 17)`` and ``visible (B,)`` probabilities,
        ``sticks (B, 4)`` in [-1, 1]."""
        device = self.mean.device
        images = torch.as_tensor(np.asarray(images)).to(device)
        out = self(self.prepare(images))
        return {
            "buttons": out["buttons"].sigmoid().float().cpu().numpy(),
            "sticks": self.stick_values(out["sticks"]).float().cpu().numpy(),
            "visible": out["visible"].sigmoid().float().cpu().numpy(),
        }

    def save_pretrained(self, directory: str | os.PathLike[str]) -> None:
        """Write ``parser_config.json`` and ``parser.safetensors`` to ``directory``."""
        from safetensors.torch import save_file

        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2))
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path / WEIGHTS_NAME))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str], device: str = "cpu") -> Parser:
        """Load a parser written by :meth:`save_pretrained` (offline, local files only)."""
        from safetensors.torch import load_file

        path = Path(directory)
        if not (path / CONFIG_NAME).is_file() or not (path / WEIGHTS_NAME).is_file():
            raise ParserError(f"{path}: not a parser checkpoint (needs {CONFIG_NAME} and {WEIGHTS_NAME})")
        raw = json.loads((path / CONFIG_NAME).read_text())
        config = ParserConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
        model = cls(config)
        model.load_state_dict(load_file(str(path / WEIGHTS_NAME)))
        return model.to(device).eval()


def stick_targets(values: torch.Tensor, grid: int) -> torch.Tensor:
    """Soft class targets whose expectation over the grid is exactly ``values``.

    Args:
        values: ``(B, 2, 2)`` stick (x, y) in [-1, 1].

    Returns:
        ``(B, 2, grid²)``: bilinear weights on the four grid points around each value.
    """
    pos = (values.clamp(-1, 1) + 1) * (grid - 1) / 2  # (B, S, 2) in [0, grid-1]
    lo = pos.floor().clamp(max=grid - 2)
    frac = pos - lo
    lo = lo.long()
    out = torch.zeros(*values.shape[:2], grid * grid, device=values.device, dtype=values.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            wx = frac[..., 0] if dx else 1 - frac[..., 0]
            wy = frac[..., 1] if dy else 1 - frac[..., 1]
            index = (lo[..., 1] + dy) * grid + lo[..., 0] + dx
            out.scatter_add_(-1, index.unsqueeze(-1), (wx * wy).unsqueeze(-1))
    return out


def parser_loss(
    out: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    grid: int,
    button_weight: float = 1.0,
    stick_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Masked losses of one batch; ``loss`` is their weighted sum.

    ``batch``: ``buttons (B, 17)`` 0/1, ``button_known (B, 17)`` bool, ``sticks (B, 4)``,
    ``stick_known (B, 2)`` bool, ``visible (B,)`` bool. Controls the skin does not show, and every
    control of a crop without a visible overlay, add nothing to the loss. Logits are read in float32
    (they may come from a bfloat16 autocast).

    Why weights: at the prior the stick term is ~3.5 nats (121 classes) and the button term ~0.2
    (buttons are pressed ~5 % of the time), so with equal weights the stick gradient fills the
    clipped gradient norm and the buttons sit at "never pressed" for hundreds of steps.
    """
    out = {k: v.float() for k, v in out.items()}
    visible = batch["visible"].bool()
    known_b = batch["button_known"].bool() & visible[:, None]
    bce = F.binary_cross_entropy_with_logits(out["buttons"], batch["buttons"].float(), reduction="none")
    button = (bce * known_b).sum() / known_b.sum().clamp(min=1)
    known_s = batch["stick_known"].bool() & visible[:, None]
    target = stick_targets(batch["sticks"].float().view(-1, NUM_STICKS, 2), grid)
    ce = -(target * out["sticks"].log_softmax(-1)).sum(-1)  # (B, 2)
    stick = (ce * known_s).sum() / known_s.sum().clamp(min=1)
    vis = F.binary_cross_entropy_with_logits(out["visible"], visible.float())
    loss = button_weight * button + stick_weight * stick + vis
    return {"loss": loss, "button": button, "stick": stick, "visible": vis}
