"""One writer per run folder: an exclusive advisory lock (``flock``) on ``<run>/.lock``, held while a process
trains into the folder. A second writer gets a clear error; a killed process holds nothing (the kernel releases
its locks), so a lock never outlives its process and never needs cleaning up."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from actionline.errors import ConfigError

_HELD: dict[Path, int] = {}


def lock_run(run_dir: Path) -> None:
    """Take the lock of ``run_dir`` until `unlock_run` or the end of the process (idempotent)."""
    run_dir = Path(run_dir).resolve()
    if run_dir in _HELD:
        return
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir} is a file, not a run folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(
            f"{run_dir} is in use by another actionline process (wait for it, or choose another --out)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD[run_dir] = fd


def unlock_run(run_dir: Path) -> None:
    fd = _HELD.pop(Path(run_dir).resolve(), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
