"""Small file helpers: atomic writes (temp file + rename), JSON and feature-matrix reading with clear errors."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from actionline.errors import DataError


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then rename the temp file onto ``path``: readers never see a partial file.

    The temp file is flushed to the disk (``fsync``) before the rename, so a full disk or a file-size limit is an
    `OSError` naming ``path`` rather than a file that is silently short. ``path`` must be a regular file (or not
    exist): a device, pipe or socket would be replaced by the rename."""
    path = Path(path)
    if path.exists() and not path.is_file():
        kind = "folder" if path.is_dir() else "device, pipe or socket"
        raise DataError(f"{path}: is a {kind}, not a file: name a regular file to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        _sync(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets the mode any new file would
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        if exc.filename in (None, tmp):  # name the file the user asked for, not the temporary one
            raise OSError(exc.errno, f"cannot write ({exc.strerror or exc})", str(path)) from None
        raise
    except BaseException:
        _discard(tmp)
        raise


def _sync(tmp: str) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(tmp: str) -> None:
    if os.path.exists(tmp):
        os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    def _write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:  # closing flushes; its error propagates
            f.write(text)

    atomic_write(path, _write)


def relative_entry(entry: str, where: str) -> str:
    """``entry`` of an index or list file (a video name or path, ``/`` or ``\\`` separated) as a relative POSIX path
    that stays inside the dataset: an absolute path, a ``..`` part or a NUL byte is a `DataError` naming ``where``
    (the dataset's files are read and predictions written under such names)."""
    rel = entry.strip().replace("\\", "/")
    parts = rel.split("/")
    if not rel or rel.startswith("/") or ".." in parts or "\0" in rel or (len(parts[0]) == 2 and parts[0][1] == ":"):
        raise DataError(f"{where}: {entry!r} points outside the dataset (absolute or with '..'): list paths inside it")
    return rel


def file_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc


def read_matrix(path: str | os.PathLike, layout: str) -> np.ndarray:
    """A non-empty, finite, numeric 2-D ``.npy`` array as float32 (``layout`` names its axes in errors,
    e.g. ``[D, T]``); anything else is a `DataError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: feature file not found")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read .npy ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.ndim != 2:
        raise DataError(f"{path}: features must be a 2-D array {layout}, got {getattr(arr, 'shape', type(arr))}")
    if arr.size == 0:
        raise DataError(f"{path}: features are empty (shape {arr.shape})")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DataError(f"{path}: features must be real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise DataError(
            f"{path}: features contain NaN or inf (first at index {tuple(int(i) for i in bad)} of {layout})"
        )
    return arr


def _fresh_temp_dir(parent: Path, prefix: str) -> Path:
    """A new temporary folder ``<prefix>*.tmp`` in ``parent`` with the mode any new folder would get, after removing
    those a killed run left there."""
    for stale in parent.glob(f"{prefix}*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


@contextmanager
def staged_files(folder: str | os.PathLike) -> Iterator[Path]:
    """All-or-nothing outputs inside a folder that keeps other files (``predict --video``'s features): the caller
    writes into a temporary folder inside ``folder``; when the block completes each file or folder written there
    replaces its namesake in ``folder`` by a rename; on failure (or a kill) none does."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"--out {folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = _fresh_temp_dir(folder, ".staged.")
    try:
        yield tmp
        for item in sorted(tmp.iterdir()):
            target = folder / item.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def staged_folder(path: str | os.PathLike, marker: str) -> Iterator[Path]:
    """All-or-nothing output folder: the caller writes into a temporary sibling, which replaces ``path`` only when
    the block completes; on failure (or a kill) ``path`` is left as it was. An existing ``path`` must be an output
    of the same kind (holding ``marker``) or empty, so that no unrelated file is ever replaced."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise DataError(f"--out {path} is a file, not a folder")
        if any(path.iterdir()) and not (path / marker).exists():
            raise DataError(f"--out {path} holds other files (no {marker}): refusing to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _fresh_temp_dir(path.parent, f".{path.name}.")
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        old = path.parent / f".{path.name}.old.tmp"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
