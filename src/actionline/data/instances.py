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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from actionline.errors import DataError
from actionline.io import read_json
from actionline.metrics.detection import Instance, canonical_video_id
from actionline.timeline import Segment, Timeline


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


def _instances(video: str, entries, path: Path) -> list[Instance]:
    out = []
    for k, a in enumerate(entries or []):
        try:
            start, end = (float(x) for x in a["segment"])
            out.append(Instance(video, start, end, str(a["label"]), float(a.get("score", 1.0))))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: video {video}, annotation {k}: malformed ({exc})") from None
    return out


def read_annotations(path: str | Path) -> DetectionAnnotations:
    """Read ActivityNet-style or BSN-style ground truth (format detected from the content)."""
    path = Path(path)
    payload = read_json(path)
    if not isinstance(payload, dict):
        raise DataError(f"{path}: expected a JSON object")
    durations, subsets, instances = {}, {}, []
    if "database" in payload:
        for video, entry in payload["database"].items():
            vid = canonical_video_id(video)
            durations[vid] = float(entry.get("duration", 0.0))
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
            durations[vid] = float(entry.get("duration_second", entry.get("duration", 0.0)))
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
            if "score" not in e:
                raise DataError(f"{path}: video {video}, prediction {k} has no score")
        out += _instances(canonical_video_id(video), entries, path)
    return out


def instances_to_timeline(video: str, instances: Sequence[Instance], duration: float, fps: float) -> Timeline:
    """Instances (seconds) of one video as a `Timeline` with ``fps`` frames per second (rounded to frames)."""
    segments = []
    for i in sorted(instances, key=lambda i: (i.start, i.end)):
        start, end = round(i.start * fps), round(i.end * fps)
        if end > start:
            segments.append(Segment(start, end, i.label, i.score))
    return Timeline(video, max(1, round(duration * fps)), segments, fps)


def timeline_to_instances(timeline: Timeline) -> list[Instance]:
    return [
        Instance(
            timeline.video,
            timeline.seconds(s.start),
            timeline.seconds(s.end),
            s.label,
            1.0 if s.score is None else s.score,
        )
        for s in timeline.segments
    ]
