"""Label Studio video timeline labels: the JSON export of a project (tasks with ``annotations``; also the
JSON-MIN export, one region list per task), and the pre-annotation file it imports (tasks with ``predictions``).

A task's ``data`` holds the video (``data.video``) and, when the labeling config reads it
(``<Video name="video" value="$video" frameRate="$fps"/>``), its frame rate (``data.fps``). A
``timelinelabels`` result holds ``value.ranges`` (``start``/``end``: the first and last frame, counted from 1,
both included, as Label Studio's own ML backend reads them) and ``value.timelinelabels`` (the labels). Writing
gives the pre-annotation file: one task per video with one prediction whose results use the control names of the
video timeline segmentation template (``videoLabels`` on ``video``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from actionline.data.annotations.base import (
    AnnotationFormat,
    AnnotationOptions,
    Annotations,
    number,
    read_text,
    regrid,
    timeline_of,
    video_id,
)
from actionline.data.video import VIDEO_SUFFIXES
from actionline.errors import DataError
from actionline.io import atomic_write_text
from actionline.timeline import Segment, Timeline

FROM_NAME = "videoLabels"
TO_NAME = "video"
FPS_KEYS = ("fps", "frameRate", "frame_rate", "framerate")


class LabelStudio(AnnotationFormat):
    name = "labelstudio"
    suffixes = (".json",)

    def sniff(self, path: Path, head: str) -> bool:
        return (head.lstrip().startswith("[") and '"data"' in head) or '"timelinelabels"' in head

    def read(self, path: Path, options: AnnotationOptions) -> Annotations:
        try:
            payload = json.loads(read_text(path))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
        tasks = [payload] if isinstance(payload, dict) else payload
        if not isinstance(tasks, list):
            raise DataError(f"{path}: expected a list of Label Studio tasks")
        timelines, skipped, owner = [], [], {}
        for k, task in enumerate(tasks):
            where = f"{path}: task {task.get('id', k) if isinstance(task, dict) else k}"
            timeline = _read_task(task, where, options, skipped)
            if timeline is None:
                continue
            if timeline.video in owner:
                raise DataError(
                    f"{where}: video {timeline.video!r} is annotated again (first in {owner[timeline.video]})"
                )
            owner[timeline.video] = where.split(": ", 1)[1]
            timelines.append(timeline)
        return Annotations(timelines, skipped)

    def write(self, timelines: Sequence[Timeline], path: Path, options: AnnotationOptions) -> None:
        tasks = [_task_of(regrid(t, options.fps), options) for t in timelines]
        atomic_write_text(path, json.dumps(tasks, indent=1, ensure_ascii=False))


def _media(data: dict, where: str) -> str:
    media = data.get("video")
    if media is None:
        media = next((v for v in data.values() if isinstance(v, str) and v.lower().endswith(VIDEO_SUFFIXES)), None)
    if not isinstance(media, str) or not media:
        raise DataError(f"{where}: no video in the task's data (expected data.video)")
    return media


def _chosen_results(task: dict, where: str, options: AnnotationOptions) -> list | None:
    """The results of the task's one annotation (or, without any, its one prediction); None when it has neither."""
    for key in ("annotations", "predictions"):
        entries = task.get(key) or []
        if not isinstance(entries, list):
            raise DataError(f"{where}: '{key}' must be a list")
        entries = [e for e in entries if isinstance(e, dict) and not e.get("was_cancelled")]
        if len(entries) > 1 and not options.latest:
            ids = ", ".join(str(e.get("id", "?")) for e in entries)
            raise DataError(f"{where}: {len(entries)} {key} ({ids}); keep one or pass --latest to use the last updated")
        if entries:
            chosen = max(
                entries,
                key=lambda e: (str(e.get("updated_at", "")), str(e.get("created_at", "")), str(e.get("id", ""))),
            )
            results = chosen.get("result")
            if not isinstance(results, list):
                raise DataError(f"{where}: {key[:-1]} {chosen.get('id', '')} has no 'result' list")
            return results
    return None


