"""Reading weight files people hold (torch files with ``weights_only=True``, never arbitrary objects, or
safetensors) and comparing their tensors with a module's before loading, so that errors name every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from actionline.errors import CheckpointError


def read_torch_file(path: str | Path) -> Any:
    """The object stored in ``path``: safetensors, or a torch file loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign or damaged files
        raise CheckpointError(f"{path}: not a readable weights file ({str(exc).splitlines()[0][:200]})") from None


def as_state_dict(obj: Any, where: str | Path) -> dict[str, torch.Tensor]:
    """A checkpoint object's tensors: a ``state_dict`` (or DeiT's ``model``) entry unwrapped, ``module.``
    (DataParallel) prefixes removed."""
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise CheckpointError(f"{where}: expected a state dict, got {type(obj).__name__}")
    return {k.removeprefix("module."): v for k, v in obj.items() if torch.is_tensor(v)}


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of a weights file (`read_torch_file` then `as_state_dict`)."""
    return as_state_dict(read_torch_file(path), path)


def fit_problems(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> list[str]:
    """Why ``state`` does not load into a module whose state is ``own``: missing, unexpected and mis-shaped keys
    (BatchNorm's ``num_batches_tracked`` may be absent: PyTorch 0.3 checkpoints); empty when it fits."""
    missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in state if k not in own)
    shapes = sorted(
        f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    )
    problems = [
        (f"missing {len(missing)} keys (e.g. {', '.join(missing[:3])})" if missing else ""),
        (f"unexpected {len(unexpected)} keys (e.g. {', '.join(unexpected[:3])})" if unexpected else ""),
        (f"mis-shaped {len(shapes)} keys (e.g. {'; '.join(shapes[:2])})" if shapes else ""),
    ]
    return [p for p in problems if p]
