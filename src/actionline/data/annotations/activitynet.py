"""ActivityNet-style JSON (``{"database": {video: {"duration", "subset", "annotations": [{"segment": [s, e],
"label"}]}}}``) through the annotation interface, read with `actionline.data.instances.read_annotations`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from actionline.data.annotations.base import (
    MILLISECONDS,
    AnnotationFormat,
    AnnotationOptions,
    Annotations,
    segments_from_seconds,
    spans_in_seconds,
)
from actionline.data.instances import read_annotations
from actionline.io import atomic_write_text
from actionline.timeline import Timeline


class ActivityNet(AnnotationFormat):
    name = "activitynet"
    suffixes = (".json",)

    def sniff(self, path: Path, head: str) -> bool:
        return '"database"' in head

    def read(self, path: Path, options: AnnotationOptions) -> Annotations:
        annotations = read_annotations(path)
        fps = options.fps or MILLISECONDS
        spans: dict[str, list] = {v: [] for v in annotations.durations}
        for i in annotations.instances:
            spans[i.video].append((i.start, i.end, i.label))
        timelines = []
        for video, duration in annotations.durations.items():
            segments = segments_from_seconds(spans[video], fps, f"{path}: video {video}", duration)
            timelines.append(Timeline(video, round(duration * fps), segments, fps))
        return Annotations(timelines)

    def write(self, timelines: Sequence[Timeline], path: Path, options: AnnotationOptions) -> None:
        atomic_write_text(
            path, json.dumps(activitynet_json(timelines, options.skip_labels), indent=1, ensure_ascii=False)
        )


def activitynet_json(
    timelines: Sequence[Timeline], skip: frozenset[str] = frozenset(), subsets: Mapping[str, str] | None = None
) -> dict:
    """The ``database`` of ``timelines`` (durations and segments in seconds), with each video's subset."""
    database = {}
    for t in timelines:
        database[t.video] = {
            "subset": (subsets or {}).get(t.video, ""),
            "duration": round(t.duration, 6),
            "annotations": [
                {"segment": [round(s, 6), round(e, 6)], "label": label} for s, e, label, _ in spans_in_seconds(t, skip)
            ],
        }
    return {"version": "actionline", "database": database}
