"""The HVU dataset format read unchanged (dissertation ch. 5; Diba et al., ECCV 2020), with a local index from
YouTube ids to video files.

Files in ``root``:
- ``HVU_Tags_Categories_V1.0.csv``: ``Tag,Category`` (categories lowercase; six of them);
- ``HVU_Train_V1.0.csv``, ``HVU_Val_V1.0.csv``: ``Tags,youtube_id,time_start,time_end`` (``Tags`` separated by ``|``);
- the videos: ``index.csv`` (``youtube_id,path``, a path relative to ``root``) when present, else ``videos/`` holding
  either trimmed clips named ``<id>_<start:06d>_<end:06d>.<ext>`` (the downloaders' naming; the whole file is the
  clip) or full videos ``<id>.<ext>`` (the clip is cut at ``[time_start, time_end)``).

Tags are ordered by category (mmaction2's order: action, attribute, concept, event, object, scene) and, within a
category, as in the categories file. A tag missing from the categories file is an error naming the line; clips
with an empty tag list or without a video file are skipped and counted (`HVUData.skipped`); a time range outside
its video is found when decoding and skipped with the undecodable clips.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import numpy as np

from actionline.data.clips import LabelledVideo
from actionline.data.layout import read_text
from actionline.data.video import VIDEO_SUFFIXES
from actionline.errors import DataError
from actionline.io import relative_entry

CATEGORIES = ("action", "attribute", "concept", "event", "object", "scene")
CATEGORY_FILE = "HVU_Tags_Categories_V1.0.csv"
PART_FILES = {"train": "HVU_Train_V1.0.csv", "val": "HVU_Val_V1.0.csv"}


def _rows(path: Path, columns: set[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"{path}: not found")
    rows = list(csv.DictReader(io.StringIO(read_text(path))))
    if not rows or columns - set(rows[0]):
        raise DataError(f"{path}: expected the columns {', '.join(sorted(columns))}")
    return rows


class HVUData:
    """An HVU-format dataset folder; ``clips(part)`` gives the labelled clips (multi-hot over ``tags``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not (self.root / CATEGORY_FILE).is_file():
            raise DataError(f"{self.root}: not an HVU folder (no {CATEGORY_FILE})")
        by_category: dict[str, list[str]] = defaultdict(list)
        for lineno, row in enumerate(_rows(self.root / CATEGORY_FILE, {"Tag", "Category"}), 2):
            category = row["Category"].strip().lower()
            if category not in CATEGORIES:
                raise DataError(f"{self.root / CATEGORY_FILE}:{lineno}: unknown category {row['Category']!r}")
            if any(row["Tag"] in tags for tags in by_category.values()):
                raise DataError(f"{self.root / CATEGORY_FILE}:{lineno}: tag {row['Tag']!r} listed twice")
            by_category[category].append(row["Tag"])
        self.categories = [c for c in CATEGORIES if by_category[c]]
        self.tags = [t for c in self.categories for t in by_category[c]]
        self.tag_category = [self.categories.index(c) for c in self.categories for _ in by_category[c]]
        self.tag_index = {t: i for i, t in enumerate(self.tags)}
        self.skipped: dict[str, list[str]] = defaultdict(list)
        self._index = self._video_index()

    def _video_index(self) -> dict[str, Path]:
        listed = self.root / "index.csv"
        if listed.is_file():
            rows = _rows(listed, {"youtube_id", "path"})
            return {
                r["youtube_id"]: self.root / relative_entry(r["path"], f"{listed}:{n}") for n, r in enumerate(rows, 2)
            }
        folder = self.root / "videos"
        if not folder.is_dir():
            raise DataError(f"{self.root}: no index.csv and no videos/ folder")
        return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES}

    def parts(self) -> list[str]:
        return [p for p, name in PART_FILES.items() if (self.root / name).is_file()]

    def clips(self, part: str) -> list[LabelledVideo]:
        """The clips of ``part`` (train / val) that have tags and a video file."""
        if part not in PART_FILES:
            raise DataError(f"HVU parts are train and val, got {part!r}")
        path = self.root / PART_FILES[part]
        out, seen = [], {}
        for lineno, row in enumerate(_rows(path, {"Tags", "youtube_id", "time_start", "time_end"}), 2):
            where = f"{path}:{lineno}"
            vid = row["youtube_id"]
            try:
                start, end = float(row["time_start"]), float(row["time_end"])
            except ValueError:
                raise DataError(f"{where}: time_start / time_end must be numbers") from None
            if not 0 <= start < end:
                raise DataError(f"{where}: the time range [{start}, {end}) is empty or negative")
            tags = [t for t in row["Tags"].split("|") if t.strip()]
            unknown = [t for t in tags if t not in self.tag_index]
            if unknown:
                raise DataError(f"{where}: tag {unknown[0]!r} is not in {CATEGORY_FILE}")
            if not tags:
                self.skipped["no tags"].append(vid)
                continue
            trimmed = self._index.get(f"{vid}_{int(start):06d}_{int(end):06d}")
            full = self._index.get(vid)
            if trimmed is None and full is None:
                self.skipped["no video file"].append(vid)
                continue
            target = np.zeros(len(self.tags), dtype=np.float32)
            target[[self.tag_index[t] for t in tags]] = 1.0
            clip_id = f"{vid}_{int(start):06d}_{int(end):06d}"
            if clip_id in seen:
                raise DataError(f"{where}: clip {clip_id} is listed twice (line {seen[clip_id]} too)")
            seen[clip_id] = lineno
            if trimmed is not None:
                out.append(LabelledVideo(clip_id, trimmed, target))
            else:
                out.append(LabelledVideo(clip_id, full, target, start, end))
        if not out:
            raise DataError(f"{path}: no usable clip (skipped: {dict((k, len(v)) for k, v in self.skipped.items())})")
        return out
