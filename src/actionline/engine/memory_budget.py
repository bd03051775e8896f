"""Refusing a size before allocating it: a lower bound of the memory a model run needs (its weights, its input,
its class scores), compared with the memory the device has free. ``profile --length 1000000000`` or a huge
``--num-classes`` is then one clear error instead of an allocation that fails deep inside torch (or swaps)."""

from __future__ import annotations

import os
from typing import Any

import torch

from actionline.errors import ConfigError
from actionline.models.registry import build_model

FLOAT_BYTES = 4


def available_bytes(device: torch.device) -> int:
    """Free memory of ``device``: CUDA's free memory, or the host's ``MemAvailable`` (all of RAM where Linux's
    meminfo is absent)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def minimum_bytes(name: str, settings: dict[str, Any], length: int) -> tuple[int, str]:
    """A lower bound of the bytes one forward pass of ``name`` (built with ``settings``) over ``length`` positions
    holds at once, and its parts in words. The model is built on the ``meta`` device: nothing is allocated."""
    with torch.device("meta"):
        try:
            model = build_model(name, settings)
        except (RuntimeError, NotImplementedError):  # a constructor computing on values: built for real later
            return 0, "unknown for this model"
        weights = sum(p.numel() for p in model.parameters())
        try:
            x, mask = model.example_inputs(length)
            inputs, positions = x.numel(), mask.numel()  # a temporal model scores each position, a clip one
        except (RuntimeError, OverflowError, TypeError):  # the shape itself overflows
            inputs, positions = 2**63, 1
    scores = int(settings["num_classes"]) * positions
    parts = {"weights": weights, "input": inputs, "class scores": scores}
    total = FLOAT_BYTES * sum(parts.values())
    return total, ", ".join(f"{k} {FLOAT_BYTES * v / 2**30:.3g} GiB" for k, v in parts.items())


def check_fits(name: str, settings: dict[str, Any], length: int, device: torch.device) -> None:
    """A `ConfigError` when the lower bound of `minimum_bytes` exceeds the free memory of ``device``."""
    need, parts = minimum_bytes(name, settings, length)
    free = available_bytes(device)
    if need > free:
        raise ConfigError(
            f"{name} at this size needs at least {need / 2**30:.3g} GiB ({parts}), more than the "
            f"{free / 2**30:.3g} GiB free on {device}: choose a smaller --length, --input-dim or --num-classes"
        )


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation that failed (torch reports some as plain ``RuntimeError``)."""
    return isinstance(exc, torch.OutOfMemoryError | MemoryError) or (
        isinstance(exc, RuntimeError) and "allocate" in str(exc)
    )
