"""Pixelpad actions ↔ the continuous layout a policy denoises, in torch.

Two layouts (``PolicyConfig.action_layout``):

* ``"pixelpad"`` (21 dims, our own models): buttons mapped {0, 1} → {-1, +1}, sticks kept in
  [-1, 1] -- every dimension centred with unit range, which suits flow matching from N(0, 1)
  noise. Decoding thresholds buttons at 0.
* ``"checkpoint"`` (25 dims, the released model): exactly :func:`pixelpad.actions.to_checkpoint_layout`
  (buttons in its column order, right-stick direction buttons, sticks as (v + 1) / 2), done in torch
  so the trainer can feed it batches; decoding is :func:`pixelpad.actions.from_checkpoint_layout`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from pixelpad import actions as A
from pixelpad.policy.errors import PolicyInputError


def _checkpoint_sources() -> tuple[list[int], list[tuple[int, float]]]:
    """For each checkpoint button column: our button index, or -1 and a (axis index, sign) direction."""
    columns: list[int] = []
    directions: list[tuple[int, float]] = []
    for token in A.CHECKPOINT_BUTTONS:
        if token in A.RIGHT_STICK_DIRECTIONS:
            axis, sign = A.RIGHT_STICK_DIRECTIONS[token]
            columns.append(-1)
            directions.append((A.INDEX[axis], sign))
        else:
            columns.append(A.BUTTONS.index(token.lower()))
            directions.append((0, 0.0))
    return columns, directions


def to_model_layout(actions: Tensor, layout: str) -> Tensor:
    """Pixelpad actions (..., 21) → the model's layout (..., 21 or 25), same dtype and device."""
    if actions.shape[-1] != A.ACTION_DIM:
        raise PolicyInputError(
            f"actions must be (..., {A.ACTION_DIM}) pixelpad actions, got {tuple(actions.shape)}"
        )
    buttons, axes = actions[..., A.BUTTON_SLICE], actions[..., A.AXIS_SLICE]
    if layout == "pixelpad":
        return torch.cat([buttons * 2.0 - 1.0, axes], dim=-1)
    if layout == "checkpoint":
        columns, directions = _checkpoint_sources()
        out = []
        for column, (axis, sign) in zip(columns, directions, strict=True):
            if column >= 0:
                out.append(buttons[..., column])
            else:
                out.append((sign * actions[..., axis] > A.DEFAULT_DIRECTION_THRESHOLD).to(actions.dtype))
        return torch.cat([torch.stack(out, dim=-1), (axes + 1.0) / 2.0], dim=-1)
    raise PolicyInputError(f"unknown action layout {layout!r}")


def decode(raw: Tensor | np.ndarray, layout: str) -> np.ndarray:
    """The model's continuous output (..., 21 or 25) → valid pixelpad actions (..., 21) float32."""
    arr = raw.detach().float().cpu().numpy() if isinstance(raw, Tensor) else np.asarray(raw, np.float32)
    arr = np.nan_to_num(arr)
    if layout == "pixelpad":
        shifted = arr.copy()
        shifted[..., A.BUTTON_SLICE] = (shifted[..., A.BUTTON_SLICE] + 1.0) / 2.0
        return A.decode_continuous(shifted)
    if layout == "checkpoint":
        return A.from_checkpoint_layout(arr)
    raise PolicyInputError(f"unknown action layout {layout!r}")
