"""The result types that flow from models to metrics, exporters and viewers: `Segment`, `Timeline` and, for
detections in seconds, `Instance`.

Positions in a `Timeline` are in *frame units* (half-open ``[start, end)``); ``fps`` and ``offset`` give the one
conversion to seconds (`Timeline.seconds`), used for snippets, frames and detections alike. Dense per-frame labels
convert to segments and back losslessly; instances convert to and from timelines (`instances_to_timeline`,
`timeline_to_instances`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from actionline.errors import ActionlineError


@dataclass(frozen=True)
class Segment:
    """One action occurrence ``[start, end)`` in frames, with an optional confidence score."""

    start: int
    end: int
    label: str
    score: float | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ActionlineError(f"segment end ({self.end}) must be after its start ({self.start})")

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Instance:
    """One action instance in seconds (a detection or a ground-truth annotation); ``score`` is set for predictions."""

    video: str
    start: float
    end: float
    label: str
    score: float = 1.0


def canonical_video_id(video: str) -> str:
    """``v_QOlSCBRmfWY`` and ``QOlSCBRmfWY`` name the same ActivityNet video."""
    return video[2:] if video.startswith("v_") and len(video) == 13 else video


@dataclass
class Timeline:
    """The actions of one video: ``segments`` over ``num_frames`` frames.

    ``fps`` is the number of timeline frames per second (``None`` when unknown) and ``offset`` the time
    in seconds of frame 0, so ``seconds(f) = offset + f / fps``.
    """

    video: str
    num_frames: int
    segments: list[Segment] = field(default_factory=list)
    fps: float | None = None
    offset: float = 0.0

    # --- dense labels <-> segments -------------------------------------------------------------
    @classmethod
    def from_labels(
        cls,
        video: str,
        labels: Sequence[int] | np.ndarray,
        classes: Sequence[str],
        fps: float | None = None,
        scores: np.ndarray | None = None,
    ) -> Timeline:
        """Run-length encode dense class indices (one per frame). ``scores`` [T] are averaged per segment."""
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ActionlineError(f"dense labels must be 1-D, got shape {labels.shape}")
        starts, ends, values = runs(labels)
        if len(values) and (values.min() < 0 or values.max() >= len(classes)):
            raise ActionlineError(f"label index out of range for {len(classes)} classes in {video}")
        seg_scores: list[float | None] = [None] * len(values)
        if scores is not None and len(starts):
            sums = np.add.reduceat(np.asarray(scores, dtype=np.float64), starts)
            seg_scores = (sums / (ends - starts)).tolist()
        segments = [
            Segment(b, e, classes[int(v)], sc)
            for b, e, v, sc in zip(starts.tolist(), ends.tolist(), values.tolist(), seg_scores, strict=True)
        ]
        return cls(video, len(labels), segments, fps)

    def to_labels(self, classes: Sequence[str], fill: int = -1) -> np.ndarray:
        """Dense class indices [num_frames]; frames covered by no segment get ``fill``."""
        index = {name: i for i, name in enumerate(classes)}
        out = np.full(self.num_frames, fill, dtype=np.int64)
        for seg in self.segments:
            if seg.label not in index:
                raise ActionlineError(f"label {seg.label!r} of {self.video} is not among the classes")
            out[max(seg.start, 0) : min(seg.end, self.num_frames)] = index[seg.label]
        return out

    # --- time -------------------------------------------------------------------------------
    def seconds(self, frame: float) -> float:
        if not self.fps:
            raise ActionlineError(f"timeline {self.video} has no fps: cannot convert frames to seconds")
        return self.offset + frame / self.fps

    @property
    def duration(self) -> float:
        return self.seconds(self.num_frames) - self.offset

    def resample(self, num_frames: int) -> Timeline:
        """The same timeline on a grid of ``num_frames`` frames covering the same time span."""
        scale = num_frames / self.num_frames
        segments = []
        for seg in self.segments:
            start, end = round(seg.start * scale), round(seg.end * scale)
            if end > start:
                segments.append(Segment(start, end, seg.label, seg.score))
        fps = self.fps * scale if self.fps else None
        return Timeline(self.video, num_frames, segments, fps, self.offset)

    # --- serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "video": self.video,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "offset": self.offset,
            "segments": [{k: v for k, v in asdict(s).items() if v is not None} for s in self.segments],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Timeline:
        try:
            segments = [Segment(int(s["start"]), int(s["end"]), str(s["label"]), s.get("score")) for s in d["segments"]]
            return cls(str(d["video"]), int(d["num_frames"]), segments, d.get("fps"), float(d.get("offset", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ActionlineError(f"malformed timeline entry: {exc}") from exc


def runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length encoding of a 1-D array: (starts, ends exclusive, values), vectorised."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, labels[:0]
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(labels)]))
    return starts, ends, labels[starts]


def transcript_of(labels: np.ndarray) -> np.ndarray:
    """Ordered labels of the segments (consecutive repeats collapsed): a video's transcript (MuCon)."""
    return runs(np.asarray(labels))[2]


def action_set_of(labels: np.ndarray) -> np.ndarray:
    """Distinct labels, sorted: a video's action set (SCT)."""
    return np.unique(np.asarray(labels))


def instances_to_timeline(video: str, instances: Iterable[Instance], duration: float, fps: float) -> Timeline:
    """Instances (seconds) of one video as a `Timeline` with ``fps`` frames per second, ordered by start.

    Times round to the nearest frame; every instance keeps at least one frame, so no detection is lost."""
    segments = []
    for i in sorted(instances, key=lambda i: (i.start, i.end, -i.score)):
        start = round(i.start * fps)
        segments.append(Segment(start, max(start + 1, round(i.end * fps)), i.label, i.score))
    return Timeline(video, max(1, round(duration * fps)), segments, fps)


def timeline_to_instances(timeline: Timeline) -> list[Instance]:
    """The segments of ``timeline`` as instances in seconds (through `Timeline.seconds`)."""
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


def upsample_labels(labels: np.ndarray, factor: int, num_frames: int) -> np.ndarray:
    """Labels predicted at ``sample_rate`` back to full rate: repeat each ``factor`` times, fit ``num_frames``.

    This is the MS-TCN protocol (50Salads is trained at sample rate 2 and scored at full rate); when the
    repeated sequence is shorter than the video, the last label is extended.
    """
    full = np.repeat(np.asarray(labels), factor)
    if len(full) >= num_frames:
        return full[:num_frames]
    return np.concatenate((full, np.full(num_frames - len(full), full[-1] if len(full) else 0)))


def resample_labels(labels: np.ndarray, num_frames: int) -> np.ndarray:
    """Nearest-neighbour resampling of dense labels to ``num_frames`` frames (same time span)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        raise ActionlineError("cannot resample an empty label sequence")
    idx = np.minimum((np.arange(num_frames) + 0.5) * len(labels) / num_frames, len(labels) - 1).astype(np.int64)
    return labels[idx]


def save_timelines(path: str, timelines: Iterable[Timeline], classes: Sequence[str] | None = None) -> None:
    """Write ``timelines.json`` atomically."""
    from actionline.io import atomic_write_text

    payload = {"classes": list(classes) if classes is not None else None, "timelines": [t.to_dict() for t in timelines]}
    atomic_write_text(path, json.dumps(payload, indent=1))


def load_timelines(path: str) -> list[Timeline]:
    from actionline.io import read_json

    payload = read_json(path)
    if not isinstance(payload, dict) or "timelines" not in payload:
        raise ActionlineError(f"{path}: not a timelines.json file (no 'timelines' key)")
    return [Timeline.from_dict(d) for d in payload["timelines"]]
