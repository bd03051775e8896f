"""Temporal annotations of the tools people label videos with, read into `Timeline` s and written back.

Each format is one module behind `AnnotationFormat` (``read`` -> `Annotations`, ``write`` <- timelines):
Label Studio (export and pre-annotations), ELAN, CVAT for video, VIA, ActivityNet JSON and the MS-TCN layout.
`read_annotation_file` and `write_annotation_file` choose the format (``auto`` looks at the file) and handle folders
of per-video files; a video annotated in two files is an error naming both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from actionline.data.annotations.activitynet import ActivityNet
from actionline.data.annotations.base import AnnotationFormat, AnnotationOptions, Annotations, read_text, regrid
from actionline.data.annotations.cvat import Cvat
from actionline.data.annotations.elan import Elan
from actionline.data.annotations.labelstudio import LabelStudio
from actionline.data.annotations.mstcn import MsTcn
from actionline.data.annotations.via import Via
from actionline.errors import DataError
from actionline.io import staged_files
from actionline.timeline import Segment, Timeline

FORMATS: dict[str, AnnotationFormat] = {
    f.name: f for f in (LabelStudio(), Elan(), Cvat(), Via(), ActivityNet(), MsTcn())
}

__all__ = [
    "FORMATS",
    "TOOL_FORMATS",
    "AnnotationOptions",
    "Annotations",
    "detect_format",
    "read_annotation_file",
    "tool_labels",
    "write_annotation_file",
    "write_for_tool",
]


def _head(path: Path) -> str:
    with open(path, "rb") as f:
        return f.read(8192).decode("utf-8", errors="replace")


def detect_format(path: Path) -> AnnotationFormat:
    """The format of a file (or of the files in a folder), from its suffix and first characters."""
    if path.is_dir():
        if FORMATS["mstcn"].sniff(path, ""):
            return FORMATS["mstcn"]
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        found = {detect_format(p).name for p in files if p.suffix.lower() in (".json", ".eaf", ".xml", ".csv")}
        if len(found) != 1:
            raise DataError(
                f"{path}: cannot tell one annotation format from the files "
                f"({', '.join(sorted(found)) or 'none'}); pass --format"
            )
        return FORMATS[found.pop()]
    if not path.is_file():
        raise DataError(f"{path}: annotation file not found")
    head = _head(path)
    suffix = path.suffix.lower()
    order = {".eaf": ["elan"], ".xml": ["cvat", "elan"], ".csv": ["via"]}.get(
        suffix, ["via", "activitynet", "labelstudio"]
    )
    for name in order:
        if FORMATS[name].sniff(path, head):
            return FORMATS[name]
    raise DataError(f"{path}: not a known annotation format ({', '.join(FORMATS)}); pass --format")


def read_annotation_file(path: str | Path, fmt: str = "auto", options: AnnotationOptions | None = None) -> Annotations:
    """Timelines from a file, or from every file of the format in a folder (a video in two files is an error)."""
    path = Path(path)
    options = options or AnnotationOptions()
    form = detect_format(path) if fmt == "auto" else _format(fmt)
    if not path.is_dir() or form.name == "mstcn":
        if not path.exists():
            raise DataError(f"{path}: annotation file not found")
        return form.read(path, options)
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in form.suffixes)
    if not files:
        raise DataError(f"{path}: no {form.name} files ({', '.join(form.suffixes)}) in the folder")
    out, owner = Annotations([]), {}
    for file in files:
        part = form.read(file, options)
        for t in part.timelines:
            if t.video in owner:
                raise DataError(f"video {t.video!r} is annotated in two files: {owner[t.video]} and {file}")
            owner[t.video] = file
        out.timelines += part.timelines
        out.skipped += part.skipped
    return out


def write_annotation_file(
    timelines: Sequence[Timeline], path: str | Path, fmt: str, options: AnnotationOptions | None = None
) -> list[Path]:
    """Write ``timelines`` in format ``fmt``: one file, or for per-video formats a folder of ``<video><suffix>``
    files (a single timeline may go to a file named with the suffix). All or nothing; returns the files."""
    path = Path(path)
    options = options or AnnotationOptions()
    form = _format(fmt)
    if form.name == "mstcn":
        form.write(timelines, path, options)
        return [path]
    if not form.per_video:
        if path.is_dir():
            raise DataError(
                f"{path} is a folder; {form.name} writes one file (e.g. {path / ('predictions' + form.suffixes[0])})"
            )
        form.write(timelines, path, options)
        return [path]
    if len(timelines) == 1 and path.suffix.lower() in form.suffixes:
        form.write(timelines, path, options)
        return [path]
    with staged_files(path) as staging:
        for t in timelines:
            form.write([t], staging / f"{t.video}{form.suffixes[0]}", options)
    return [path / f"{t.video}{form.suffixes[0]}" for t in timelines]


def _format(name: str) -> AnnotationFormat:
    if name not in FORMATS:
        raise DataError(f"unknown annotation format {name!r} (known: auto, {', '.join(FORMATS)})")
    return FORMATS[name]


TOOL_FORMATS = ("labelstudio", "elan", "cvat", "via")
FRAME_BASED = ("labelstudio", "cvat")
DEFAULT_NAMES = {"labelstudio": "labelstudio.json", "elan": "elan", "cvat": "cvat", "via": "via_project.json"}


def write_for_tool(
    timelines: Sequence[Timeline],
    path: str | Path,
    fmt: str,
    videos: Mapping[str, Path] | None = None,
    video_fps: float | None = None,
    media_prefix: str = "",
    skip: frozenset[str] = frozenset({"background"}),
    rename: Mapping[str, str] | None = None,
) -> list[Path]:
    """Predictions as a file the tool imports (Label Studio pre-annotations, ELAN documents, CVAT tags, a VIA
    project), labels in ``skip`` left out. Tools that count frames get the video's own frames: its frame rate is
    read from the video file (``videos``: id -> path) or given as ``video_fps``. Each video is named by its file
    name (``<id>.mp4`` without ``videos``) after ``media_prefix`` (e.g. ``/data/local-files/?d=clips/``).
    ``rename`` maps labels back to the tool's (``pour_water`` -> ``pour water``)."""
    if fmt not in TOOL_FORMATS:
        raise DataError(f"unknown tool format {fmt!r} (known: {', '.join(TOOL_FORMATS)})")
    videos = videos or {}
    media = {
        t.video: media_prefix + (videos[t.video].name if t.video in videos else f"{t.video}.mp4") for t in timelines
    }
    if fmt in FRAME_BASED:
        timelines = [regrid(t, _video_rate(t.video, videos, video_fps, fmt)) for t in timelines]
    if rename:
        timelines = [_relabelled(t, rename) for t in timelines]
    return write_annotation_file(timelines, path, fmt, AnnotationOptions(media=media, skip_labels=frozenset(skip)))


def _relabelled(timeline: Timeline, rename: Mapping[str, str]) -> Timeline:
    segments = [Segment(s.start, s.end, rename.get(s.label, s.label), s.score) for s in timeline.segments]
    return Timeline(timeline.video, timeline.num_frames, segments, timeline.fps, timeline.offset)


def tool_labels(dataset: Path) -> dict[str, str]:
    """Dataset label -> tool label, from the ``summary.json`` of a folder `dataset build` wrote."""
    import json

    path = Path(dataset) / "summary.json"
    try:
        renamed = json.loads(read_text(path)).get("renamed", {})
    except (json.JSONDecodeError, AttributeError) as exc:
        raise DataError(f"{path}: not a dataset build summary ({exc})") from None
    return {new: old for old, new in renamed.items()}


def _video_rate(video: str, videos: Mapping[str, Path], video_fps: float | None, fmt: str) -> float:
    from actionline.data.video import probe

    if video in videos:
        return probe(videos[video]).fps
    if video_fps is None:
        raise DataError(
            f"{fmt} counts the video's frames: give the video (--videos) or its frame rate (--video-fps) for {video}"
        )
    return video_fps
