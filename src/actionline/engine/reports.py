"""The sections of ``actionline report`` for each task: scores (the very `Task.evaluate` reports, so the page and
`evaluate` agree), error analyses (`metrics.segmentation_errors`, `metrics.detection_errors`), timelines with
hover and click-to-seek, several prediction folders side by side (A, B, ...) on the same videos."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from actionline.data.clips import ClipData
from actionline.data.hvu import HVUData
from actionline.data.instances import read_annotations, read_submission
from actionline.data.layout import SegmentationData
from actionline.data.predictions import label_indices, read_predictions
from actionline.data.video import VIDEO_SUFFIXES
from actionline.engine.classification import read_predictions as read_classification
from actionline.engine.detection import submission_file
from actionline.engine.segmentation import evaluation_background
from actionline.engine.tagging import predictions_for, scored_clips
from actionline.engine.task import Report, TaskOptions
from actionline.metrics.classification import average_precision, confusion_matrix
from actionline.metrics.detection import evaluate_detection
from actionline.metrics.detection_errors import FP_TYPES, false_positive_profile, sensitivity
from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation
from actionline.metrics.segmentation_errors import (
    boundary_offsets,
    frame_confusion,
    over_under_segmentation,
    per_class_f1,
)
from actionline.metrics.tagging import tag_average_precisions
from actionline.timeline import Instance, Timeline, canonical_video_id
from actionline.viz import svg
from actionline.viz.html import Section, note, table

NAMES = "ABCDEFGH"


def names(preds: Sequence[Path]) -> list[str]:
    """``A: <folder>``, ``B: <folder>``, ... for the prediction folders (or files) compared."""
    return [f"{NAMES[i]}: {p.name or p}" for i, p in enumerate(preds)]


def scores_section(labels: Sequence[str], reports: Sequence[Report], keys: Sequence[str]) -> Section:
    rows = [[name, *(float(r.as_dict[k]) for k in keys)] for name, r in zip(labels, reports, strict=True)]
    details = " | ".join(reports[0].details)
    return Section("Scores (as `actionline evaluate` gives them)", table(["prediction", *keys], rows) + note(details))


def _video_file(folder: Path | None, video: str, out: Path) -> str | None:
    """The path of ``folder/<video>.<suffix>`` relative to the report, if such a file exists."""
    if folder is None:
        return None
    for suffix in VIDEO_SUFFIXES:
        path = folder / f"{video}{suffix}"
        if path.is_file():
            return os.path.relpath(path.resolve(), out.parent.resolve())
    return None


def timeline_block(video: str, rows: list, duration: float, colours: dict, videos_dir: Path | None, out: Path) -> str:
    """A video's heading, its player when the video file is found (click a segment to seek it), its timeline."""
    src = _video_file(videos_dir, video, out)
    player = f'<video id="player-{video}" controls preload="metadata" src="{src}"></video>' if src else ""
    drawing = svg.timeline(rows, duration, colours, video if src else None)
    return f"<h3>{video}</h3>{player}<div class='scroll'>{drawing}</div>"


def _seconds(timeline: Timeline, fps: float) -> list[tuple[float, float, str, float | None]]:
    return [(s.start / fps, s.end / fps, s.label, None) for s in timeline.segments]


def top_confusions(cm: np.ndarray, classes: Sequence[str], unit: str) -> str:
    """The confusion heatmap and the ten largest off-diagonal cells."""
    off = cm.copy()
    np.fill_diagonal(off, 0)
    top = np.dstack(np.unravel_index(np.argsort(-off, axis=None)[:10], off.shape))[0]
    pairs = [[classes[a], classes[b], int(off[a, b])] for a, b in top if off[a, b]]
    return svg.heatmap(cm, classes) + table(["true", "predicted", unit], pairs)


ZOOM = '<p>zoom <input class="zoom" type="range" min="1" max="8" step="0.5" value="1"></p>'


