"""Inline SVG drawings for the HTML report (no plotting library, nothing fetched): timelines with hover text and
seek targets, bar charts, stacked bars, histograms and heatmaps. Every function returns an ``<svg>`` string."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
BACKGROUND = "#e6e6e6"


def class_colours(classes: Sequence[str], background: Sequence[str] = ()) -> dict[str, str]:
    """One colour per class (cycled beyond 20); background classes light grey."""
    colours = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(classes)}
    colours.update(dict.fromkeys(background, BACKGROUND))
    return colours


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f} s"


def timeline(
    rows: Sequence[tuple[str, Sequence[tuple[float, float, str, float | None]]]],
    duration: float,
    colours: dict[str, str],
    video_id: str | None = None,
    width: int = 1000,
    row_height: int = 18,
) -> str:
    """Rows of (name, [(start s, end s, label, score or None)]) on one seconds axis. Every segment has a hover text
    (label, start, end, duration, score) and ``data-t`` (its start) so a click can seek ``video_id``'s player.
    Overlapping segments (detections) are drawn with opacity by score."""
    label_w, scale = 110, (width - 110) / max(duration, 1e-9)
    height = row_height * len(rows) + 16
    seek = f' data-video="{escape(video_id, quote=True)}"' if video_id else ""
    out = [f'<svg class="timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}"{seek}>']
    for r, (name, segments) in enumerate(rows):
        y = r * row_height
        out.append(f'<text x="0" y="{y + row_height - 5}" class="rowname">{escape(name)}</text>')
        for start, end, label, score in segments:
            x, w = label_w + start * scale, max((end - start) * scale, 0.5)
            opacity = "" if score is None else f' fill-opacity="{0.25 + 0.75 * min(max(score, 0.0), 1.0):.2f}"'
            tip = f"{label}: {_fmt(start)} - {_fmt(end)} ({_fmt(end - start)})" + (
                "" if score is None else f", score {score:.3f}"
            )
            out.append(
                f'<rect x="{x:.2f}" y="{y + 2}" width="{w:.2f}" height="{row_height - 4}" '
                f'fill="{colours.get(label, "#999")}"{opacity} data-t="{start:.3f}"><title>{escape(tip)}</title></rect>'
            )
    axis_y = row_height * len(rows) + 12
    for k in range(6):
        t = duration * k / 5
        out.append(f'<text x="{label_w + t * scale:.1f}" y="{axis_y}" class="tick">{t:.1f} s</text>')
    out.append("</svg>")
    return "".join(out)


def bars(labels: Sequence[str], values: Sequence[float], unit: str = "", width: int = 600) -> str:
    """Horizontal bars, one per label (NaN drawn as "n/a")."""
    row, label_w = 18, 170
    top = max([v for v in values if np.isfinite(v)] + [1e-9])
    out = [f'<svg class="bars" viewBox="0 0 {width} {row * len(labels) + 4}" width="{width}" '
           f'height="{row * len(labels) + 4}">']  # fmt: skip
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = i * row
        out.append(f'<text x="0" y="{y + 13}" class="rowname">{escape(label)}</text>')
        if np.isfinite(value):
            w = (width - label_w - 60) * value / top
            out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="#4e79a7">'
                       f"<title>{escape(label)}: {value:.2f}{unit}</title></rect>")  # fmt: skip
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" class="tick">{value:.1f}{unit}</text>')
        else:
            out.append(f'<text x="{label_w}" y="{y + 13}" class="tick">n/a</text>')
    out.append("</svg>")
    return "".join(out)


def stacked_bar(parts: dict[str, float], colours: Sequence[str] = PALETTE, width: int = 600) -> str:
    """One bar split into ``parts`` (their share of the total), with a legend."""
    total = sum(parts.values()) or 1.0
    out = [f'<svg class="stacked" viewBox="0 0 {width} 46" width="{width}" height="46">']
    x = 0.0
    for i, (name, value) in enumerate(parts.items()):
        w = width * value / total
        out.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="20" fill="{colours[i % len(colours)]}">'
                   f"<title>{escape(name)}: {value:g} ({100 * value / total:.1f} %)</title></rect>")  # fmt: skip
        out.append(f'<rect x="{i * width / len(parts):.1f}" y="28" width="10" height="10" '
                   f'fill="{colours[i % len(colours)]}"/>')  # fmt: skip
        out.append(f'<text x="{i * width / len(parts) + 13:.1f}" y="37" class="tick">{escape(name)}</text>')
        x += w
    out.append("</svg>")
    return "".join(out)


def histogram(values: np.ndarray, edges: np.ndarray, width: int = 600, height: int = 120) -> str:
    """Counts of ``values`` in the bins ``edges`` as columns, the edges under them."""
    counts, _ = np.histogram(values, edges)
    top, n = max(int(counts.max()) if len(counts) else 1, 1), len(counts)
    col = width / n
    out = [f'<svg class="histogram" viewBox="0 0 {width} {height + 16}" width="{width}" height="{height + 16}">']
    for i, c in enumerate(counts):
        h = height * c / top
        out.append(f'<rect x="{i * col + 1:.1f}" y="{height - h:.1f}" width="{col - 2:.1f}" height="{h:.1f}" '
                   f'fill="#59a14f"><title>[{edges[i]:g}, {edges[i + 1]:g}): {c}</title></rect>')  # fmt: skip
    for i in range(0, n + 1, max(1, n // 10)):
        out.append(f'<text x="{i * col:.1f}" y="{height + 13}" class="tick">{edges[i]:g}</text>')
    out.append("</svg>")
    return "".join(out)


def heatmap(matrix: np.ndarray, labels: Sequence[str], cell: int = 14) -> str:
    """A row-normalised [true, predicted] matrix; hover gives the count and the row share."""
    n = len(labels)
    label_w = 130
    size = label_w + cell * n
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    out = [f'<svg class="heatmap" viewBox="0 0 {size} {size}" width="{size}" height="{size}">']
    for i, name in enumerate(labels):
        out.append(f'<text x="0" y="{label_w + i * cell + cell - 3}" class="tick">{escape(name[:20])}</text>')
        x = label_w + i * cell + cell - 3
        out.append(f'<text x="{x}" y="{label_w - 2}" class="tick" transform="rotate(-90 {x} {label_w - 2})">'
                   f"{escape(name[:20])}</text>")  # fmt: skip
        for j in range(n):
            v = shares[i, j]
            out.append(f'<rect x="{label_w + j * cell}" y="{label_w + i * cell}" width="{cell}" height="{cell}" '
                       f'fill="rgb({int(255 - 200 * v)},{int(255 - 150 * v)},255)"><title>true {escape(labels[i])}, '
                       f"predicted {escape(labels[j])}: {matrix[i, j]} ({100 * v:.1f} %)</title></rect>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)
