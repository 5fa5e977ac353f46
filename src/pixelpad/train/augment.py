"""Image augmentation on uint8 frames, batched, with plain torch ops (no torchvision).

The recipe's augmentations — brightness, contrast, saturation, hue, a small rotation and a random
crop of ~95% of the area — are folded into two operations per batch:

* colour: all four jitters are linear in RGB, so they compose into one 3×3 matrix plus an offset
  per sample (hue is a rotation about the grey axis, which keeps greys grey);
* geometry: rotation + crop (+ the crop's offset) compose into one affine sampling grid.

Each sample's parameters come from its own seed, so a sample looks the same whichever rank, worker
or batch it lands in — the property that makes runs reproducible and independent of world size.
Stick directions are not mirrored: no flips, only small rotations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# ITU-R BT.601 luma weights: what "grey" means for contrast and saturation
_LUMA = (0.299, 0.587, 0.114)
NUM_PARAMS = 8  # brightness, contrast, saturation, hue, angle, scale, shift_x, shift_y


@dataclass(frozen=True)
class AugmentConfig:
    """Strength of each augmentation; 0 disables it."""

    brightness: float = 0.2  # intensity × U(1 − b, 1 + b)
    contrast: float = 0.2  # blend with the image's mean grey, factor U(1 − c, 1 + c)
    saturation: float = 0.2  # blend with the pixel's grey, factor U(1 − s, 1 + s)
    hue: float = 0.03  # rotation about the grey axis, U(−h, h) of a full turn
    rotation_deg: float = 5.0  # U(−r, r) degrees
    min_crop_area: float = 0.9  # crop area fraction U(min, 1) → 0.95 on average, resized back

    def identity_params(self, batch: int) -> torch.Tensor:
        """(batch, NUM_PARAMS) parameters that leave frames unchanged."""
        params = torch.zeros(batch, NUM_PARAMS)
        params[:, :3] = 1.0
        params[:, 5] = 1.0
        return params

    def sample_params(self, seeds: Sequence[int]) -> torch.Tensor:
        """(len(seeds), NUM_PARAMS) float32 parameters, one row drawn from each seed."""
        rows = []
        for seed in seeds:
            u = torch.rand(NUM_PARAMS, generator=torch.Generator().manual_seed(int(seed))) * 2 - 1
            scale = math.sqrt(self.min_crop_area + (1 - self.min_crop_area) * (u[5].item() + 1) / 2)
            rows.append(
                [
                    1 + self.brightness * u[0].item(),
                    1 + self.contrast * u[1].item(),
                    1 + self.saturation * u[2].item(),
                    self.hue * 2 * math.pi * u[3].item(),
                    math.radians(self.rotation_deg) * u[4].item(),
                    scale,
                    (1 - scale) * u[6].item(),
                    (1 - scale) * u[7].item(),
                ]
            )
        return torch.tensor(rows, dtype=torch.float32).reshape(len(rows), NUM_PARAMS)


def colour_matrices(params: torch.Tensor, mean_grey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample ``rgb' = M @ rgb + offset`` equal to brightness → contrast → saturation → hue.

    Args:
        params: (B, NUM_PARAMS) from :meth:`AugmentConfig.sample_params`.
        mean_grey: (B,) mean luma of each original frame (same units as the pixels).

    Returns:
        M: (B, 3, 3) and offset: (B, 3).
    """
    b, c, s, hue = params[:, 0], params[:, 1], params[:, 2], params[:, 3]
    eye = torch.eye(3).expand(len(params), 3, 3)
    luma = torch.tensor(_LUMA).expand(3, 3)  # every row is the luma vector: ones(3,1) @ luma(1,3)
    sat = s[:, None, None] * eye + (1 - s)[:, None, None] * luma
    k = torch.full((3,), 1 / math.sqrt(3))
    cross = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    cos, sin = torch.cos(hue)[:, None, None], torch.sin(hue)[:, None, None]
    rot = cos * eye + sin * cross + (1 - cos) * torch.outer(k, k)
    # saturation and hue both map grey to grey, so contrast's grey offset passes through them
    matrix = rot @ sat * (c * b)[:, None, None]
    offset = ((1 - c) * b * mean_grey)[:, None].expand(-1, 3)
    return matrix, offset


def affine_theta(params: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, 2, 3) sampling matrices (output → input, normalised coords) for rotation + crop.

    The rotation is a true rotation in pixels on non-square frames: R is conjugated by the
    pixel/normalised scaling diag(W/2, H/2).
    """
    angle, scale, tx, ty = params[:, 4], params[:, 5], params[:, 6], params[:, 7]
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(len(params), 2, 3)
    theta[:, 0, 0] = scale * cos
    theta[:, 0, 1] = -scale * sin * height / width
    theta[:, 1, 0] = scale * sin * width / height
    theta[:, 1, 1] = scale * cos
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    return theta


def augment(frames: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Apply per-sample augmentations.

    Args:
        frames: (B, H, W, 3) uint8, on any device.
        params: (B, NUM_PARAMS) float32 on CPU, one row per frame.

    Returns:
        (B, H, W, 3) uint8 on the frames' device.
    """
    if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames (B, H, W, 3), got {tuple(frames.shape)} {frames.dtype}")
    batch, height, width, _ = frames.shape
    x = frames.permute(0, 3, 1, 2).float()  # (B, 3, H, W)
    luma = torch.tensor(_LUMA, device=x.device)
    mean_grey = torch.einsum("bchw,c->b", x, luma) / (height * width)
    matrix, offset = colour_matrices(params, mean_grey.cpu())
    x = torch.einsum("bij,bjhw->bihw", matrix.to(x.device), x) + offset.to(x.device)[:, :, None, None]
    grid = F.affine_grid(affine_theta(params, height, width).to(x.device), [batch, 3, height, width], False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
