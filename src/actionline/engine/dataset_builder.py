"""``actionline dataset build``: a folder of videos and an annotation tool's file -> a dataset that ``train``
reads unchanged.

The annotations are read first (every error before any decoding), matched to the videos by name (videos without
annotations and annotations without videos are listed and skipped), then the videos are extracted with the
extractor (resumable, with its progress). Labels reach feature frames by time: feature ``k`` shows the video at
``k / fps`` seconds after its first frame (`actionline.data.video.iter_frames` resamples by presentation
timestamps), so it takes the label of the segment ``[start, end)`` that holds that time; frames no segment holds are
``background``. A tool that counts frames (CVAT, or Label Studio without a frame rate in the task) is read at the
video's average frame rate. Segmentation writes the MS-TCN layout, detection ``annotations.json`` with the
features; both get ``mapping.txt``, seeded splits and ``summary.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from rich.console import Console

from actionline.data.annotations import AnnotationOptions, read_annotation_file
from actionline.data.annotations.activitynet import activitynet_json
from actionline.data.annotations.base import regrid
from actionline.data.annotations.mstcn import BACKGROUND, check_overlaps, dense_labels
from actionline.data.layout import DatasetInfo, write_info, write_labels, write_mapping, write_split
from actionline.data.video import find_videos, probe
from actionline.engine.extractor import extract
from actionline.engine.run_record import ExtractionSettings
from actionline.errors import ConfigError, DataError
from actionline.io import atomic_write_text, staged_files
from actionline.timeline import Segment, Timeline

EPS = 1e-6


@dataclass(frozen=True)
class BuildSettings:
    """How to build: the task, the extractor's settings, the splits (``splits`` folds, or one split holding out
    ``test_fraction`` of the videos) and the order that resolves overlapping labels in a dense dataset."""

    task: Literal["segmentation", "detection"] = "segmentation"
    backbone: str = "efficientnet_lite0"
    weights: Path | None = None
    fps: float = 15.0
    window: int = 21
    stride: int = 16
    splits: int = 1
    test_fraction: float = 0.25
    seed: int = 0
    priority: tuple[str, ...] = ()
    batch_size: int = 16
    device: str = "auto"

    def check(self) -> None:
        if self.task not in ("segmentation", "detection"):
            raise ConfigError(f"--task must be segmentation or detection, got {self.task!r}")
        if self.splits < 1:
            raise ConfigError(f"--splits must be at least 1, got {self.splits}")
        if self.splits > 1 and self.task == "detection":
            raise ConfigError("a detection dataset has one training/validation division: use --test-fraction")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"--test-fraction must be between 0 and 1, got {self.test_fraction}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ConfigError(f"--fps must be a positive number, got {self.fps}")


@dataclass
class BuildSummary:
    """What the dataset holds and what was left out."""

    videos: list[str]
    classes: list[str]
    per_class: dict[str, int]  # feature frames (segmentation) or instances (detection) of each class
    labelled_seconds: float
    unlabelled_seconds: float
    splits: list[dict[str, list[str]]]
    skipped: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # tool label -> dataset label (no spaces in MS-TCN)

    def lines(self) -> list[str]:
        out = [
            f"{len(self.videos)} videos, {len(self.classes)} classes; labelled {self.labelled_seconds:.1f} s, "
            f"unlabelled {self.unlabelled_seconds:.1f} s",
            "per class: " + ", ".join(f"{c} {n}" for c, n in self.per_class.items()),
            "splits: "
            + "; ".join(f"{i + 1}: {len(s['train'])} train / {len(s['test'])} test" for i, s in enumerate(self.splits)),
        ]
        if self.skipped:
            out.append(f"skipped {len(self.skipped)}:")
            out += [f"  {s}" for s in self.skipped]
        return out


def build_dataset(
    video_dir: Path,
    annotations: Path,
    out: Path,
    fmt: str = "auto",
    options: AnnotationOptions | None = None,
    settings: BuildSettings | None = None,
    console: Console | None = None,
) -> BuildSummary:
    """Build the dataset in ``out`` (features resumable; label, split and summary files all or nothing)."""
    settings = settings or BuildSettings()
    settings.check()
    console = console or Console(stderr=True)
    read = read_annotation_file(annotations, fmt, options or AnnotationOptions())
    by_video = read.by_video()
    videos = {p.stem: p for p in find_videos(video_dir)}
    skipped = list(read.skipped)
    skipped += [f"{v}: video without annotations in {annotations}" for v in sorted(set(videos) - set(by_video))]
    skipped += [
        f"{v}: annotated in {annotations}, but no video of that name in {video_dir}"
        for v in sorted(set(by_video) - set(videos))
    ]
    durations = {}
    for v in sorted(set(videos) & set(by_video)):  # a file that cannot be read is listed, the others go on
        try:
            durations[v] = probe(videos[v]).duration
        except DataError as exc:
            skipped.append(f"{v}: {exc}")
    matched = sorted(durations)
    if len(matched) < 2:
        raise DataError(
            f"{len(matched)} video(s) of {video_dir} are annotated in {annotations}: need at least two (train and test)"
        )
    timelines = {v: _with_rate(by_video[v], videos[v]) for v in matched}
    renamed: dict[str, str] = {}
    if settings.task == "segmentation":  # MS-TCN files separate labels by whitespace
        timelines, renamed = _without_spaces(timelines)
        settings = replace(settings, priority=tuple("_".join(p.split()) for p in settings.priority))
        skipped += [f"label {a!r} is {b!r} in the dataset (MS-TCN files hold no spaces)" for a, b in renamed.items()]
    for v in matched:  # before any decoding: the container's duration
        _check_within(timelines[v], durations[v], annotations)
    if settings.task == "segmentation":
        for t in timelines.values():
            check_overlaps(t, settings.priority)
    stride = settings.stride if settings.task == "detection" else None  # segmentation: a vector per frame
    requested = ExtractionSettings.request(settings.backbone, settings.fps, settings.window, stride, settings.task)
    to_extract = [videos[v] for v in matched]
    _, done, failures = extract(
        to_extract, out, requested, settings.weights, settings.batch_size, settings.device, console
    )
    skipped += [f"{name}: {why}" for name, why in failures]
    done = [v for v in matched if v in set(done)]
    if len(done) < 2:
        raise DataError(f"only {len(done)} annotated video(s) could be decoded: need at least two")
    classes = [BACKGROUND, *sorted({s.label for v in done for s in timelines[v].segments} - {BACKGROUND})]
    splits = _splits(done, settings)
    if settings.task == "segmentation":
        summary = _write_segmentation(out, done, timelines, classes, splits, settings, annotations, skipped)
    else:
        summary = _write_detection(out, done, timelines, videos, classes, splits, settings, annotations, skipped)
    summary.renamed = renamed
    atomic_write_text(out / "summary.json", json.dumps(asdict(summary), indent=1, ensure_ascii=False))
    return summary


def _without_spaces(timelines: dict[str, Timeline]) -> tuple[dict[str, Timeline], dict[str, str]]:
    """Labels with whitespace renamed (runs of it become ``_``); two labels that would meet are an error."""
    labels = sorted({s.label for t in timelines.values() for s in t.segments})
    new = {label: "_".join(label.split()) for label in labels}
    taken: dict[str, str] = {}
    for label, name in new.items():
        if name in taken:
            raise DataError(f"labels {taken[name]!r} and {label!r} both become {name!r} without spaces; rename one")
        taken[name] = label
    renamed = {a: b for a, b in new.items() if a != b}
    if not renamed:
        return timelines, {}
    out = {}
    for v, t in timelines.items():
        segments = [Segment(s.start, s.end, new[s.label], s.score) for s in t.segments]
        out[v] = Timeline(t.video, t.num_frames, segments, t.fps, t.offset)
    return out, renamed


def _with_rate(timeline: Timeline, video: Path) -> Timeline:
    """A timeline in the video's frames when the file held no frame rate."""
    if timeline.fps:
        return timeline
    return Timeline(timeline.video, timeline.num_frames, timeline.segments, probe(video).fps, timeline.offset)


