"""Our own checkpoint format: a directory with ``config.json`` and ``model.safetensors``.

``config.json`` holds ``{"format": "pixelpad-policy", "version": 1, "config": {PolicyConfig fields}}``;
the safetensors file holds the full state dict (vision encoder included), so loading needs no
other file and no network. Round trips are bit-exact.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from pixelpad.policy.config import PolicyConfig
from pixelpad.policy.errors import CheckpointError, PolicyConfigError

if TYPE_CHECKING:
    from pixelpad.policy.model import Policy

logger = logging.getLogger(__name__)

FORMAT = "pixelpad-policy"
VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save_pretrained(policy: Policy, directory: str | Path) -> Path:
    """Write ``policy`` to ``directory`` (created if needed); returns the directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in policy.state_dict().items()}
    save_file(state, str(out / WEIGHTS_FILE), metadata={"format": FORMAT})
    meta = {"format": FORMAT, "version": VERSION, "config": policy.config.to_dict()}
    (out / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    logger.info("saved policy (%d parameters) to %s", policy.num_parameters(), out)
    return out


def read_config(directory: str | Path) -> PolicyConfig:
    """The :class:`PolicyConfig` of a saved policy directory."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory} is not a saved policy: {CONFIG_FILE} is missing")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pixelpad policy config (format != {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: unsupported policy format version {meta.get('version')!r}")
    try:
        return PolicyConfig.from_dict(meta["config"])
    except (PolicyConfigError, TypeError, KeyError) as err:
        raise CheckpointError(f"{path}: bad policy config: {err}") from err


def load_pretrained(directory: str | Path, *, device: str | torch.device = "cpu") -> Policy:
    """Build the policy saved in ``directory`` and load its weights exactly."""
    config = read_config(directory)
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{directory} is not a saved policy: {WEIGHTS_FILE} is missing")
    try:
        state = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"cannot read {weights}: {err}") from err
    return build_with_weights(config, state, device=device, where=str(weights))


def build_with_weights(
    config: PolicyConfig,
    state: dict[str, torch.Tensor],
    *,
    device: str | torch.device = "cpu",
    where: str,
    display: Callable[[str], str] = str,
) -> Policy:
    """A policy of ``config`` holding exactly ``state``, without a random init first.

    The modules are built on the meta device (no memory, no init: a 500M random init takes most of
    a minute on a CPU), checked against ``state``, given storage, and loaded.
    """
    from pixelpad.policy.model import Policy

    with torch.device("meta"):
        policy = Policy(config)
    check_state_dict(policy, state, where=where, display=display)
    policy = policy.to_empty(device=device)
    policy.reset_fixed_buffers()
    policy.load_state_dict(state)
    return policy


def check_state_dict(
    policy: Policy,
    state: dict[str, torch.Tensor],
    *,
    where: str,
    display: Callable[[str], str] = str,
) -> None:
    """Raise :class:`CheckpointError` naming the first missing, unexpected or mis-shaped key.

    ``display`` turns our key names into the names the file uses, for the message.
    """
    expected = policy.state_dict()
    for name, tensor in expected.items():
        if name not in state:
            raise CheckpointError(f"{where}: missing weight {display(name)!r} (shape {tuple(tensor.shape)})")
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{where}: weight {display(name)!r} has shape {tuple(state[name].shape)}, its config "
                f"implies {tuple(tensor.shape)}"
            )
    for name in state:
        if name not in expected:
            raise CheckpointError(f"{where}: unexpected weight {display(name)!r} for its config")
