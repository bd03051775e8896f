"""CVAT "for video 1.1" XML (the ``annotations.xml`` of a task export; one video per file).

Temporal labels are frame-level ``<tag frame="F" label="L">`` elements and ``<track label="L">`` elements whose
shapes switch the track on (``outside="0"``) and off (``outside="1"``) at key frames; a track that is never
switched off lasts to the task's ``stop_frame``. Runs of consecutive frames with one label become one segment.
The file holds no frame rate: it comes from the video (or ``options.fps``). Writing gives one tag per labelled
frame, which CVAT imports as frame tags.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from actionline.data.annotations.base import (
    AnnotationFormat,
    AnnotationOptions,
    Annotations,
    read_xml,
    regrid,
    video_id,
)
from actionline.errors import DataError
from actionline.io import atomic_write
from actionline.timeline import Segment, Timeline, runs


class Cvat(AnnotationFormat):
    name = "cvat"
    suffixes = (".xml",)
    per_video = True

    def sniff(self, path: Path, head: str) -> bool:
        return "<annotations" in head

    def read(self, path: Path, options: AnnotationOptions) -> Annotations:
        root = read_xml(path, "annotations", "CVAT")
        task = root.find("meta/task") if root.find("meta/task") is not None else root.find("meta/job")
        if task is None:
            what = "a project export" if root.find("meta/project") is not None else "a file without <meta><task>"
            raise DataError(f"{path}: {what}; export the task (CVAT for video 1.1) instead")
        start, stop = _int(task, "start_frame", path, 0), _int(task, "stop_frame", path, None)
        size = _int(task, "size", path, None)
        step = (task.findtext("frame_filter") or "").strip()
        if start != 0 or step not in ("", "step=1"):
            raise DataError(
                f"{path}: the task covers part of the video (start_frame {start}, frame_filter {step!r}); "
                "only whole-video tasks are read"
            )
        num_frames = stop + 1 if stop is not None else size
        if num_frames is None or num_frames < 0:
            raise DataError(f"{path}: <meta><task> has neither stop_frame nor size")
        spans, skipped = [], []
        for k, tag in enumerate(root.iter("tag")):
            frame = _frame(tag, f"<tag> {k + 1}", path, num_frames)
            spans.append((frame, frame + 1, _label(tag, f"<tag> {k + 1}", path)))
        for k, track in enumerate(root.findall("track")):
            where = f"<track id={track.get('id', k)!r}>"
            label = _label(track, where, path)
            shapes = sorted(
                (_frame(s, where, path, num_frames), s.get("outside", "0") == "1")
                for s in track
                if s.get("frame") is not None
            )
            if not shapes:
                skipped.append(f"{path}: {where} has no shapes")
            for (frame, outside), nxt in zip(shapes, [*shapes[1:], (num_frames, True)], strict=True):
                if not outside and nxt[0] > frame:
                    spans.append((frame, nxt[0], label))
        source = (task.findtext("source") or "").strip() or (task.findtext("name") or "").strip()
        video = video_id(source) if source else path.stem
        return Annotations([Timeline(video, num_frames, _merge(spans, num_frames), options.fps)], skipped)

    def write(self, timelines: Sequence[Timeline], path: Path, options: AnnotationOptions) -> None:
        (timeline,) = timelines
        timeline = regrid(timeline, options.fps)
        root = ET.Element("annotations")
        ET.SubElement(root, "version").text = "1.1"
        task = ET.SubElement(ET.SubElement(root, "meta"), "task")
        n = timeline.num_frames
        labels = sorted({s.label for s in timeline.segments if s.label not in options.skip_labels})
        for key, value in (
            ("name", timeline.video),
            ("size", n),
            ("mode", "interpolation"),
            ("overlap", 0),
            ("start_frame", 0),
            ("stop_frame", n - 1),
            ("frame_filter", ""),
        ):
            ET.SubElement(task, key).text = str(value)
        label_list = ET.SubElement(task, "labels")
        for name in labels:
            label = ET.SubElement(label_list, "label")
            ET.SubElement(label, "name").text = name
            ET.SubElement(label, "type").text = "tag"
            ET.SubElement(label, "attributes")
        ET.SubElement(task, "source").text = options.media_of(timeline.video)
        for s in timeline.segments:
            if s.label in options.skip_labels:
                continue
            for frame in range(s.start, s.end):
                ET.SubElement(root, "tag", {"frame": str(frame), "label": s.label, "source": "auto"})
        ET.indent(root)
        atomic_write(path, lambda tmp: ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True))


def _int(task: ET.Element, key: str, path: Path, default: int | None) -> int | None:
    text = task.findtext(key)
    if text is None or not text.strip():
        return default
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{path}: <{key}> must be a whole number, got {text!r}") from None


def _frame(element: ET.Element, where: str, path: Path, num_frames: int) -> int:
    try:
        frame = int(element.get("frame", ""))
    except ValueError:
        raise DataError(f"{path}: {where}: frame must be a whole number, got {element.get('frame')!r}") from None
    if not 0 <= frame < num_frames:
        raise DataError(f"{path}: {where}: frame {frame} is outside the task's frames 0..{num_frames - 1}")
    return frame


def _label(element: ET.Element, where: str, path: Path) -> str:
    label = (element.get("label") or "").strip()
    if not label:
        raise DataError(f"{path}: {where}: no label")
    return label


def _merge(spans: list[tuple[int, int, str]], num_frames: int) -> list[Segment]:
    """Frame spans per label as segments: overlapping or touching spans of one label become one segment."""
    out = []
    names = np.array([s[2] for s in spans], dtype=object)
    bounds = np.array([s[:2] for s in spans], dtype=np.int64).reshape(-1, 2)
    for label in sorted(set(names)):
        on = np.zeros(num_frames + 1, dtype=np.int64)
        np.add.at(on, bounds[names == label, 0], 1)
        np.add.at(on, bounds[names == label, 1], -1)
        starts, ends, values = runs(np.cumsum(on[:-1]) > 0)
        out += [Segment(int(b), int(e), label) for b, e, v in zip(starts, ends, values, strict=True) if v]
    return sorted(out, key=lambda s: (s.start, s.end, s.label))
