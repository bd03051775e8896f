"""Detection annotations: action instances in seconds, read from the files people have.

- ActivityNet-style ``{"database": {video: {"subset", "duration", "annotations": [{"segment": [s, e],
  "label"}]}}}`` (ActivityNet 1.3 and the ActionFormer THUMOS14 file);
- BSN-style ``{"v_<id>": {"duration_second", "annotations": [...]}}`` with ``video_info_new.csv`` beside it for
  the subsets;
- submissions ``{"results": {video: [{"segment": [s, e], "label", "score"}]}}`` (predictions).

Instances convert losslessly to and from `Timeline` s given the frame rate of the timeline.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from actionline.errors import DataError
from actionline.io import read_json
from actionline.timeline import Instance, canonical_video_id


@dataclass
class DetectionAnnotations:
    """Ground truth of a detection dataset: per video its duration (s), subset and instances."""

    durations: dict[str, float]
    subsets: dict[str, str]
    instances: list[Instance]

    def select(self, subset: str | None) -> DetectionAnnotations:
        """Only the videos of ``subset`` (case-insensitive, e.g. ``validation`` or ``Test``)."""
        if subset is None:
            return self
        wanted = {v for v, s in self.subsets.items() if s.lower() == subset.lower()}
        if not wanted:
            known = sorted({s for s in self.subsets.values()})
            raise DataError(f"no videos in subset {subset!r} (subsets: {', '.join(known) or 'none'})")
        return DetectionAnnotations(
            {v: d for v, d in self.durations.items() if v in wanted},
            {v: s for v, s in self.subsets.items() if v in wanted},
            [i for i in self.instances if i.video in wanted],
        )

    @property
    def classes(self) -> list[str]:
        return sorted({i.label for i in self.instances})

    def within_durations(self) -> tuple[DetectionAnnotations, list[str]]:
        """The instances clipped to their video's duration, and the videos that had instances past their end,
        sorted. An instance that starts after the end becomes an empty one at the end: no clip trains on it and,
        as before, no prediction inside the video matches it, so a score computed from these instances equals
        the one from the file (the reference scripts keep such instances as misses). Videos of unknown duration
        (0) are left as they are."""
        kept, cut = [], set()
        for inst in self.instances:
            duration = self.durations[inst.video]
            if duration <= 0 or inst.end <= duration:
                kept.append(inst)
                continue
            cut.add(inst.video)
            kept.append(replace(inst, start=min(inst.start, duration), end=duration))
        return DetectionAnnotations(self.durations, self.subsets, kept), sorted(cut)


def _number(value, what: str) -> float:
    """A finite number (bools and strings are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _duration(entry, keys: tuple[str, ...], path: Path, video: str) -> float:
    """A video's duration in seconds: a finite number >= 0 under the first of ``keys`` present (0 when none is)."""
    if not isinstance(entry, dict):
        raise DataError(f"{path}: video {video}: expected an object, got {type(entry).__name__}")
    value = next((entry[k] for k in keys if k in entry), 0.0)
    try:
        duration = _number(value, "duration")
    except ValueError as exc:
        raise DataError(f"{path}: video {video}: {exc}") from None
    if duration < 0:
        raise DataError(f"{path}: video {video}: negative duration {duration}")
    return duration


def _instances(video: str, entries, path: Path) -> list[Instance]:
    """Validated instances: ``segment`` two finite numbers with 0 <= start <= end, a string label, a finite
    score (predictions)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise DataError(f"{path}: video {video}: annotations must be a list, got {type(entries).__name__}")
    out = []
    for k, a in enumerate(entries):
        try:
            if not isinstance(a, dict):
                raise ValueError(f"expected an object, got {type(a).__name__}")
            segment = a["segment"]
            if not isinstance(segment, (list, tuple)) or len(segment) != 2:
                raise ValueError(f"segment must be [start, end], got {segment!r}")
            start, end = (_number(x, "segment time") for x in segment)
            if start < 0 or end < start:
                raise ValueError(f"segment [{start}, {end}] must have 0 <= start <= end")
            if not isinstance(a["label"], (str, int)) or isinstance(a["label"], bool):
                raise ValueError(f"label must be a string, got {a['label']!r}")
            out.append(Instance(video, start, end, str(a["label"]), _number(a.get("score", 1.0), "score")))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: video {video}, entry {k}: malformed ({exc})") from None
    return out


def read_annotations(path: str | Path) -> DetectionAnnotations:
    """Read ActivityNet-style or BSN-style ground truth (format detected from the content)."""
    path = Path(path)
    payload = read_json(path)
    if not isinstance(payload, dict):
        raise DataError(f"{path}: expected a JSON object")
    durations, subsets, instances = {}, {}, []
    if "database" in payload:
        if not isinstance(payload["database"], dict):
            raise DataError(f"{path}: 'database' must map video ids to objects")
        for video, entry in payload["database"].items():
            vid = canonical_video_id(video)
            durations[vid] = _duration(entry, ("duration",), path, video)
            subsets[vid] = str(entry.get("subset", ""))
            instances += _instances(vid, entry.get("annotations"), path)
    elif payload and all(isinstance(v, dict) and "annotations" in v for v in payload.values()):
        info = path.parent / "video_info_new.csv"
        csv_subsets = {}
        if info.is_file():
            with open(info, newline="") as f:
                csv_subsets = {canonical_video_id(r["video"]): r["subset"] for r in csv.DictReader(f)}
        for video, entry in payload.items():
            vid = canonical_video_id(video)
            durations[vid] = _duration(entry, ("duration_second", "duration"), path, video)
            subsets[vid] = csv_subsets.get(vid, "")
            instances += _instances(vid, entry["annotations"], path)
    else:
        raise DataError(f"{path}: neither an ActivityNet-style ('database') nor a BSN-style annotation file")
    if not durations:
        raise DataError(f"{path}: no videos")
    return DetectionAnnotations(durations, subsets, instances)


def read_submission(path: str | Path) -> list[Instance]:
    """Predictions in the ActivityNet submission format."""
    path = Path(path)
    payload = read_json(path)
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), dict):
        raise DataError(f"{path}: not a submission file (expected {{'results': {{video: [...]}}}})")
    out = []
    for video, entries in payload["results"].items():
        if not isinstance(entries, list):
            raise DataError(f"{path}: results for {video} must be a list")
        for k, e in enumerate(entries):
            if not isinstance(e, dict) or "score" not in e:
                raise DataError(f"{path}: video {video}, prediction {k} is not an object with a score")
        out += _instances(canonical_video_id(video), entries, path)
    return out


# --- feature timing -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureTiming:
    """How feature index maps to seconds: feature ``i`` covers video frames ``[i*stride, i*stride + window)`` at
    ``fps``, and frame 0 is at ``offset`` seconds. Stored with the features (``features/<video>.json``)."""

    fps: float
    stride: int = 1
    window: int = 1
    offset: float = 0.0

    def center(self, index: float) -> float:
        """Seconds at the centre of feature ``index`` (fractional indices interpolate)."""
        return self.offset + (index * self.stride + self.window / 2.0) / self.fps

    def index(self, seconds: float) -> float:
        """Inverse of `center`: the (fractional) feature index centred at ``seconds``."""
        return ((seconds - self.offset) * self.fps - self.window / 2.0) / self.stride

    def validate(self, num_features: int, duration: float, video: str = "", tolerance: float = 0.1) -> None:
        """The features must span the video: ``num_features`` within ``tolerance`` (relative, at least 2 features)
        of ``duration * fps / stride``."""
        if self.fps <= 0 or self.stride <= 0 or self.window <= 0:
            raise DataError(f"video {video}: timing needs positive fps, stride and window, got {self}")
        expected = duration * self.fps / self.stride
        if abs(num_features - expected) > max(2.0, tolerance * expected):
            raise DataError(
                f"video {video}: {num_features} features, but a {duration:.2f} s video at {self.fps:g} fps "
                f"with stride {self.stride} should have about {expected:.0f}"
            )


def resample_features(features: np.ndarray, num: int) -> np.ndarray:
    """Linear interpolation of features [T, D] to ``num`` equidistant snippets over the whole video (the
    fixed-length protocol of BMN / G-TAD / GSMT / TAGS); endpoints map to endpoints."""
    features = np.asarray(features)
    if features.ndim != 2 or len(features) == 0:
        raise DataError(f"features must be a non-empty 2-D array [T, D], got shape {features.shape}")
    if len(features) == 1:
        return np.repeat(features, num, axis=0)
    pos = np.linspace(0.0, len(features) - 1, num)
    lo = np.floor(pos).astype(np.int64).clip(0, len(features) - 2)
    w = (pos - lo)[:, None]
    return ((1 - w) * features[lo] + w * features[lo + 1]).astype(features.dtype, copy=False)


def sliding_windows(num_features: int, window: int, overlap: float = 0.5) -> list[tuple[int, int]]:
    """Windows ``[start, end)`` of ``window`` features with the given overlap, the last one ending at the video end
    (for long THUMOS-style videos); one window when the video is shorter."""
    if not 0 <= overlap < 1:
        raise DataError(f"window overlap must be in [0, 1), got {overlap}")
    if num_features <= window:
        return [(0, num_features)]
    step = max(1, round(window * (1 - overlap)))
    starts = [*range(0, num_features - window, step), num_features - window]
    return [(s, s + window) for s in sorted(set(starts))]