# --- segmentation -----------------------------------------------------------------------------------------
def segmentation_report(
    task, preds: Sequence[Path], data: Path, options: TaskOptions, videos_dir: Path | None, out: Path, limit: int
) -> tuple[list[Section], dict]:
    dataset = SegmentationData(data)
    labels = names(preds)
    reports = [task.evaluate(p, data, options) for p in preds]
    videos = dataset.split("test", options.split)
    bg = evaluation_background(dataset, options)
    bg_codes = tuple(dataset.class_index[b] for b in bg if b in dataset.class_index)
    predicted = [label_indices(read_predictions(p, videos), videos, dataset.class_index) for p in preds]
    gts = [dataset.labels(v) for v in videos]
    settings = SegmentationSettings(background=bg)
    classes, fps = dataset.classes, dataset.info.fps or 1.0
    sections = [scores_section(labels, reports, ["acc", "edit", "f1@10", "f1@25", "f1@50", "acc_no_bg"])]

    rows = []
    for i, v in enumerate(videos):
        row: list[object] = [v, len(gts[i])]
        for p in predicted:
            s = evaluate_segmentation([p[i]], [gts[i]], settings, [v], classes)
            row += [s.acc, s.edit, s.f1[0.5], *over_under_segmentation(p[i], gts[i], bg_codes)]
        rows.append(row)
    headers = ["video", "frames"] + [f"{n[0]} {k}" for n in labels for k in ("Acc", "Edit", "F1@50", "frag.", "merg.")]
    sections.append(Section("Per video (click a column to sort)", table(headers, rows)))

    colours = svg.class_colours(classes, dataset.info.background)
    timelines = [ZOOM]
    for i, v in enumerate(videos[:limit]):
        rows_svg = [("truth", _seconds(Timeline.from_labels(v, gts[i], classes), fps))]
        rows_svg += [
            (n[:12], _seconds(Timeline.from_labels(v, p[i], classes), fps))
            for n, p in zip(labels, predicted, strict=True)
        ]
        timelines.append(timeline_block(v, rows_svg, len(gts[i]) / fps, colours, videos_dir, out))
    if len(videos) > limit:
        timelines.append(note(f"{len(videos) - limit} more videos not drawn (--max-videos)"))
    sections.append(Section("Timelines (hover a segment; click it to seek the video)", "".join(timelines)))

    parts = []
    for n, p in zip(labels, predicted, strict=True):
        parts.append(f"<h3>{n}</h3>" + top_confusions(frame_confusion(p, gts, len(classes)), classes, "frames"))
    sections.append(Section("Confusion matrix (frames, row-normalised) and top confusions", "".join(parts)))

    f1 = {
        (n, k): per_class_f1(p, gts, len(classes), k, bg_codes)
        for n, p in zip(labels, predicted, strict=True)
        for k in (0.1, 0.25, 0.5)
    }
    rows = [
        [c, *(float(f1[(n, k)][j]) for n in labels for k in (0.1, 0.25, 0.5))]
        for j, c in enumerate(classes)
        if c not in bg
    ]
    headers = ["class"] + [f"{n[0]} F1@{round(k * 100)}" for n in labels for k in (0.1, 0.25, 0.5)]
    sections.append(Section("Per-class F1@k", table(headers, rows)))

    parts, rows = [], []
    for n, p in zip(labels, predicted, strict=True):
        counts = np.array([over_under_segmentation(a, b, bg_codes) for a, b in zip(p, gts, strict=True)]).sum(axis=0)
        offsets = np.concatenate([boundary_offsets(a, b) for a, b in zip(p, gts, strict=True)] or [np.zeros(0)])
        spread = float(np.percentile(np.abs(offsets), 95)) if len(offsets) else 1.0
        edges = np.linspace(-max(spread, 1.0), max(spread, 1.0), 21)
        rows.append(
            [
                n,
                int(counts[0]),
                int(counts[1]),
                len(offsets),
                float(np.median(np.abs(offsets))) if len(offsets) else float("nan"),
            ]
        )
        parts.append(f"<h3>{n}: boundary offsets (frames; positive = the prediction changes later)</h3>"
                     + svg.histogram(np.clip(offsets, edges[0], edges[-1]), edges))  # fmt: skip
    intro = table(["prediction", "fragments (over-seg.)", "merges (under-seg.)", "boundaries", "median |offset|"], rows)
    sections.append(Section("Over- and under-segmentation, boundary offsets", intro + "".join(parts)))
    return sections, {n: r.as_dict for n, r in zip(labels, reports, strict=True)}


