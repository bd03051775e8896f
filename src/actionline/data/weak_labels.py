"""Weak labels for SCT (action sets) and MuCon (transcripts), derived from dense ground truth or read from files.

Files live beside an MS-TCN dataset: ``transcripts/<video>.txt`` (the ordered segment labels, one name per line)
and ``sets/<video>.txt`` (the distinct labels, one per line, sorted by class index). Names are checked against
``mapping.txt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from actionline.data.layout import SegmentationData, write_labels
from actionline.errors import DataError
from actionline.timeline import action_set_of, transcript_of

KINDS = {"transcripts": transcript_of, "sets": action_set_of}


def write_weak_labels(data: SegmentationData, kind: str, videos: Sequence[str] | None = None) -> Path:
    """Derive ``kind`` (transcripts or sets) from the ground truth of ``videos`` (default: all) and write them."""
    if kind not in KINDS:
        raise DataError(f"weak label kind must be one of {', '.join(KINDS)}, got {kind!r}")
    folder = data.root / kind
    names = videos if videos is not None else sorted(p.stem for p in (data.root / "groundTruth").glob("*.txt"))
    for video in names:
        write_labels(folder / f"{video}.txt", [data.classes[i] for i in KINDS[kind](data.labels(video))])
    return folder


def read_weak_labels(data: SegmentationData, kind: str, video: str) -> np.ndarray:
    """Class ids of ``video``'s transcript or set from ``<root>/<kind>/<video>.txt``."""
    path = data.root / kind / f"{video}.txt"
    if not path.is_file():
        raise DataError(f"{path}: {kind[:-1]} file not found (derive them with write_weak_labels)")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise DataError(f"{path}: empty {kind[:-1]}")
    unknown = [n for n in names if n not in data.class_index]
    if unknown:
        raise DataError(f"{path}: unknown class name {unknown[0]!r} (not in mapping.txt)")
    ids = np.array([data.class_index[n] for n in names], dtype=np.int64)
    if kind == "transcripts" and (ids[1:] == ids[:-1]).any():
        raise DataError(f"{path}: a transcript cannot repeat a label in consecutive segments")
    if kind == "sets" and len(np.unique(ids)) != len(ids):
        raise DataError(f"{path}: a set lists a label twice")
    return ids
