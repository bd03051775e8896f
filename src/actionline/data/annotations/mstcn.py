"""The MS-TCN layout's ground truth (``groundTruth/<video>.txt``, one label per frame, and ``mapping.txt``)
through the annotation interface. Frames are the dataset's frames; the frame rate comes from ``actionline.json``
or a preset (`actionline.data.layout.DatasetInfo`), else ``options.fps``. Writing (which stores the frame rate in
``actionline.json``) fills frames no segment
covers with ``background`` and refuses overlapping segments (a frame has one label)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from actionline.data.annotations.base import AnnotationFormat, AnnotationOptions, Annotations
from actionline.data.layout import DatasetInfo, SegmentationData, write_info, write_labels, write_mapping
from actionline.errors import DataError
from actionline.io import staged_files
from actionline.timeline import Timeline

BACKGROUND = "background"


class MsTcn(AnnotationFormat):
    name = "mstcn"
    suffixes = ()

    def sniff(self, path: Path, head: str) -> bool:
        return path.is_dir() and (path / "groundTruth").is_dir() and (path / "mapping.txt").is_file()

    def read(self, path: Path, options: AnnotationOptions) -> Annotations:
        data = SegmentationData(path)
        fps = options.fps or data.info.fps
        videos = sorted(p.stem for p in (path / "groundTruth").glob("*.txt"))
        if not videos:
            raise DataError(f"{path / 'groundTruth'}: no ground-truth files")
        return Annotations([Timeline.from_labels(v, data.labels(v), data.classes, fps) for v in videos])

    def write(self, timelines: Sequence[Timeline], path: Path, options: AnnotationOptions) -> None:
        classes = dense_classes(timelines)
        spaced = [c for c in classes if not c or len(c.split()) != 1]
        if spaced:
            raise DataError(f"label {spaced[0]!r}: MS-TCN files hold labels without spaces")
        rates = {t.fps for t in timelines}
        with staged_files(path) as staging:
            write_info(staging, DatasetInfo(name=path.name, fps=rates.pop() if len(rates) == 1 else None))
            for t in timelines:
                names = np.asarray(classes, dtype=object)[dense_labels(t, classes)]
                write_labels(staging / "groundTruth" / f"{t.video}.txt", names.tolist())
            write_mapping(staging, classes)


def dense_classes(timelines: Sequence[Timeline]) -> list[str]:
    """``background`` first, then the other labels sorted."""
    return [BACKGROUND, *sorted({s.label for t in timelines for s in t.segments} - {BACKGROUND})]


def dense_labels(timeline: Timeline, classes: Sequence[str], priority: Sequence[str] = ()) -> np.ndarray:
    """Class indices per frame (``background`` where no segment is).

    Segments of different labels that share a frame are an error naming both, unless both labels are in
    ``priority`` (the earlier one wins there)."""
    check_overlaps(timeline, priority)
    rank = {label: i for i, label in enumerate(priority)}
    index = {c: i for i, c in enumerate(classes)}
    out = np.full(timeline.num_frames, index[BACKGROUND], dtype=np.int64)
    for s in sorted(timeline.segments, key=lambda s: -rank.get(s.label, len(rank))):
        out[max(s.start, 0) : min(s.end, timeline.num_frames)] = index[s.label]
    return out


def check_overlaps(timeline: Timeline, priority: Sequence[str]) -> None:
    labels = sorted({s.label for s in timeline.segments})
    if len(labels) < 2:
        return
    n = max(timeline.num_frames, max(s.end for s in timeline.segments))
    edges = np.zeros((len(labels), n + 1), dtype=np.int64)
    row = {label: i for i, label in enumerate(labels)}
    rows = np.array([row[s.label] for s in timeline.segments])
    np.add.at(edges, (rows, np.array([s.start for s in timeline.segments])), 1)
    np.add.at(edges, (rows, np.array([s.end for s in timeline.segments])), -1)
    covered = np.cumsum(edges, axis=1)[:, :n] > 0
    unranked = np.array([label not in priority for label in labels])
    clash = np.flatnonzero((covered.sum(0) > 1) & covered[unranked].any(0))
    if not len(clash):
        return
    frame = int(clash[0])
    here = [s for s in timeline.segments if s.start <= frame < s.end]
    a = next(s for s in here if s.label not in priority)
    b = next(s for s in here if s.label != a.label)
    when = lambda s: f" ({timeline.seconds(s.start):.3f}-{timeline.seconds(s.end):.3f} s)" if timeline.fps else ""  # noqa: E731
    raise DataError(
        f"video {timeline.video}: segments {a.label!r} [{a.start}, {a.end}){when(a)} and {b.label!r} "
        f"[{b.start}, {b.end}){when(b)} overlap; give a priority order (--priority) to resolve overlaps"
    )
