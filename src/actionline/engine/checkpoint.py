"""Checkpoints: written atomically, validated on load (checksum, format, model name, class set).

A checkpoint is the file ``torch.save`` writes (a zip archive), streamed to disk, plus one more archive entry,
``.actionline_sha256``: the SHA-256 of every other entry's name and bytes. Loading recomputes it (zip's own CRC-32
checks run on the way), so damage is detected before torch reads a byte (torch itself would load flipped bytes
without a word). Files of the previous layout, the payload's bytes and their SHA-256 pickled in a dict, still load.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from actionline.errors import CheckpointError
from actionline.io import atomic_write

FORMAT = "actionline-checkpoint/1"
SEALED = "actionline-checkpoint/2"  # the previous layout: the payload's bytes with their SHA-256, in a dict
DIGEST_ENTRY = ".actionline_sha256"  # the archive entry holding the SHA-256 of all the others
CHUNK = 1 << 20


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write atomically: torch's archive streamed to a temporary file (no copy of the payload in memory), then
    the digest of its entries appended as one more entry, then the rename."""

    def write(tmp: str) -> None:
        torch.save({"format": FORMAT, **payload}, tmp)
        with zipfile.ZipFile(tmp) as archive:
            digest, prefix = entries_digest(archive), archive.namelist()[0].split("/")[0]
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(f"{prefix}/{DIGEST_ENTRY}", digest)

    atomic_write(path, write)


def copy_checkpoint(source: str | Path, path: str | Path) -> None:
    """Write ``path`` atomically as a byte copy of the checkpoint ``source`` (``best`` and ``last`` of an epoch
    hold the same payload: it is serialised once)."""
    atomic_write(path, lambda tmp: shutil.copyfile(source, tmp))


def entries_digest(archive: zipfile.ZipFile) -> str:
    """The SHA-256 of every archive entry's name and bytes but the digest's own, in archive order."""
    digest, own = hashlib.sha256(), _digest_name(archive)
    for info in archive.infolist():
        if info.filename != own:
            digest.update(info.filename.encode() + b"\0")
            with archive.open(info) as entry:  # zipfile checks the entry's CRC-32 at its end
                for chunk in iter(lambda: entry.read(CHUNK), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def _digest_name(archive: zipfile.ZipFile) -> str | None:
    return next((n for n in archive.namelist() if n.rpartition("/")[2] == DIGEST_ENTRY), None)


def carries_digest(path: str | Path) -> bool:
    """Whether ``path`` is a checkpoint of the current layout: an archive that lists the digest entry."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _digest_name(archive) is not None
    except Exception:  # not an archive (or not one zip can read)
        return False


def verify_digest(path: str | Path) -> None:
    """A `CheckpointError` when ``path`` lists a digest that its entries no longer give (or that cannot be read);
    nothing for a file without one (another layout, or not an archive zip can read: torch then decides)."""
    try:
        archive = zipfile.ZipFile(path)
    except Exception:
        return
    with archive:
        name = _digest_name(archive)
        if name is None:
            return
        try:
            intact = archive.read(name).decode("ascii") == entries_digest(archive)
        except Exception:  # zipfile raises many types for damaged headers and CRC mismatches
            intact = False
    if not intact:
        raise CheckpointError(f"{path}: checkpoint is damaged (its checksum does not match its contents)")


def is_sealed(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == SEALED


def unseal(sealed: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The payload of a checkpoint of the previous layout read from ``path``, its checksum verified."""
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
    verify_digest(path)
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
