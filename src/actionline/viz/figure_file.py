"""Writing a matplotlib figure to the file a user named: its format from the suffix (checked before any work, one
clear error for ``view --out x.xyz``), rendered into a temporary file that replaces the target only when complete
(`actionline.io.atomic_write`: flushed and synced, so a full disk is an error, not a short file)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure

from actionline.errors import DataError
from actionline.io import atomic_write


def image_format(path: str | Path) -> str:
    """The format ``path``'s suffix names (no suffix: png); one matplotlib cannot write is a `DataError`."""
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    formats = FigureCanvasBase.get_supported_filetypes()
    if fmt not in formats:
        raise DataError(f"--out {path}: cannot draw a .{fmt} image; use one of {', '.join(sorted(formats))}")
    return fmt


def save_figure(fig: Figure, path: str | Path, dpi: int) -> Path:
    """Write ``fig`` atomically to ``path`` in the format of its suffix, then close it."""
    path = Path(path)
    try:
        fmt = image_format(path)
        atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi))
    finally:
        plt.close(fig)
    return path
