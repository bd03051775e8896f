"""Checkpoints: written atomically, validated on load (checksum, format, model name, class set).

A checkpoint is the file ``torch.save`` writes (a zip archive), streamed to disk, plus one more archive entry,
``.actionline_sha256``: the SHA-256 of every other entry's name and bytes. Loading recomputes it (zip's own CRC-32
checks run on the way), so damage is detected before torch reads a byte (torch itself would load flipped bytes
without a word). Files of the previous layout, the payload's bytes and their SHA-256 pickled in a dict, still load.

Loading never runs code from the file: torch reads it with ``weights_only=True`` (tensors and plain data only).
Payloads are saved as plain data (`to_plain`: dicts, lists, tuples, str, int, float, bool, None, tensors), so no
type needs allowing; checkpoints written before this hold the numpy random state, whose three numpy types are
the only ones allowed (`LEGACY_TYPES`). Anything else is refused, naming the object; nothing unpickles it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import IO, Any

import numpy as np
import torch

from actionline.errors import CheckpointError
from actionline.io import atomic_write
from actionline.nn.weights.state_dict import load_error_detail, refused_object

FORMAT = "actionline-checkpoint/1"
SEALED = "actionline-checkpoint/2"  # the previous layout: the payload's bytes with their SHA-256, in a dict
DIGEST_ENTRY = ".actionline_sha256"  # the archive entry holding the SHA-256 of all the others
CHUNK = 1 << 20
# numpy's random state (an ndarray of uint32) in checkpoints written before payloads were plain data; numpy 2
# renamed the module, so both names are allowed for the one reconstruction function.
_RECONSTRUCT = np._core.multiarray._reconstruct
LEGACY_TYPES = [
    _RECONSTRUCT,
    (_RECONSTRUCT, "numpy.core.multiarray._reconstruct"),
    np.ndarray,
    np.dtype,
    np.dtypes.UInt32DType,
]
PLAIN = (str, int, float, bool, type(None), torch.Tensor, torch.dtype, torch.device)


def to_plain(obj: Any, where: str = "payload") -> Any:
    """``obj`` as data that loads with ``weights_only=True``: dataclasses become dicts, paths strings, numpy arrays
    tensors and numpy scalars Python numbers; containers keep their kind. Any other type is a `TypeError` (a bug in
    what is saved, caught at save time rather than when a user loads the file)."""
    if isinstance(obj, PLAIN):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_plain(dataclasses.asdict(obj), where)
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj).astype(np.int64 if obj.dtype == np.uint32 else obj.dtype))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {to_plain(k, where): to_plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    raise TypeError(f"checkpoint {where} is a {type(obj).__name__}, which would not load with weights_only=True")


def safe_torch_load(source: str | Path | IO[bytes], path: str | Path) -> Any:
    """``torch.load`` with ``weights_only=True`` (plus `LEGACY_TYPES`): a file that needs any other Python object
    is refused without running it (nothing in actionline unpickles anything else: docs/security.md)."""
    try:
        with torch.serialization.safe_globals(LEGACY_TYPES):
            return torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = refused_object(exc)
        if refused is None:  # a damaged file or not a pickle at all
            raise CheckpointError(f"{path}: cannot read checkpoint ({load_error_detail(exc)})") from None
        raise CheckpointError(
            f"{path}: refused: the file holds a Python object beyond tensors and plain data ({refused}), and "
            "loading it could run code; actionline never writes such a file (docs/security.md)"
        ) from None
    except Exception as exc:  # torch raises many types for truncated/corrupt files
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None


REQUIRED = ("model", "model_config", "classes", "model_state")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write atomically: torch's archive streamed to a temporary file (no copy of the payload in memory), then
    the digest of its entries appended as one more entry, then the rename."""

    payload = to_plain({"format": FORMAT, **payload})

    def write(tmp: str) -> None:
        try:
            torch.save(payload, tmp)
        except RuntimeError as exc:  # how torch reports a failed write (full disk, file-size limit)
            message = str(exc).splitlines()[0][:200]
            raise CheckpointError(
                f"{path}: cannot write the checkpoint (disk full or file too large? {message})"
            ) from None
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
    return safe_torch_load(io.BytesIO(sealed["payload"]), path)


def load_checkpoint(
    path: str | Path, expect_model: str | None = None, expect_classes: Sequence[str] | None = None
) -> dict[str, Any]:
    """Load and check a checkpoint; a mismatch with what the caller expects is a `CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    verify_digest(path)
    ckpt = safe_torch_load(path, path)
    ckpt = unseal(ckpt, path) if is_sealed(ckpt) else ckpt
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an actionline checkpoint")
    missing = [key for key in REQUIRED if key not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: not a complete actionline checkpoint (no {', '.join(missing)})")
    if expect_model is not None and ckpt["model"] != expect_model:
        raise CheckpointError(f"{path}: checkpoint is for model {ckpt['model']!r}, not {expect_model!r}")
    if expect_classes is not None and list(ckpt["classes"]) != list(expect_classes):
        raise CheckpointError(
            f"{path}: checkpoint was trained on {len(ckpt['classes'])} classes that differ from the dataset's "
            f"{len(expect_classes)} (mapping.txt)"
        )
    return ckpt
