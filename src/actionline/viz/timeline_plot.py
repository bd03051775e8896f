"""Colour-bar plots of ground truth and predictions per video: one colour per class, one legend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from actionline.timeline import Timeline
from actionline.viz.figure_file import save_figure


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
    return save_figure(fig, out, dpi=120)


def plot_detections(
    rows: Sequence[tuple[str, float, Sequence, Sequence]],
    classes: Sequence[str],
    out: str | Path,
    top: int = 10,
) -> Path:
    """Per video, ground-truth instances above the ``top`` best predictions on a time axis in seconds.

    ``rows`` holds ``(video, duration_s, ground_truth_instances, predicted_instances)`` (objects with ``start``,
    ``end``, ``label``, ``score``). Overlapping predictions get their own lanes; each shows its score.
    """
    colours = class_colours(classes)
    fig, axes = plt.subplots(len(rows), 1, figsize=(12, 1.4 * len(rows) + 0.9), squeeze=False)
    used: set[str] = set()
    for ax, (video, duration, gts, preds) in zip(axes[:, 0], rows, strict=True):
        best = sorted(preds, key=lambda p: -p.score)[:top]
        lanes = 1 + len(best)
        for g in gts:
            ax.broken_barh([(g.start, g.end - g.start)], (lanes - 1, 0.8), facecolors=colours.get(g.label, "black"))
            used.add(g.label)
        for lane, p in enumerate(best):
            ax.broken_barh(
                [(p.start, p.end - p.start)],
                (lanes - 2 - lane, 0.8),
                facecolors=colours.get(p.label, "black"),
                alpha=0.35 + 0.65 * float(p.score),
            )
            ax.text(p.end, lanes - 2 - lane + 0.4, f" {p.score:.2f}", va="center", fontsize=6)
            used.add(p.label)
        ax.set_xlim(0, duration)
        ax.set_ylim(0, lanes)
        ax.set_yticks([lanes - 0.6, (lanes - 1) / 2])
        ax.set_yticklabels(["GT", f"top {len(best)}"], fontsize=7)
        ax.set_title(video, fontsize=8, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    axes[-1, 0].set_xlabel("seconds")
    handles = [Patch(color=colours[c], label=c) for c in classes if c in used]
    ncol = min(6, max(1, len(handles)))
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, (0.2 * -(-len(handles) // ncol) + 0.5) / fig.get_figheight(), 1, 1))
    return save_figure(fig, out, dpi=120)
