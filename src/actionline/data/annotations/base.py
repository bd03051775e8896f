"""The one interface every annotation-tool format implements, and the helpers they share.

A format reads a file (or a folder of files) into `Annotations`: one `Timeline` per video, in the frame grid the
file itself counts in (Label Studio and CVAT: the video's frames; ELAN, VIA, ActivityNet: milliseconds unless a
frame rate is given), with ``fps`` set so that `Timeline.seconds` gives the times the tool shows. A file that does
not hold its frame rate (CVAT, Label Studio without one in the task) gives timelines with ``fps=None`` until
``options.fps`` or the decoded video supplies it. Items a reader cannot use but that leave the rest usable are
skipped and listed in `Annotations.skipped`; anything else is one `DataError` naming the file and the element.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlparse

from actionline.errors import DataError
from actionline.timeline import Segment, Timeline

MILLISECONDS = 1000.0
"""The frame grid of formats that store times, not frames, when no frame rate is given: exact for ELAN."""


@dataclass(frozen=True)
class AnnotationOptions:
    """What a file may not say by itself.

    - ``fps``: the video's frame rate where the file holds none (CVAT, Label Studio), or the frame grid to read
      time-based files onto (ELAN, VIA, ActivityNet; default milliseconds);
    - ``tier``: the ELAN tier or VIA attribute that holds the action labels (needed when there are several);
    - ``media``: video id -> file name or URL that writers put in the file so the tool finds the video
      (default ``<video>.mp4``);
    - ``skip_labels``: labels writers leave out (e.g. ``background`` in predictions sent back to a tool);
    - ``latest``: Label Studio tasks with several annotations use the last updated one instead of failing.
    """

    fps: float | None = None
    tier: str | None = None
    media: Mapping[str, str] = field(default_factory=dict)
    skip_labels: frozenset[str] = frozenset()
    latest: bool = False

    def __post_init__(self) -> None:
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise DataError(f"frame rate must be a positive number, got {self.fps}")

    def media_of(self, video: str) -> str:
        return self.media.get(video, f"{video}.mp4")


@dataclass
class Annotations:
    """Timelines read from a file, and the items left out (each with where and why)."""

    timelines: list[Timeline]
    skipped: list[str] = field(default_factory=list)

    def by_video(self) -> dict[str, Timeline]:
        return {t.video: t for t in self.timelines}


class AnnotationFormat:
    """A tool's file format: ``read`` a file into `Annotations`, ``write`` timelines to a file.

    ``suffixes`` name the files a folder is searched for; ``per_video`` formats hold one video per file (a folder
    of them is read and written); ``keeps_length`` says whether the file stores each video's length (else a read
    timeline ends at its last segment).
    """

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]
    per_video: ClassVar[bool] = False
    keeps_length: ClassVar[bool] = True

    def sniff(self, path: Path, head: str) -> bool:
        """Whether ``path`` (its first characters ``head``) looks like this format."""
        raise NotImplementedError

    def read(self, path: Path, options: AnnotationOptions) -> Annotations:
        raise NotImplementedError

    def write(self, timelines: Sequence[Timeline], path: Path, options: AnnotationOptions) -> None:
        raise NotImplementedError


# --- shared helpers -------------------------------------------------------------------------------------------------
def read_text(path: Path) -> str:
    """A text file as UTF-8 (a byte-order mark is dropped; CRLF line ends read like LF); other bytes are a
    `DataError` naming the file and the byte."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


def read_xml(path: Path, root_tag: str, tool: str) -> ET.Element:
    """The root of the XML file ``path``, checked to be well-formed (the error names the line and column) and to
    have the ``root_tag`` element of ``tool``'s files."""
    kind = f"{'an' if tool[0] in 'AEIOU' else 'a'} {tool} file"
    try:
        root = ET.parse(path).getroot()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    except ET.ParseError as exc:
        line, column = exc.position
        raise DataError(f"{path}:{line}:{column}: not {kind} (malformed XML)") from None
    if root.tag != root_tag:
        raise DataError(f"{path}: not {kind} (root element <{root.tag}>, expected <{root_tag}>)")
    return root


def video_id(media: str) -> str:
    """The video id of a file name, path or URL: its base name without the extension.

    Label Studio serves local files as ``/data/local-files/?d=dir/name.mp4`` and prefixes uploads with eight hex
    digits and a dash (``/data/upload/3/1a2b3c4d-name.mp4``); both give ``name``.
    """
    parsed = urlparse(media)
    path = parse_qs(parsed.query).get("d", [parsed.path or media])[0]
    name = unquote(path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])
    if "/data/upload/" in parsed.path:
        name = _UPLOAD_PREFIX.sub("", name)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    if not stem:
        raise DataError(f"cannot tell a video name from {media!r}")
    return stem


def number(value, where: str) -> float:
    """A finite JSON number (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{where}: expected a number, got {value!r}")
    return float(value)


def segments_from_seconds(
    spans: Sequence[tuple[float, float, str]], fps: float, where: str, duration: float | None = None
) -> list[Segment]:
    """``(start_s, end_s, label)`` spans onto a grid of ``fps`` frames per second (nearest frame, at least one
    frame), checked to lie in ``[0, duration]`` (half a frame of slack)."""
    out = []
    slack = 0.5 / fps
    for start, end, label in spans:
        if start < -slack or end < start:
            raise DataError(f"{where}: segment {label!r} [{start:.3f}, {end:.3f}] s must have 0 <= start <= end")
        if duration is not None and end > duration + slack:
            raise DataError(
                f"{where}: segment {label!r} [{start:.3f}, {end:.3f}] s ends after the video's end ({duration:.3f} s)"
            )
        first = max(0, round(start * fps))
        out.append(Segment(first, max(first + 1, round(end * fps)), label))
    return sorted(out, key=lambda s: (s.start, s.end, s.label))


def timeline_of(video: str, segments: list[Segment], fps: float | None, num_frames: int | None = None) -> Timeline:
    """A timeline whose length is ``num_frames`` when the file knows it, else the end of its last segment."""
    end = max((s.end for s in segments), default=0)
    return Timeline(video, end if num_frames is None else num_frames, segments, fps)


def spans_in_seconds(timeline: Timeline, skip: frozenset[str]) -> list[tuple[float, float, str, float | None]]:
    """The segments of a timeline as ``(start_s, end_s, label, score)``, labels in ``skip`` left out."""
    return [
        (timeline.seconds(s.start), timeline.seconds(s.end), s.label, s.score)
        for s in timeline.segments
        if s.label not in skip
    ]


def regrid(timeline: Timeline, fps: float | None) -> Timeline:
    """``timeline`` on a grid of ``fps`` frames per second (nearest frames, at least one per segment); unchanged
    when ``fps`` is ``None`` or already its rate."""
    if fps is None or timeline.fps == fps:
        return timeline
    segments = []
    for s in timeline.segments:
        start = max(0, round((timeline.seconds(s.start) - timeline.offset) * fps))
        segments.append(
            Segment(start, max(start + 1, round((timeline.seconds(s.end) - timeline.offset) * fps)), s.label, s.score)
        )
    return Timeline(timeline.video, round(timeline.duration * fps), segments, fps, timeline.offset)
