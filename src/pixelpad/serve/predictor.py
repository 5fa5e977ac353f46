"""A :class:`pixelpad.policy.Policy` as the server's predictor, and loading one from a path.

The server needs only ``predict(frames (B, H, W, 3) uint8) -> (B, T, 21)`` and ``info()``; this
adapter supplies ``info()`` from the policy's config and draws the sampling noise from one seeded
generator, so a served run is reproducible given the same sequence of batches.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixelpad.serve.protocol import ServeError

if TYPE_CHECKING:
    from pixelpad.policy import Policy

log = logging.getLogger(__name__)

DTYPES = ("float32", "bfloat16", "float16")


class PolicyPredictor:
    """Serve a policy: batched frames in, decoded pixelpad action chunks out.

    Args:
        policy: the policy, already on its device.
        num_steps: flow-matching steps per prediction; the config's default when None.
        seed: seeds the noise generator.
    """

    def __init__(self, policy: Policy, *, num_steps: int | None = None, seed: int = 0) -> None:
        import torch

        self.policy = policy.eval()
        self.num_steps = num_steps
        self._generator = torch.Generator(device=policy.device).manual_seed(seed)

    def predict(self, frames: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """uint8 ``(B, H, W, 3)`` (and the frames ``previous_frame_gap`` earlier, for a policy that
        reads them) -> float32 ``(B, T, 21)``."""
        return self.policy.predict(
            frames, num_steps=self.num_steps, generator=self._generator, previous=previous
        )

    def warm_up(self) -> None:
        """One prediction on a black frame: lazy initialisation (kernels, CUDA context) happens now."""
        size = self.policy.config.image_size
        self.predict(np.zeros((1, size, size, 3), dtype=np.uint8))

    def info(self) -> dict[str, Any]:
        config = self.policy.config
        return {
            "kind": "pixelpad.policy",
            "horizon": config.horizon,
            "action_dim": 21,
            "image_size": config.image_size,
            "action_layout": config.action_layout,
            "previous_frame_gap": config.previous_frame_gap,
            "num_inference_steps": self.num_steps or config.num_inference_steps,
            "parameters": self.policy.num_parameters(),
            "device": str(self.policy.device),
            "dtype": str(self.policy.dtype).removeprefix("torch."),
        }


def load_policy(source: str | Path, *, device: str = "cpu", dtype: str = "float32") -> Policy:
    """A policy from a ``save_pretrained`` directory, a training checkpoint, or the released ``ng.pt``.

    A training checkpoint directory (``RUN/checkpoints/step_N``) is served from the ``policy/``
    export the trainer writes into it (the EMA weights).

    Raises:
        ServeError: when the path does not exist or the dtype is unknown (the policy stage raises its
            own errors for malformed checkpoints).
    """
    import torch

    from pixelpad.policy import Policy

    path = Path(source)
    if dtype not in DTYPES:
        raise ServeError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if path.is_dir() and not (path / "config.json").is_file() and (path / "policy" / "config.json").is_file():
        path = path / "policy"
    if path.is_dir():
        policy = Policy.from_pretrained(path, device=device)
    elif path.is_file():
        policy = Policy.from_nitrogen_checkpoint(path).to(device)
    else:
        raise ServeError(f"{path}: no such checkpoint (a save_pretrained directory or the released ng.pt)")
    policy = policy.to(getattr(torch, dtype))
    log.info("loaded %s: %.1fM parameters on %s (%s)", path, policy.num_parameters() / 1e6, device, dtype)
    return policy
