"""Colour-bar plots of ground truth and predictions per video: one colour per class, one legend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from actionline.io import atomic_write
from actionline.timeline import Timeline


def class_colours(classes: Sequence[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab20" if len(classes) <= 20 else "gist_ncar")
    n = max(len(classes), 1)
    return {c: cmap(i % 20) if len(classes) <= 20 else cmap(i / n) for i, c in enumerate(classes)}


def plot_timelines(
    rows: Sequence[tuple[str, Timeline | None, Timeline]],
    classes: Sequence[str],
    out: str | Path,
    background: Sequence[str] = (),
) -> Path:
    """Draw, per video, a ground-truth bar (when given) above the prediction bar; write a PNG atomically.

    ``rows`` holds ``(video, ground_truth_or_None, prediction)``; background classes are drawn light grey.
    """
    colours = class_colours(classes)
    for bg in background:
        colours[bg] = (0.9, 0.9, 0.9, 1.0)
    n_bars = sum(1 + (gt is not None) for _, gt, _ in rows)
    n_legend_rows = -(-len(classes) // 6)
    fig, axes = plt.subplots(n_bars, 1, figsize=(12, 0.45 * n_bars + 0.2 * n_legend_rows + 0.9), squeeze=False)
    i = 0
    used: set[str] = set()
    for video, gt, pred in rows:
        for label, tl in ((f"{video}  GT", gt), (f"{video}  pred", pred)):
            if tl is None:
                continue
            ax = axes[i, 0]
            i += 1
            for s in tl.segments:
                ax.broken_barh([(s.start, s.length)], (0, 1), facecolors=colours.get(s.label, "black"))
                used.add(s.label)
            ax.set_xlim(0, tl.num_frames)
            ax.set_ylim(0, 1)
            ax.set_yticks([])
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
            ax.tick_params(axis="x", labelsize=7, labelbottom=label.endswith("pred"))
            for side in ("top", "right", "left"):
                ax.spines[side].set_visible(False)
    axes[-1, 0].set_xlabel("frame")
    handles = [Patch(color=colours[c], label=c) for c in classes if c in used]
    ncol = min(6, max(1, len(handles)))
    legend_inches = 0.2 * -(-len(handles) // ncol) + 0.5
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, 1))
    out = Path(out)
    atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=120, format=out.suffix.lstrip(".") or "png"))
    plt.close(fig)
    return out