def _min_task(task: dict) -> dict | None:
    """A task of the JSON-MIN export (data fields at the top, the control's regions under its name) in the full
    export's shape; None when it is not one."""
    regions = [
        k
        for k, v in task.items()
        if isinstance(v, list) and v and all(isinstance(r, dict) and "ranges" in r for r in v)
    ]
    if len(regions) != 1:
        return None
    result = [{"type": "timelinelabels", "value": r} for r in task[regions[0]]]
    data = {k: v for k, v in task.items() if k != regions[0]}
    return {"id": task.get("id"), "data": data, "annotations": [{"id": task.get("annotation_id"), "result": result}]}


def _read_task(task, where: str, options: AnnotationOptions, skipped: list[str]) -> Timeline | None:
    if isinstance(task, dict) and "data" not in task:
        task = _min_task(task) or task
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise DataError(f"{where}: not a Label Studio task (no 'data' object)")
    data = task["data"]
    video = video_id(_media(data, where))
    fps = next((number(data[k], f"{where}: data.{k}") for k in FPS_KEYS if k in data), options.fps)
    if fps is not None and fps <= 0:
        raise DataError(f"{where}: frame rate must be positive, got {fps}")
    num_frames = (
        round(number(data["duration"], f"{where}: data.duration") * fps) if "duration" in data and fps else None
    )
    results = _chosen_results(task, where, options)
    if results is None:
        skipped.append(f"{where} (video {video}): no annotation")
        return None
    segments, other = [], 0
    for r, result in enumerate(results):
        if not isinstance(result, dict) or result.get("type") != "timelinelabels":
            other += 1
            continue
        segments += _segments(result, f"{where}, result {result.get('id', r)}", num_frames)
    if other:
        skipped.append(f"{where} (video {video}): {other} result(s) that are not timelinelabels ignored")
    return timeline_of(video, sorted(segments, key=lambda s: (s.start, s.end, s.label)), fps, num_frames)


def _segments(result: dict, where: str, num_frames: int | None) -> list[Segment]:
    value = result.get("value")
    if not isinstance(value, dict) or not isinstance(value.get("ranges"), list):
        raise DataError(f"{where}: no value.ranges")
    labels = value.get("timelinelabels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
        raise DataError(f"{where}: value.timelinelabels must be a non-empty list of labels, got {labels!r}")
    out = []
    for rng in value["ranges"]:
        if not isinstance(rng, dict):
            raise DataError(f"{where}: a range must be an object with start and end, got {rng!r}")
        start, end = (number(rng.get(k), f"{where}: range {k}") for k in ("start", "end"))
        if start != int(start) or end != int(end) or start < 1 or end < start:
            raise DataError(f"{where}: range [{start:g}, {end:g}] must be whole frames with 1 <= start <= end")
        if num_frames is not None and end > num_frames:
            raise DataError(f"{where}: range [{start:g}, {end:g}] goes past the video's last frame ({num_frames})")
        out += [Segment(int(start) - 1, int(end), label, result.get("score")) for label in labels]
    return out


def _task_of(timeline: Timeline, options: AnnotationOptions) -> dict:
    results = []
    for i, s in enumerate(t for t in timeline.segments if t.label not in options.skip_labels):
        result = {
            "id": f"{timeline.video}-{i}",
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "timelinelabels",
            "origin": "prediction",
            "value": {"ranges": [{"start": s.start + 1, "end": s.end}], "timelinelabels": [s.label]},
        }
        if s.score is not None:
            result["score"] = s.score
        results.append(result)
    scores = [r["score"] for r in results if "score" in r]
    prediction = {"model_version": "actionline", "result": results}
    if scores:
        prediction["score"] = sum(scores) / len(scores)
    data = {"video": options.media_of(timeline.video)}
    if timeline.fps:
        data.update(fps=timeline.fps, duration=timeline.duration)
    return {"data": data, "predictions": [prediction]}
