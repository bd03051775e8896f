"""Checkpoints: written atomically, validated on load (format, model name, class set)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from actionline.errors import CheckpointError
from actionline.io import atomic_write

FORMAT = "actionline-checkpoint/1"
SEALED = "actionline-checkpoint/2"  # the payload's bytes with their SHA-256, verified on load


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write atomically: the serialised payload and its SHA-256, so a damaged file is detected on load (torch
    itself would load flipped bytes without a word)."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    blob = buffer.getvalue()
    sealed = {"format": SEALED, "sha256": hashlib.sha256(blob).hexdigest(), "payload": blob}
    atomic_write(path, lambda tmp: torch.save(sealed, tmp))


def is_sealed(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == SEALED


def unseal(sealed: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The payload of a sealed checkpoint read from ``path``, its checksum verified."""
    if hashlib.sha256(sealed["payload"]).hexdigest() != sealed["sha256"]:
        raise CheckpointError(f"{path}: checkpoint is damaged (its checksum does not match its contents)")
    try:
        return torch.load(io.BytesIO(sealed["payload"]), map_location="cpu", weights_only=False)
    except Exception as exc:  # verified bytes that torch cannot read: written by an incompatible version
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None


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
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    ckpt = unseal(ckpt, path) if is_sealed(ckpt) else ckpt
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
