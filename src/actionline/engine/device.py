"""Device handling in one place: ``auto`` picks CUDA when present; an absent device is a clear error."""

from __future__ import annotations

import torch

from actionline.errors import ConfigError


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``; asking for a GPU that is not there is a `ConfigError`.

    Under ``torchrun`` (``local_rank`` given) each process takes the GPU of its local rank."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if local_rank is not None and name.startswith("cuda"):
        name = f"cuda:{local_rank}"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"device {name!r}: {exc}") from None
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"device {name!r} is not available here (CUDA devices: {torch.cuda.device_count()})")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r}: only cpu and cuda are supported")
    return device
