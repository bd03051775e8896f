"""Checkpoints: written atomically, validated on load (format, model name, class set)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from actionline.errors import CheckpointError
from actionline.io import atomic_write

FORMAT = "actionline-checkpoint/1"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    payload = {"format": FORMAT, **payload}
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(
    path: str | Path, expect_model: str | None = None, expect_classes: Sequence[str] | None = None
) -> dict[str, Any]:
    """Load and check a checkpoint; a mismatch with what the caller expects is a `CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for truncated/corrupt files
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an actionline checkpoint")
    if expect_model is not None and ckpt["model"] != expect_model:
        raise CheckpointError(f"{path}: checkpoint is for model {ckpt['model']!r}, not {expect_model!r}")
    if expect_classes is not None and list(ckpt["classes"]) != list(expect_classes):
        raise CheckpointError(
            f"{path}: checkpoint was trained on {len(ckpt['classes'])} classes that differ from the dataset's "
            f"{len(expect_classes)} (mapping.txt)"
        )
    return ckpt