# --- detection --------------------------------------------------------------------------------------------
def detection_report(
    task, preds: Sequence[Path], data: Path | None, options: TaskOptions, videos_dir: Path | None, out: Path, limit: int
) -> tuple[list[Section], dict]:
    gt_file = options.gt or options.annotations or (data / "annotations.json" if data is not None else None)
    annotations = read_annotations(gt_file).select(options.subset)
    gts = annotations.instances
    labels = names(preds)
    reports = [task.evaluate(p, data, options) for p in preds]
    detections = [read_submission(submission_file(p)) for p in preds]
    keys = [k for k in reports[0].as_dict if k.startswith("mAP@")] + ["avg_mAP"]
    sections = [scores_section(labels, reports, keys)]

    parts, rows = [], []
    for n, d in zip(labels, detections, strict=True):
        counts = false_positive_profile(gts, d)
        rows.append([n, *(counts[k] for k in ("true positive", *FP_TYPES))])
        parts.append(f"<h3>{n}</h3>" + svg.stacked_bar({k: counts[k] for k in FP_TYPES}))
    intro = note("Alwassel et al. (ECCV 2018): the top 10 G detections (G ground-truth instances) in score order at "
                 "tIoU 0.5; each false positive gets the first type that applies.")  # fmt: skip
    sections.append(
        Section(
            "False-positive profile", intro + table(["prediction", "true positive", *FP_TYPES], rows) + "".join(parts)
        )
    )

    per_class = [evaluate_detection(gts, d, [0.5]).per_class for d in detections]
    rows = [[c, *(float(pc[c][0]) for pc in per_class)] for c in sorted(per_class[0])]
    sections.append(Section("AP per class at tIoU 0.5", table(["class", *labels], rows)))
    for key, title in (("length", "instance length (s)"), ("count", "instances per video")):
        results = [sensitivity(gts, d, key) for d in detections]
        rows = [[b, n, *(float(r[i][2]) for r in results)] for i, (b, n, _) in enumerate(results[0])]
        sections.append(Section(f"Sensitivity to {title}: mAP at tIoU 0.5", table(["bin", "instances", *labels], rows)))

    colours = svg.class_colours(annotations.classes)
    by_video: list[dict[str, list[Instance]]] = []
    for d in detections:
        grouped: dict[str, list[Instance]] = {}
        for p in d:
            grouped.setdefault(canonical_video_id(p.video), []).append(p)
        by_video.append(grouped)
    parts = [ZOOM]
    for video in sorted(annotations.durations)[:limit]:
        truth = [
            (g.start, g.end, g.label, None) for g in gts if canonical_video_id(g.video) == canonical_video_id(video)
        ]
        rows_svg = [("truth", truth)]
        for n, grouped in zip(labels, by_video, strict=True):
            top = sorted(grouped.get(canonical_video_id(video), []), key=lambda p: -p.score)[:10]
            rows_svg += [(f"{n[:10]} #{i + 1}", [(p.start, p.end, p.label, p.score)]) for i, p in enumerate(top)]
        parts.append(timeline_block(video, rows_svg, annotations.durations[video], colours, videos_dir, out))
    sections.append(Section("Detections per video (the 10 best of each prediction, opacity = score)", "".join(parts)))
    return sections, {n: r.as_dict for n, r in zip(labels, reports, strict=True)}


# --- classification ---------------------------------------------------------------------------------------
def classification_report(
    task, preds: Sequence[Path], data: Path, options: TaskOptions, videos_dir: Path | None, out: Path, limit: int
) -> tuple[list[Section], dict]:
    dataset = ClipData(data, options.split)
    truth = {v.video: v.label for v in dataset.videos(dataset.eval_part(options.subset))}
    labels = names(preds)
    reports = [task.evaluate(p, data, options) for p in preds]
    keys = [k for k in reports[0].as_dict if k.startswith(("video_top", "clip_top"))]
    sections = [scores_section(labels, reports, keys)]
    aps, confusions = [], []
    for p in preds:
        records = [r for r in read_classification(p)["videos"] if r["video"] in truth]
        scores = np.array([r["scores"] for r in records])
        y = np.array([truth[r["video"]] for r in records])
        aps.append([average_precision(scores[:, c], y == c) for c in range(len(dataset.classes))])
        confusions.append(confusion_matrix(scores.argmax(axis=1), y, len(dataset.classes)))
    rows = [[c, *(100 * float(a[j]) for a in aps)] for j, c in enumerate(dataset.classes)]
    means = ", ".join(f"{n} {100 * np.nanmean(a):.1f}" for n, a in zip(labels, aps, strict=True))
    ap_note = note(f"AP: step-wise (Σ (R_i - R_i-1) P_i over distinct scores), video level; mean over classes: {means}")
    sections.append(Section("Per-class AP", ap_note + table(["class", *labels], rows)))
    parts = []
    for n, cm in zip(labels, confusions, strict=True):
        parts.append(f"<h3>{n}</h3>" + top_confusions(cm, dataset.classes, "videos"))
    sections.append(Section("Top confusions (videos)", "".join(parts)))
    return sections, {n: r.as_dict for n, r in zip(labels, reports, strict=True)}


