"""Exporting timelines: a CSV table of segments and SRT subtitles (actions as captions over the video)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from pathlib import Path

from actionline.errors import ActionlineError
from actionline.io import atomic_write_text
from actionline.timeline import Timeline, load_timelines


def _needs_fps(timeline: Timeline, fps: float | None) -> Timeline:
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ActionlineError(f"--fps must be a positive number, got {fps}")
    if fps is not None:
        return Timeline(timeline.video, timeline.num_frames, timeline.segments, fps, timeline.offset)
    if not timeline.fps:
        raise ActionlineError(f"timeline {timeline.video} has no frame rate: pass --fps")
    return timeline


def to_csv(timelines: Iterable[Timeline], fps: float | None = None) -> str:
    """One row per segment: video, start/end frame (end exclusive), start/end seconds, label, score."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["video", "start_frame", "end_frame", "start_s", "end_s", "label", "score"])
    for tl in timelines:
        tl = _needs_fps(tl, fps)
        for s in tl.segments:
            writer.writerow(
                [
                    tl.video,
                    s.start,
                    s.end,
                    f"{tl.seconds(s.start):.3f}",
                    f"{tl.seconds(s.end):.3f}",
                    s.label,
                    "" if s.score is None else f"{s.score:.4f}",
                ]
            )
    return buf.getvalue()


def _srt_time(seconds: float) -> str:
    ms = round(max(seconds, 0.0) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def to_srt(timeline: Timeline, fps: float | None = None, skip: Iterable[str] = ()) -> str:
    """SubRip subtitles, one cue per segment (labels in ``skip``, e.g. background, are left out)."""
    tl = _needs_fps(timeline, fps)
    skip = set(skip)
    cues = []
    for s in (s for s in tl.segments if s.label not in skip):
        text = s.label if s.score is None else f"{s.label} ({s.score:.2f})"
        cues.append(f"{len(cues) + 1}\n{_srt_time(tl.seconds(s.start))} --> {_srt_time(tl.seconds(s.end))}\n{text}\n")
    return "\n".join(cues)


def export_timelines(pred: Path, out: Path, fmt: str, fps: float | None, skip: Iterable[str] = ()) -> int:
    """``pred`` (a timelines.json) as one CSV file (``fmt="csv"``) or a folder of SRT files; returns the count."""
    if fmt not in ("csv", "srt"):
        raise ActionlineError(f"--format must be csv or srt, got {fmt!r}")
    timelines = load_timelines(pred)
    if fmt == "csv":
        atomic_write_text(out, to_csv(timelines, fps))
    for tl in timelines if fmt == "srt" else ():
        atomic_write_text(out / f"{tl.video}.srt", to_srt(tl, fps, skip))
    return len(timelines)
