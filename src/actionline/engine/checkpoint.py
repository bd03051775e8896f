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
        digest = entries_digest(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(f"{archive.namelist()[0].split('/')[0]}/{DIGEST_ENTRY}", digest)

    atomic_write(path, write)


def copy_checkpoint(source: str | Path, path: str | Path) -> None:
    """Write ``path`` atomically as a byte copy of the checkpoint ``source`` (``best`` and ``last`` of an epoch
    hold the same payload: it is serialised once)."""
    atomic_write(path, lambda tmp: shutil.copyfile(source, tmp))


def entries_digest(path: str | Path) -> str:
    """The SHA-256 of every archive entry's name and bytes but the digest's own, in archive order."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.rpartition("/")[2] == DIGEST_ENTRY:
                continue
            digest.update(info.filename.encode() + b"\0")
            with archive.open(info) as entry:  # zipfile checks the entry's CRC-32 at its end
                for chunk in iter(lambda: entry.read(CHUNK), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def stored_digest(path: str | Path) -> str | None:
    """The digest a checkpoint of the current layout carries; ``None`` for any other file. An archive that lists
    the digest but cannot give it back is damaged."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.rpartition("/")[2] == DIGEST_ENTRY]
            if not names:
                return None
            try:
                return archive.read(names[0]).decode("ascii", "replace")
            except Exception:  # zipfile raises many types for damaged headers
                raise CheckpointError(f"{path}: checkpoint is damaged (its checksum cannot be read)") from None
    except CheckpointError:
        raise
    except Exception:  # not an archive, or not one zip can read: torch decides
        return None


def verify_digest(path: str | Path, digest: str) -> None:
    """A `CheckpointError` unless the archive's entries still give ``digest``."""
    try:
        actual = entries_digest(path)
    except Exception:  # zipfile raises many types for damaged headers and CRC mismatches
        actual = None
    if actual != digest:
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
    digest = stored_digest(path)
    if digest is not None:
        verify_digest(path, digest)
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
