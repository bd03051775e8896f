"""Reading weight files people hold (torch files with ``weights_only=True``, never arbitrary objects, or
safetensors) and comparing their tensors with a module's before loading, so that errors name every problem."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from actionline.errors import CheckpointError


def refused_object(exc: Exception) -> str | None:
    """The Python object (a global such as ``posix.system``) that a ``weights_only`` load refused to build, or None
    when ``exc`` is not such a refusal (a damaged file, not a pickle)."""
    found = re.search(r"GLOBAL (\S+)|allowlisted via add_safe_globals, but got (\S+)|reduce for (\S+)", str(exc))
    return None if found is None else next(g for g in found.groups() if g)


def load_error_detail(exc: Exception) -> str:
    """What went wrong in a failed ``torch.load``, in one short line (the unpickler's own words, without torch's
    advice to turn the weights-only safety off)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if "WeightsUnpickler" in str(exc) and len(lines) >= 2:
        return lines[-2][:200]
    return (lines[0] if lines else type(exc).__name__)[:200]


def read_torch_file(path: str | Path) -> Any:
    """The object stored in ``path``: safetensors, or a torch file loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the weights file is empty (0 bytes)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign or damaged files
        refused = refused_object(exc)
        if refused is not None:
            raise CheckpointError(
                f"{path}: refused: the file holds a Python object beyond tensors and plain data ({refused}), and "
                "loading it could run code; save the weights as a plain state dict or .safetensors"
            ) from None
        raise CheckpointError(f"{path}: not a readable weights file ({load_error_detail(exc)})") from None


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