def _check_within(timeline: Timeline, duration: float, where: Path) -> None:
    """No segment may end after the video (one frame of the tool's grid of slack)."""
    late = [s for s in timeline.segments if timeline.seconds(s.end) > duration + 1 / timeline.fps + EPS]
    if late:
        s = late[0]
        raise DataError(
            f"{where}: video {timeline.video}: segment {s.label!r} {timeline.seconds(s.start):.3f}-"
            f"{timeline.seconds(s.end):.3f} s ends after the video ({duration:.3f} s)"
        )


def feature_segments(timeline: Timeline, fps: float, num_features: int, where: Path) -> tuple[list[Segment], list[str]]:
    """The segments on the feature grid (feature ``k`` at ``k / fps`` s takes the label of the segment holding that
    time); a segment ending after the video is a `DataError`, one holding no feature time is dropped and listed."""
    end_of_video = num_features / fps
    slack = 1 / fps + 1 / timeline.fps
    out, dropped = [], []
    for s in timeline.segments:
        start_s, end_s = timeline.seconds(s.start), timeline.seconds(s.end)
        if end_s > end_of_video + slack:
            raise DataError(
                f"{where}: video {timeline.video}: segment {s.label!r} {start_s:.3f}-{end_s:.3f} s ends after the "
                f"video ({end_of_video:.3f} s)"
            )
        first = min(math.ceil(start_s * fps - EPS), num_features)
        last = min(math.ceil(end_s * fps - EPS), num_features)
        if last > first:
            out.append(Segment(first, last, s.label, s.score))
        else:
            dropped.append(
                f"{timeline.video}: segment {s.label!r} {start_s:.3f}-{end_s:.3f} s holds no feature frame "
                f"(they are 1/{fps:g} s apart); dropped"
            )
    return out, dropped


