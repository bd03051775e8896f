"""Reading and writing segmentation predictions in the formats people have.

- MS-TCN files: one file per video named like the ground truth without ``.txt``; line 1 is a header, line 2 the
  frame labels separated by spaces (what the MS-TCN/ASFormer code writes);
- one-label-per-line ``<video>.txt`` files (the ``groundTruth`` format);
- an actionline ``timelines.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from actionline.errors import DataError
from actionline.io import atomic_write_text
from actionline.timeline import load_timelines

MSTCN_HEADER = "### Frame level recognition: ###"


def write_mstcn_prediction(path: Path, names: Sequence[str]) -> None:
    """One MS-TCN prediction file: the header line, then the frame labels separated by spaces."""
    atomic_write_text(path, f"{MSTCN_HEADER}\n{' '.join(names)}\n")


def _parse_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text file ({exc})") from exc
    lines = [line.strip() for line in text.splitlines()]
    if lines and lines[0].startswith("#"):
        labels = lines[1].split() if len(lines) > 1 else []
    else:
        labels = [line for line in lines if line]
    if not labels:
        raise DataError(f"{path}: prediction file holds no labels")
    return labels


def read_predictions(pred: str | Path, videos: Sequence[str]) -> dict[str, list[str]]:
    """Frame labels (class names) per video, for every video in ``videos``; a missing one is an error."""
    pred = Path(pred)
    if pred.is_file() and pred.suffix == ".json":
        timelines = {t.video: t for t in load_timelines(pred)}
        out = {}
        for v in videos:
            if v not in timelines:
                raise DataError(f"{pred}: no timeline for video {v}")
            t = timelines[v]
            labels = [""] * t.num_frames
            for s in t.segments:
                labels[s.start : s.end] = [s.label] * s.length
            if any(lab == "" for lab in labels):
                raise DataError(f"{pred}: timeline of {v} does not cover every frame")
            out[v] = labels
        return out
    if not pred.is_dir():
        raise DataError(f"{pred}: prediction folder (or timelines.json) not found")
    out = {}
    for v in videos:
        for candidate in (pred / v, pred / f"{v}.txt"):
            if candidate.is_file():
                out[v] = _parse_file(candidate)
                break
        else:
            raise DataError(f"{pred}: no prediction for video {v} (looked for '{v}' and '{v}.txt')")
    return out


def label_indices(
    preds: Mapping[str, Sequence[str]], videos: Sequence[str], class_index: Mapping[str, int]
) -> list[np.ndarray]:
    """Frame labels (names) of ``videos`` as class indices; a name outside ``class_index`` is a `DataError`."""
    out = []
    for v in videos:
        try:
            out.append(np.fromiter((class_index[x] for x in preds[v]), dtype=np.int64, count=len(preds[v])))
        except KeyError as exc:
            raise DataError(f"prediction of {v} uses label {exc.args[0]!r}, which is not in mapping.txt") from None
    return out
