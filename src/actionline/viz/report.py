"""The page-building parts of ``actionline report`` that every task's section uses: the A/B/... names of the
predictions compared, the scores table, a video's timeline block (player and click-to-seek), confusion summaries."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actionline.timeline import Timeline
from actionline.viz import svg
from actionline.viz.html import Section, note, table

NAMES = "ABCDEFGH"
ZOOM = '<p>zoom <input class="zoom" type="range" min="1" max="8" step="0.5" value="1"></p>'


def names(preds: Sequence[Path]) -> list[str]:
    """``A: <folder>``, ``B: <folder>``, ... for the prediction folders (or files) compared."""
    return [f"{NAMES[i]}: {p.name or p}" for i, p in enumerate(preds)]


def scores_section(labels: Sequence[str], reports: Sequence[Any], keys: Sequence[str]) -> Section:
    """The scores table of ``reports`` (each with ``as_dict`` and ``details``, as `evaluate` gives them)."""
    rows = [[name, *(float(r.as_dict[k]) for k in keys)] for name, r in zip(labels, reports, strict=True)]
    details = " | ".join(reports[0].details)
    return Section("Scores (as `actionline evaluate` gives them)", table(["prediction", *keys], rows) + note(details))


def timeline_block(video: str, rows: list, duration: float, colours: dict, video_file: Path | None, out: Path) -> str:
    """A video's heading, its player when its file is known (click a segment to seek it), its timeline."""
    src = os.path.relpath(video_file.resolve(), out.parent.resolve()) if video_file is not None else None
    player = f'<video id="player-{video}" controls preload="metadata" src="{src}"></video>' if src else ""
    drawing = svg.timeline(rows, duration, colours, video if src else None)
    return f"<h3>{video}</h3>{player}<div class='scroll'>{drawing}</div>"


def seconds(timeline: Timeline, fps: float) -> list[tuple[float, float, str, float | None]]:
    """A timeline's segments in seconds, as `svg.timeline` rows take them."""
    return [(s.start / fps, s.end / fps, s.label, None) for s in timeline.segments]


def top_confusions(cm: np.ndarray, classes: Sequence[str], unit: str) -> str:
    """The confusion heatmap and the ten largest off-diagonal cells."""
    off = cm.copy()
    np.fill_diagonal(off, 0)
    top = np.dstack(np.unravel_index(np.argsort(-off, axis=None)[:10], off.shape))[0]
    pairs = [[classes[a], classes[b], int(off[a, b])] for a, b in top if off[a, b]]
    return svg.heatmap(cm, classes) + table(["true", "predicted", unit], pairs)