def _splits(videos: Sequence[str], settings: BuildSettings) -> list[dict[str, list[str]]]:
    """Seeded: ``splits`` folds (each video tested once), or one split testing ``test_fraction`` of the videos."""
    order = [videos[i] for i in np.random.default_rng(settings.seed).permutation(len(videos))]
    if settings.splits > 1:
        if settings.splits > len(videos):
            raise ConfigError(f"--splits {settings.splits} needs at least as many videos, got {len(videos)}")
        folds = [set(f.tolist()) for f in np.array_split(np.array(order, dtype=object), settings.splits)]
    else:
        n_test = min(len(videos) - 1, max(1, round(settings.test_fraction * len(videos))))
        folds = [set(order[:n_test])]
    return [{"train": [v for v in videos if v not in f], "test": [v for v in videos if v in f]} for f in folds]


def _write_segmentation(out, done, timelines, classes, splits, settings, annotations, skipped) -> BuildSummary:
    counts = np.zeros(len(classes), dtype=np.int64)
    labels = {}
    for v in done:
        n = np.load(out / "features" / f"{v}.npy", mmap_mode="r").shape[1]
        segments, dropped = feature_segments(timelines[v], settings.fps, n, annotations)
        skipped += dropped
        dense = dense_labels(Timeline(v, n, segments, settings.fps), classes, settings.priority)
        counts += np.bincount(dense, minlength=len(classes))
        labels[v] = np.asarray(classes, dtype=object)[dense].tolist()
    with staged_files(out) as staging:
        for v, names in labels.items():
            write_labels(staging / "groundTruth" / f"{v}.txt", names)
        write_mapping(staging, classes)
        for i, split in enumerate(splits, 1):
            write_split(staging, "train", i, split["train"])
            write_split(staging, "test", i, split["test"])
        write_info(staging, DatasetInfo(out.name, 1, len(splits), (BACKGROUND,), len(classes), settings.fps))
    per_class = {c: int(n) for c, n in zip(classes, counts, strict=True)}
    unlabelled = per_class[BACKGROUND] / settings.fps
    return BuildSummary(
        list(done), classes, per_class, float(counts.sum()) / settings.fps - unlabelled, unlabelled, splits, skipped
    )


def _write_detection(out, done, timelines, videos, classes, splits, settings, annotations, skipped) -> BuildSummary:
    subsets = {v: "training" for v in splits[0]["train"]} | {v: "validation" for v in splits[0]["test"]}
    in_ms, per_class, labelled, total = [], dict.fromkeys(classes, 0), 0.0, 0.0
    for v in done:
        duration = probe(videos[v]).duration
        t = regrid(timelines[v], 1000.0)
        t = Timeline(v, round(duration * 1000), t.segments, 1000.0)
        late = [s for s in t.segments if s.end > t.num_frames + 1000 / timelines[v].fps]
        if late:
            raise DataError(
                f"{annotations}: video {v}: segment {late[0].label!r} ends at {late[0].end / 1000:.3f} s, "
                f"after the video ({duration:.3f} s)"
            )
        in_ms.append(t)
        covered = np.zeros(t.num_frames, dtype=bool)
        for s in t.segments:
            per_class[s.label] += 1
            covered[s.start : s.end] = True
        labelled += covered.sum() / 1000
        total += duration
    atomic_write_text(
        out / "annotations.json", json.dumps(activitynet_json(in_ms, subsets=subsets), indent=1, ensure_ascii=False)
    )
    with staged_files(out) as staging:
        write_mapping(staging, classes)
    per_class.pop(BACKGROUND, None)
    return BuildSummary(list(done), classes[1:], per_class, labelled, total - labelled, splits, skipped)
