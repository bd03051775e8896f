"""The segmentation task on MS-TCN-layout datasets: training plan (supervision, validation carve-out), prediction
at full frame rate (MS-TCN label files + ``timelines.json``), a live stream's timeline (`predict --stream`),
evaluation with the MS-TCN conventions, drawing.

`train_segmentation` and `predict_segmentation` are the Python API for one split."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from torch.utils.data import DataLoader

from actionline.data.layout import SegmentationData, carve_validation
from actionline.data.live_video import kind_of
from actionline.data.predictions import label_indices, read_predictions, write_mstcn_prediction
from actionline.data.video import video_file
from actionline.engine.distributed import DistInfo
from actionline.engine.extractor import stored_settings
from actionline.engine.live import LiveSettings, StreamOutcome, run_stream
from actionline.engine.predictor import load_run
from actionline.engine.run_record import DatasetRecord, RunMeta, TaskSettings
from actionline.engine.trainer import TrainConfig
from actionline.errors import ActionlineError, CheckpointError, ConfigError, DataError
from actionline.export import to_csv, to_srt
from actionline.io import atomic_write_text, read_matrix, staged_folder
from actionline.metrics.segmentation import DEFAULT_BACKGROUND, SegmentationSettings, evaluate_segmentation
from actionline.metrics.segmentation_errors import (
    boundary_offsets,
    frame_confusion,
    over_under_segmentation,
    per_class_f1,
)
from actionline.models.base import TemporalModel
from actionline.tasks.base import PredictingTask, Report, TrainingData, TrainingPlan
from actionline.tasks.batching import SegmentationVideos, collate
from actionline.tasks.recipe import train_run
from actionline.tasks.supervision import Supervision
from actionline.timeline import Timeline, save_timelines, upsample_labels
from actionline.viz import svg
from actionline.viz.html import Section, heading, note, table
from actionline.viz.report import ZOOM, names, scores_section, seconds, timeline_block, top_confusions
from actionline.viz.timeline_plot import plot_timelines


def make_validate(classes: Sequence[str], background: Sequence[str] = DEFAULT_BACKGROUND):
    """A ``validate(model, loader)`` scoring held-out videos at the training sample rate."""
    settings = SegmentationSettings(background=tuple(background))

    @torch.no_grad()
    def validate(model: TemporalModel, loader: DataLoader) -> dict[str, float]:
        model.eval()
        preds, gts = [], []
        device = next(model.parameters()).device
        for batch in loader:
            feats, mask = batch["features"].to(device), batch["mask"].to(device)
            targets = {"labels": batch["labels"].to(device)}
            timelines = model.decode(model(feats, mask), mask, batch["videos"], classes, targets=targets)
            for b, t in enumerate(timelines):
                n = int(batch["mask"][b].sum())
                preds.append(t.to_labels(classes))
                gts.append(batch["labels"][b, :n].numpy())
        scores = evaluate_segmentation(preds, gts, settings, classes=classes).as_dict()
        metrics = {k: float(v) for k, v in scores.items() if k in ("acc", "edit", "f1@10", "f1@25", "f1@50")}
        metrics["mean"] = float(np.mean(list(metrics.values())))
        return metrics

    return validate


@torch.no_grad()
def predict_videos(
    model: TemporalModel, meta: RunMeta, data: SegmentationData, videos: Sequence[str], out: str | Path
) -> list[Timeline]:
    """Predict ``videos`` of ``data`` at its sample rate; write ``out/<video>`` MS-TCN label files at full frame
    rate and ``out/timelines.json``."""
    classes = list(meta.classes)
    if list(data.classes) != classes:
        raise CheckpointError(
            f"the run was trained on {len(classes)} classes that differ from {data.root / 'mapping.txt'} "
            f"({len(data.classes)} classes)"
        )
    sr = data.info.sample_rate
    trained_rate = meta.dataset.sample_rate
    if trained_rate is not None and trained_rate != sr:
        raise CheckpointError(
            f"the run was trained at sample rate {trained_rate}, but {data.root} declares {sr}: predictions would "
            "be made on frames the model never saw at that spacing (set the dataset's sample_rate to match)"
        )

    def videos_with_labels() -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
        for video in videos:
            has_gt = (data.root / "groundTruth" / f"{video}.txt").is_file()
            yield video, data.features(video), data.labels(video) if has_gt else None

    return segment_videos(model, classes, videos_with_labels(), sr, data.info.fps, Path(out))


@torch.no_grad()
def segment_videos(
    model: TemporalModel,
    classes: list[str],
    videos: Iterable[tuple[str, np.ndarray, np.ndarray | None]],
    sample_rate: int,
    fps: float | None,
    out: Path,
) -> list[Timeline]:
    """Segment each (video, features [D, T] at full frame rate, labels or None) at ``sample_rate``; write
    ``out/<video>`` MS-TCN label files at full frame rate and ``out/timelines.json``. Labels, when a video has them,
    reach the decoder only for oracle analyses (e.g. BaFormer Table 5)."""
    out.mkdir(parents=True, exist_ok=True)
    timelines = []
    for video, full, gt in track(videos, description="predicting", transient=True):
        timeline = segment_video(model, full, classes, sample_rate, fps, video, gt)
        dense = timeline.to_labels(classes)
        write_mstcn_prediction(out / video, [classes[i] for i in dense])
        timelines.append(timeline)
    save_timelines(out / "timelines.json", timelines, classes)
    return timelines


def segment_video(
    model: TemporalModel,
    full: np.ndarray,
    classes: Sequence[str],
    sample_rate: int,
    fps: float | None,
    video: str,
    labels: np.ndarray | None = None,
) -> Timeline:
    """The full-frame-rate timeline of one video's features ``full`` [D, T]: the model sees every
    ``sample_rate``-th frame, its labels and segment scores are repeated back to every frame. ``labels`` (full
    rate) serve oracle analyses only."""
    if full.shape[0] != model.config.input_dim:
        raise CheckpointError(
            f"video {video}: features have {full.shape[0]} dimensions, the model expects {model.config.input_dim}"
        )
    dev = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(full[:, ::sample_rate], dtype=np.float32))[None].to(dev)
    mask = torch.ones(1, x.shape[-1], device=dev)
    targets = None
    if labels is not None:
        targets = {"labels": torch.from_numpy(labels[: full.shape[1] : sample_rate][: x.shape[-1]])[None].to(dev)}
    coarse = model.decode(model(x, mask), mask, [video], classes, targets=targets)[0]
    dense = upsample_labels(coarse.to_labels(classes), sample_rate, full.shape[1])
    seg_scores = [s.score if s.score is not None else np.nan for s in coarse.segments]
    frame_scores = np.repeat(seg_scores, [s.length for s in coarse.segments])
    scores = upsample_labels(frame_scores, sample_rate, full.shape[1])
    return Timeline.from_labels(video, dense, classes, fps=fps, scores=None if np.isnan(scores).any() else scores)


def write_viewable(out: Path, timelines: list[Timeline], classes: Sequence[str], background: Sequence[str]) -> str:
    """Beside the MS-TCN files and ``timelines.json``: ``timelines.csv``, one SRT per video (background left out)
    and ``timelines.png``; returns what was written."""
    atomic_write_text(out / "timelines.csv", to_csv(timelines))
    for timeline in timelines:
        atomic_write_text(out / "srt" / f"{timeline.video}.srt", to_srt(timeline, skip=background))
    image = plot_timelines([(t.video, None, t) for t in timelines], classes, out / "timelines.png", background)
    return f"wrote {len(timelines)} timelines (timelines.json, timelines.csv, srt/, {image.name})"


def write_stream(
    out: Path, outcome: StreamOutcome, name: str, classes: Sequence[str], background: Sequence[str], events: list[dict]
) -> str:
    """A stream's outputs, all or nothing: the smoothed frame labels as an MS-TCN file and ``timelines.json``, the
    viewable forms (`write_viewable`), ``events.jsonl`` (the events as emitted) and ``latency.json``."""
    smoother = outcome.smoother
    timeline = Timeline.from_labels(
        name, smoother.labels, classes, fps=outcome.log.fps, scores=np.asarray(smoother.scores)
    )
    with staged_folder(out, marker="timelines.json") as staging:
        write_mstcn_prediction(staging / name, [classes[i] for i in smoother.labels])
        save_timelines(staging / "timelines.json", [timeline], classes)
        written = write_viewable(staging, [timeline], classes, background)
        atomic_write_text(staging / "events.jsonl", "".join(json.dumps(e) + "\n" for e in events))
        atomic_write_text(staging / "latency.json", json.dumps(outcome.report(), indent=1))
    return f"{written} plus events.jsonl and latency.json to {out}"


def evaluation_background(dataset: SegmentationData, options: Options) -> tuple[str, ...]:
    """The labels left out of Edit / F1: ``--background`` (``none``: no label), by default ``background`` (the
    MS-TCN script's convention)."""
    bg = options.background or ("background",)
    if bg == ("none",):
        return ()
    unknown = [b for b in bg if options.background and b not in dataset.class_index]
    if unknown:
        raise ActionlineError(f"--background {unknown[0]!r} is not a class of {dataset.root / 'mapping.txt'}")
    return tuple(bg)


CALIBRATION_LENGTH = 2048  # positions per calibration video (static int8)


@dataclass
class Options:
    """What the segmentation commands select."""

    split: int = 1  # splits/{train,test}.split<N>.bundle
    supervision: str | None = None  # training: full | transcript | set | mixed:P (default: the model's own)
    all_videos: bool = False  # prediction: every video with features instead of the test split
    background: tuple[str, ...] | None = None  # evaluation: the labels left out of Edit / F1


class SegmentationTask(PredictingTask):
    name = "segmentation"
    Options = Options

    def open_data(self, path: Path, options: Options) -> SegmentationData:
        return SegmentationData(path)

    def preset_suffix(self, data: SegmentationData) -> str:
        return data.info.name.removeprefix("synthetic-")

    def plan_training(
        self,
        model_cls: type[TemporalModel],
        data: SegmentationData,
        train: TrainConfig,
        settings: dict,
        options: Options,
    ) -> TrainingPlan:
        """With weak labels there are no dense labels to validate on: no validation part, ``best`` = last epoch."""
        allowed = model_cls.supervisions
        sup = Supervision.parse(options.supervision or allowed[0])
        if sup.mode not in allowed:
            raise ConfigError(f"model {model_cls.name} trains with --supervision {' | '.join(allowed)}, not {sup.mode}")
        fraction = 0.0 if sup.weak else train.val_fraction
        train_videos, val_videos = carve_validation(data.split("train", options.split), fraction, train.seed)
        sup.choose_full(train_videos, train.seed)
        train_set = SegmentationVideos(
            data, train_videos, supervision=sup if sup.mode != "full" or allowed != ("full",) else None
        )
        val_set = SegmentationVideos(data, val_videos) if val_videos else None
        if val_set is not None and val_set.feature_dim != train_set.feature_dim:
            raise DataError(
                f"validation features have {val_set.feature_dim} dimensions, training features {train_set.feature_dim}"
            )
        summary = (
            f"{len(train_videos)} videos, validating on {len(val_videos)} held out of the training split "
            f"{options.split}"
        )
        return TrainingPlan(
            input_dim=train_set.feature_dim,
            classes=list(data.classes),
            train_videos=train_videos,
            val_videos=val_videos,
            build=lambda model: TrainingData(train_set, collate, val_set, make_validate(data.classes), summary),
            selection={"split": options.split},
            metrics=("acc", "edit", "f1@10", "f1@25", "f1@50", "mean"),
            background=tuple(data.info.background),
            extra_record={
                "supervision": {"mode": sup.mode, "fraction": sup.fraction, "full_videos": sorted(sup.full_videos)}
            },
            settings=TaskSettings(supervision=options.supervision or allowed[0]),
            dataset=DatasetRecord(
                str(data.root),
                split=options.split,
                sample_rate=data.info.sample_rate,
                background=tuple(data.info.background),
                extraction=stored_settings(data.root),
            ),
        )

    def predict(
        self, model: TemporalModel, meta: RunMeta, data: SegmentationData, options: Options, out: Path
    ) -> tuple[list[Timeline], str]:
        if options.all_videos:
            videos = sorted(p.stem for p in (data.root / "features").glob("*.npy"))
            if not videos:
                raise ActionlineError(f"{data.root / 'features'}: no .npy feature files")
        else:
            videos = data.split("test", options.split)
        timelines = predict_videos(model, meta, data, videos, out)
        return timelines, f"{len(timelines)} predictions"

    def timeline(
        self, model: TemporalModel, meta: RunMeta, features: np.ndarray, video: str, duration: float | None = None
    ) -> Timeline:
        """Features [D, T] at full frame rate -> the timeline (`segment_video` at the run's sample rate); its fps
        is the recorded extraction's, else T / ``duration`` when given."""
        fps = meta.extraction.fps if meta.extraction else (features.shape[1] / duration if duration else None)
        return segment_video(model, features, meta.classes, meta.dataset.sample_rate or 1, fps, video)

    def calibration_inputs(self, model: TemporalModel, meta: RunMeta, limit: int) -> list[tuple]:
        """Up to ``limit`` videos spread over the run's training split, at its sample rate, each cut to its first
        `CALIBRATION_LENGTH` positions (activation ranges, not whole videos, are what calibration needs)."""
        data = SegmentationData(meta.dataset.root)
        videos = data.split("train", meta.dataset.split or 1)
        rate = meta.dataset.sample_rate or 1
        inputs = []
        for video in videos[:: max(1, len(videos) // limit)][:limit]:
            x = np.ascontiguousarray(data.features(video)[:, ::rate][:, :CALIBRATION_LENGTH], dtype=np.float32)
            inputs.append((torch.from_numpy(x)[None], torch.ones(1, x.shape[1])))
        return inputs

    def predict_features(
        self, model: TemporalModel, meta: RunMeta, features: Path, videos: Iterable[str], out: Path
    ) -> str:
        """Segment freshly extracted videos: ``out`` receives MS-TCN files, ``timelines.json``, ``timelines.csv``,
        one SRT per video (background left out) and ``timelines.png``."""
        dataset = meta.dataset
        rate = dataset.sample_rate or 1
        background = dataset.background if dataset.background is not None else DEFAULT_BACKGROUND
        fps = meta.extraction.fps  # predict --video extracts only as the run's features were (so they are recorded)
        arrays = ((v, read_matrix(features / "features" / f"{v}.npy", "[D, T]"), None) for v in videos)
        timelines = segment_videos(model, list(meta.classes), arrays, rate, fps, out)
        return write_viewable(out, timelines, meta.classes, background)

    def predict_stream(
        self,
        model: TemporalModel,
        meta: RunMeta,
        source: str,
        settings: LiveSettings,
        out: Path,
        emit: Callable[[dict], None],
        console: Console,
        on_frame: Callable | None = None,
    ) -> tuple[str, dict]:
        events: list[dict] = []

        def record(event: dict) -> None:
            events.append(event)
            emit(event)

        outcome = run_stream(model, meta, source, settings, record, console, on_frame)
        name = Path(source).stem if kind_of(source) == "file" else "stream"
        dataset = meta.dataset
        background = dataset.background if dataset.background is not None else DEFAULT_BACKGROUND
        return write_stream(out, outcome, name, list(meta.classes), background, events), outcome.report()

    def report(self, preds, data, options: Options, videos: Path | None, out: Path, limit: int):
        return report_sections(self, preds, data, options, videos, out, limit)

    def claims(self, pred: Path) -> bool:
        return (pred.is_dir() and not (pred / "results.json").is_file()) or pred.name == "timelines.json"

    def evaluate(self, pred: Path, data: Path | None, options: Options) -> Report:
        if data is None:
            raise ActionlineError("--data is required for segmentation evaluation")
        dataset = SegmentationData(data)
        bg = evaluation_background(dataset, options)
        videos = dataset.split("test", options.split)
        preds = label_indices(read_predictions(pred, videos), videos, dataset.class_index)
        gts = [dataset.labels(v) for v in videos]
        s = evaluate_segmentation(preds, gts, SegmentationSettings(background=bg), videos, dataset.classes)
        details = [
            f"MoF-BG {s.acc_no_bg:.1f}  matching {s.matching:.1f}  IoU {s.iou:.1f}  IoD {s.iod:.1f}  "
            f"({s.num_videos} videos, {s.num_frames} frames)",
            f"settings: {s.settings.describe()}",
        ]
        return Report(s.headline(), details, s.as_dict())

    def view(self, pred, data, image, videos, max_videos, options: Options) -> Path:
        dataset = SegmentationData(data)
        names = list(videos) if videos else dataset.split("test", options.split)[:max_videos]
        indices = label_indices(read_predictions(pred, names), names, dataset.class_index)
        rows = []
        for v, p in zip(names, indices, strict=True):
            has_gt = (dataset.root / "groundTruth" / f"{v}.txt").is_file()
            gt = Timeline.from_labels(v, dataset.labels(v), dataset.classes) if has_gt else None
            rows.append((v, gt, Timeline.from_labels(v, p, dataset.classes)))
        return plot_timelines(rows, dataset.classes, image, background=dataset.info.background)


def train_segmentation(
    model_name: str,
    data: SegmentationData,
    split: int,
    run_dir: str | Path,
    settings: dict[str, Any],
    resume: bool = False,
    dist: DistInfo | None = None,
    console: Console | None = None,
    supervision: str | None = None,
) -> dict[str, Any]:
    """Train ``model_name`` on ``split`` of ``data`` into ``run_dir``; returns the best-epoch record.

    ``supervision`` (`Supervision.parse`; default: the model's own, e.g. ``transcript`` for MuCon)."""
    options = Options(split=split, supervision=supervision)
    return train_run(SegmentationTask(), model_name, data, run_dir, settings, options, resume, dist, console)


def predict_segmentation(
    run: str | Path, data: SegmentationData, videos: Sequence[str], out: str | Path, **load: Any
) -> list[Timeline]:
    """Predict ``videos`` of ``data`` with a trained run; ``load``: `load_run`'s ``which``, ``device`` and
    ``overrides`` (inference-time model settings)."""
    model, meta = load_run(run, **load)
    if meta.task != "segmentation":
        raise CheckpointError(f"{run}: a {meta.task} run, not a segmentation run")
    return predict_videos(model, meta, data, videos, out)


def report_sections(
    task: PredictingTask,
    preds: Sequence[Path],
    data: Path,
    options: Options,
    videos_dir: Path | None,
    out: Path,
    limit: int,
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
        rows_svg = [("truth", seconds(Timeline.from_labels(v, gts[i], classes), fps))]
        rows_svg += [
            (n[:12], seconds(Timeline.from_labels(v, p[i], classes), fps))
            for n, p in zip(labels, predicted, strict=True)
        ]
        timelines.append(timeline_block(v, rows_svg, len(gts[i]) / fps, colours, video_file(videos_dir, v), out))
    if len(videos) > limit:
        timelines.append(note(f"{len(videos) - limit} more videos not drawn (--max-videos)"))
    sections.append(Section("Timelines (hover a segment; click it to seek the video)", "".join(timelines)))

    parts = []
    for n, p in zip(labels, predicted, strict=True):
        parts.append(heading(n) + top_confusions(frame_confusion(p, gts, len(classes)), classes, "frames"))
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
        parts.append(heading(f"{n}: boundary offsets (frames; positive = the prediction changes later)")
                     + svg.histogram(np.clip(offsets, edges[0], edges[-1]), edges))  # fmt: skip
    intro = table(["prediction", "fragments (over-seg.)", "merges (under-seg.)", "boundaries", "median |offset|"], rows)
    sections.append(Section("Over- and under-segmentation, boundary offsets", intro + "".join(parts)))
    return sections, {n: r.as_dict for n, r in zip(labels, reports, strict=True)}