# --- tagging ------------------------------------------------------------------------------------------------
TAGS_SHOWN = 8  # per category: the weakest and the strongest tags by A's AP, when the category has more


def tagging_report(
    task, preds: Sequence[Path], data: Path, options: TaskOptions, videos_dir: Path | None, out: Path, limit: int
) -> tuple[list[Section], dict]:
    dataset = HVUData(data)
    part = options.subset or "val"
    truth = {c.video: c.label for c in dataset.clips(part)}
    labels = names(preds)
    reports = [task.evaluate(p, data, options) for p in preds]
    sections = [scores_section(labels, reports, [*dataset.categories, "overall"])]
    payloads = [predictions_for(p, dataset) for p in preds]
    aps = [
        100 * tag_average_precisions(*scored_clips(payload, truth, pred, part), dataset.tag_category)
        for pred, payload in zip(preds, payloads, strict=True)
    ]
    positives = np.sum(list(truth.values()), axis=0)
    parts = [note("AP per tag (step-wise), over the clips with a label of the tag's category, as evaluate takes it")]
    for c, category in enumerate(dataset.categories):
        tags = [t for t in np.flatnonzero(np.asarray(dataset.tag_category) == c) if aps[0][t] == aps[0][t]]
        tags.sort(key=lambda t: aps[0][t])
        caption = f"{category}: {len(tags)} tags with a positive clip"
        if len(tags) > 2 * TAGS_SHOWN:
            tags = tags[:TAGS_SHOWN] + tags[-TAGS_SHOWN:]
            caption += f"; A's {TAGS_SHOWN} weakest and strongest"
        rows = [[dataset.tags[t], int(positives[t]), *(float(a[t]) for a in aps)] for t in tags]
        parts.append(f"<h3>{caption}</h3>" + table(["tag", "positive clips", *labels], rows))
    sections.append(Section("Per-tag AP", "".join(parts)))
    sections.append(Section(f"Clips (the first {limit})", clip_tags_table(dataset, truth, labels, payloads, limit)))
    return sections, {n: r.as_dict for n, r in zip(labels, reports, strict=True)}


def clip_tags_table(dataset: HVUData, truth: dict, labels: Sequence[str], payloads: Sequence[dict], limit: int) -> str:
    """Per clip: its true tags, and each prediction's highest-scoring tags (as many as there are true ones, at least
    3), a tick on each true one."""
    rows = []
    by_video = [{v["video"]: np.asarray(v["scores"]) for v in p["videos"]} for p in payloads]
    for video in sorted(truth)[:limit]:
        true = np.flatnonzero(truth[video])
        row = [video, ", ".join(dataset.tags[t] for t in true)]
        for scores in by_video:
            if video not in scores:
                row.append("(no prediction)")
                continue
            top = np.argsort(-scores[video], kind="stable")[: max(3, len(true))]
            row.append(
                ", ".join(f"{dataset.tags[t]}{' ✓' if truth[video][t] else ''} {scores[video][t]:.2f}" for t in top)
            )
        rows.append(row)
    return note("✓: a true tag") + table(["clip", "true tags", *labels], rows, sortable=False)


BUILDERS = {
    "segmentation": segmentation_report,
    "detection": detection_report,
    "classification": classification_report,
    "tagging": tagging_report,
}


def report_sections(
    task, preds: Sequence[Path], data: Path | None, options: TaskOptions, videos: Path | None, out: Path, limit: int
) -> tuple[list[Section], dict]:
    """The sections comparing the predictions ``preds`` (A, B, ...) of ``task`` and the scores shown (each
    `evaluate`'s JSON form, by prediction); ``videos``: a folder of the video files."""
    if task.name not in BUILDERS:
        raise NotImplementedError(f"actionline report is not available for {task.name} predictions")
    return BUILDERS[task.name](task, preds, data, options, videos, out, limit)
