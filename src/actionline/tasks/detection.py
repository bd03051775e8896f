"""The detection task: training, validation, prediction, evaluation and drawing of temporal action detection
models (TAGS/GSMT, actionness) on annotations.json + features/ datasets.

Each video (or, with ``data.window``, each window of ``window`` features sliding with ``overlap``: the protocol
for long THUMOS-style videos) is resampled to the model's fixed number of snippets by linear interpolation
(`resample_features`). Instances travel as fractions of the clip; predictions return to seconds through the
clip's time span, and the detections of overlapping windows are merged by class-wise Soft-NMS.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from torch.utils.data import DataLoader, Dataset

from actionline.config import as_dict, build
from actionline.data.detection import DetectionData
from actionline.data.instances import (
    DetectionAnnotations,
    FeatureTiming,
    read_annotations,
    read_submission,
    resample_features,
    sliding_windows,
)
from actionline.data.layout import carve_validation
from actionline.data.video import video_file
from actionline.engine.distributed import DistInfo
from actionline.engine.extractor import stored_settings
from actionline.engine.run_record import DatasetRecord, RunMeta, TaskSettings
from actionline.engine.trainer import TrainConfig
from actionline.errors import ActionlineError, CheckpointError, ConfigError, DataError
from actionline.export import to_csv
from actionline.io import atomic_write_text, read_json
from actionline.metrics.detection import (
    ACTIVITYNET_TIOU,
    THUMOS_TIOU,
    evaluate_detection,
    parse_thresholds,
)
from actionline.metrics.detection_errors import FP_TYPES, false_positive_profile, sensitivity
from actionline.models.base import TemporalModel
from actionline.nn.decoding.detection_postprocess import finalize
from actionline.tasks.base import PredictingTask, Report, TrainingData, TrainingPlan
from actionline.tasks.recipe import train_run
from actionline.timeline import (
    Instance,
    Timeline,
    canonical_video_id,
    instances_to_timeline,
    load_timelines,
    save_timelines,
    timeline_to_instances,
)
from actionline.viz import svg
from actionline.viz.html import Section, heading, note, table
from actionline.viz.report import ZOOM, names, scores_section, timeline_block
from actionline.viz.timeline_plot import plot_detections


@dataclass
class DetectionDataConfig:
    """How videos become model inputs. ``window=None``: the whole video (ActivityNet protocol)."""

    window: int | None = None  # features per window for long videos (THUMOS-style)
    overlap: float = 0.5
    min_instance_fraction: float = 0.5  # a window keeps an instance with at least this fraction inside it
    tiou: list[float] | None = None  # validation thresholds; None = ActivityNet 0.5:0.05:0.95

    def validate(self) -> None:
        if self.window is not None and self.window < 2:
            raise ConfigError(f"data.window must be at least 2 features, got {self.window}")
        if not 0 <= self.overlap < 1:
            raise ConfigError(f"data.overlap must be in [0, 1), got {self.overlap}")


@dataclass(frozen=True)
class Clip:
    """A span of one video: features ``[first, last)`` covering ``[start_s, end_s)`` seconds."""

    video: str
    first: int
    last: int
    start_s: float
    end_s: float


def clip_features(snippets: np.ndarray, clip: Clip, length: int) -> torch.Tensor:
    """A clip's snippets [N, D] resampled to the model's ``length``, as the model reads them: [D, length]."""
    return torch.from_numpy(resample_features(snippets[clip.first : clip.last], length).T.copy())


def video_clips(video: str, num_features: int, duration: float, cfg: DetectionDataConfig) -> list[Clip]:
    """The clips of a video of ``num_features`` features spanning ``duration`` seconds."""
    if cfg.window is None:
        return [Clip(video, 0, num_features, 0.0, duration)]
    per_feature = duration / num_features
    return [
        Clip(video, a, b, a * per_feature, b * per_feature)
        for a, b in sliding_windows(num_features, cfg.window, cfg.overlap)
    ]


def clip_instances(
    instances: Sequence[Instance], clip: Clip, class_index: dict[str, int], min_fraction: float
) -> np.ndarray:
    """Instances overlapping ``clip`` by at least ``min_fraction`` of their length, clipped, as rows
    (start, end, class) with times as fractions of the clip."""
    span = clip.end_s - clip.start_s
    rows = []
    for inst in instances:
        if inst.label not in class_index:
            raise DataError(f"video {clip.video}: unknown class {inst.label!r}")
        start, end = max(inst.start, clip.start_s), min(inst.end, clip.end_s)
        if end <= start or (end - start) < min_fraction * max(inst.end - inst.start, 1e-9):
            continue
        rows.append(((start - clip.start_s) / span, (end - clip.start_s) / span, class_index[inst.label]))
    return np.asarray(rows, dtype=np.float32).reshape(-1, 3)


class DetectionClips(Dataset):
    """Resampled clips with their instances, validated and held in memory (inputs are small: [D, snippets])."""

    def __init__(
        self,
        data: DetectionData,
        videos: Sequence[str],
        length: int,
        cfg: DetectionDataConfig,
        classes: Sequence[str],
        with_targets: bool = True,
    ):
        self.items: list[dict[str, Any]] = []
        self.feature_dim: int | None = None
        index = {c: i for i, c in enumerate(classes)}
        for video in videos:
            feats = data.features(video)
            if self.feature_dim is None:
                self.feature_dim = int(feats.shape[1])
            elif feats.shape[1] != self.feature_dim:
                raise DataError(f"video {video}: {feats.shape[1]}-d features, the others are {self.feature_dim}-d")
            for clip in video_clips(video, len(feats), data.duration(video), cfg):
                item: dict[str, Any] = {
                    "clip": clip,
                    "features": clip_features(feats, clip, length),
                }
                if with_targets:
                    rows = clip_instances(data.instances(video), clip, index, cfg.min_instance_fraction)
                    if cfg.window is not None and not len(rows):
                        continue  # windows without actions teach only background; the papers skip them
                    item["instances"] = torch.from_numpy(rows)
                self.items.append(item)
        if not self.items:
            raise DataError("no clips to train on (no videos, or no window holds an instance)")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


def collate_clips(items: list[dict[str, Any]]) -> dict[str, Any]:
    """features [B, D, L]; instances [B, N, 3] padded, num_instances [B]; clips kept as objects."""
    features = torch.stack([it["features"] for it in items])
    batch: dict[str, Any] = {
        "clips": [it["clip"] for it in items],
        "videos": [it["clip"].video for it in items],
        "features": features,
        "mask": torch.ones(features.shape[0], features.shape[-1]),
    }
    if "instances" in items[0]:
        counts = [len(it["instances"]) for it in items]
        padded = torch.zeros(len(items), max(1, max(counts)), 3)
        for b, it in enumerate(items):
            padded[b, : counts[b]] = it["instances"]
        batch["instances"] = padded
        batch["num_instances"] = torch.tensor(counts)
    return batch


def timeline_seconds(timeline: Timeline, clip: Clip) -> list[Instance]:
    """Segments in snippet units of a clip -> instances in seconds of the video (`Timeline.seconds` with the
    clip's snippet rate and start)."""
    fps = timeline.num_frames / (clip.end_s - clip.start_s)
    return timeline_to_instances(replace(timeline, video=clip.video, fps=fps, offset=clip.start_s))


def merge_windows(instances: Sequence[Instance], classes: Sequence[str], model_config: Any) -> list[Instance]:
    """Merge the detections of overlapping windows of one video with the model's class-wise Soft-NMS."""
    if not instances:
        return []
    index = {c: i for i, c in enumerate(classes)}
    starts = np.array([i.start for i in instances])
    ends = np.array([i.end for i in instances])
    labels = np.array([index[i.label] for i in instances])
    scores = np.array([i.score for i in instances])
    s, e, k, p = finalize(
        starts,
        ends,
        labels,
        scores,
        -np.inf,
        model_config.max_detections,
        model_config.nms_method,
        model_config.nms_sigma,
        model_config.nms_iou,
    )
    return [
        Instance(instances[0].video, float(a), float(b), classes[int(c)], float(q))
        for a, b, c, q in zip(s, e, k, p, strict=True)
    ]


@torch.no_grad()
def detect(model: torch.nn.Module, loader: DataLoader, classes: Sequence[str], windowed: bool) -> list[Instance]:
    """Run ``model`` over every clip of ``loader``; instances in seconds, windows merged per video."""
    device = next(model.parameters()).device
    by_video: dict[str, list[Instance]] = {}
    for batch in loader:
        feats = batch["features"].to(device)
        timelines = model.decode(model(feats, batch["mask"].to(device)), batch["mask"], batch["videos"], classes)
        for tl, clip in zip(timelines, batch["clips"], strict=True):
            by_video.setdefault(clip.video, []).extend(timeline_seconds(tl, clip))
    if not windowed:
        return [i for found in by_video.values() for i in found]
    return [i for found in by_video.values() for i in merge_windows(found, classes, model.config)]


def make_validate(data: DetectionData, videos: Sequence[str], classes: Sequence[str], cfg: DetectionDataConfig):
    """A ``validate(model, loader)`` scoring held-out training videos by mAP (never the evaluation subset)."""
    gts = [i for v in videos for i in data.instances(v)]
    thresholds = tuple(cfg.tiou) if cfg.tiou else ACTIVITYNET_TIOU

    def validate(model: torch.nn.Module, loader: DataLoader) -> dict[str, float]:
        model.eval()
        scores = evaluate_detection(gts, detect(model, loader, classes, cfg.window is not None), thresholds)
        metrics = {f"mAP@{t:g}": v for t, v in scores.map.items()}
        metrics["avg_mAP"] = scores.average_map
        metrics["mean"] = scores.average_map
        return metrics

    return validate


def predict_instances(
    model: TemporalModel,
    meta: RunMeta,
    data: DetectionData,
    videos: Sequence[str],
    out: str | Path,
    video_scores: dict[str, dict[str, float]] | None = None,
) -> list[Instance]:
    """Detect actions in ``videos``; write ``out/results.json`` (ActivityNet submission format, seconds) and
    ``out/timelines.json`` (per video, 100 frames per second).

    ``video_scores`` (optional, the ActivityNet convention): per video, class -> video-level score; each
    detection's score is multiplied by its class's score (0 when the class is missing).
    """
    classes = list(meta.classes)
    unknown = sorted({i.label for v in videos for i in data.instances(v)} - set(classes))
    if unknown:
        raise CheckpointError(f"{data.root}: classes {', '.join(unknown[:5])} were not in the run's training classes")
    data_cfg = build(DetectionDataConfig, meta.settings.data_settings, where="data")
    instances: list[Instance] = []
    for video in track(videos, description="detecting", transient=True):
        clips = DetectionClips(data, [video], model.config.input_length, data_cfg, classes, with_targets=False)
        if clips.feature_dim != model.config.input_dim:
            raise CheckpointError(
                f"video {video}: features have {clips.feature_dim} dimensions, the model expects "
                f"{model.config.input_dim}"
            )
        loader = DataLoader(clips, batch_size=8, collate_fn=collate_clips)
        instances += detect(model, loader, classes, data_cfg.window is not None)
    if video_scores is not None:
        instances = [
            Instance(i.video, i.start, i.end, i.label, i.score * video_scores.get(i.video, {}).get(i.label, 0.0))
            for i in instances
        ]
    write_submission(Path(out), instances, videos, data, classes)
    return instances


def submission_file(pred: Path) -> Path:
    """A submission JSON, or the ``results.json`` of a prediction folder."""
    return pred / "results.json" if pred.is_dir() else pred


TIMELINE_FPS = 100.0  # timelines.json of detections: 100 frames per second (10 ms)


def write_submission(
    out: Path, instances: Sequence[Instance], videos: Sequence[str], data: DetectionData, classes: Sequence[str]
) -> None:
    """``out/results.json`` (submission format, detections by descending score) and ``out/timelines.json``."""
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list] = {v: [] for v in videos}
    by_video: dict[str, list[Instance]] = {v: [] for v in videos}
    for i in sorted(instances, key=lambda i: -i.score):
        results[i.video].append({"segment": [round(i.start, 3), round(i.end, 3)], "label": i.label, "score": i.score})
        by_video[i.video].append(i)
    atomic_write_text(
        out / "results.json", json.dumps({"version": "actionline", "results": results, "external_data": {}})
    )
    timelines = [instances_to_timeline(v, by_video[v], data.duration(v), TIMELINE_FPS) for v in videos]
    save_timelines(out / "timelines.json", timelines, classes)


def evaluation_thresholds(tiou: str | None, subset: str | None) -> tuple[float, ...]:
    """``--tiou`` when given, else ActivityNet's 0.5:0.05:0.95 for its subsets and THUMOS' 0.3:0.1:0.7."""
    if tiou:
        return parse_thresholds(tiou)
    anet = subset is not None and subset.lower() in ("validation", "training", "testing")
    return ACTIVITYNET_TIOU if anet else THUMOS_TIOU


@dataclass
class Options:
    """What the detection commands select (a detection dataset has subsets, not splits)."""

    subset: str | None = None  # the annotation subset (default: the dataset's training / evaluation subset)
    annotations: Path | None = None  # the annotation JSON when not <data>/annotations.json
    all_videos: bool = False  # prediction: every video with features instead of a subset
    video_scores: Path | None = None  # prediction: external video-level class scores
    gt: Path | None = None  # evaluation: the ground-truth JSON
    tiou: str | None = None  # evaluation: the tIoU thresholds


class DetectionTask(PredictingTask):
    name = "detection"
    Options = Options
    config_keys = ("model", "train", "data")

    def open_data(self, path: Path, options: Options) -> DetectionData:
        return DetectionData(path, options.annotations)

    def plan_training(
        self, model_cls: type[TemporalModel], data: DetectionData, train: TrainConfig, settings: dict, options
    ) -> TrainingPlan:
        """Train on the videos of ``options.subset`` (default: the dataset's training subset) minus a carved
        validation part; clips are built once the model fixes their length."""
        data_cfg = build(DetectionDataConfig, settings.get("data"), where="data")
        subset = options.subset or data.default_subsets()[0]
        train_videos, val_videos = carve_validation(data.videos(subset), train.val_fraction, train.seed)
        classes = list(data.classes)

        def build_data(model: TemporalModel) -> TrainingData:
            length = model.config.input_length
            train_set = DetectionClips(data, train_videos, length, data_cfg, classes)
            val_set = (
                DetectionClips(data, val_videos, length, data_cfg, classes, with_targets=False) if val_videos else None
            )
            summary = (
                f"{len(train_set)} clips of {len(train_videos)} videos, validating on {len(val_videos)} held out "
                f"of {subset!r}"
            )
            validate = make_validate(data, val_videos, classes, data_cfg)
            return TrainingData(train_set, collate_clips, val_set, validate, summary)

        return TrainingPlan(
            input_dim=int(data.features(train_videos[0]).shape[1]),
            classes=classes,
            train_videos=train_videos,
            val_videos=val_videos,
            build=build_data,
            selection={"subset": subset},
            metrics=(*(f"mAP@{t:g}" for t in data_cfg.tiou or ACTIVITYNET_TIOU), "avg_mAP", "mean"),
            settings_record={"data_settings": as_dict(data_cfg)},
            settings=TaskSettings(data_settings=as_dict(data_cfg)),
            dataset=DatasetRecord(str(data.root), subset=subset, extraction=stored_settings(data.root)),
        )

    def predict(self, model, meta, data: DetectionData, options: Options, out: Path) -> tuple[list, str]:
        if options.all_videos:
            videos = sorted(v for v in data.annotations.durations if (data.root / "features" / f"{v}.npy").is_file())
        else:
            videos = data.videos(options.subset or data.default_subsets()[1])
        scores = read_json(options.video_scores) if options.video_scores is not None else None
        found = predict_instances(model, meta, data, videos, out, scores)
        return found, f"{len(found)} detections in {len(videos)} videos (results.json)"

    def timeline(
        self, model: TemporalModel, meta: RunMeta, features: np.ndarray, video: str, duration: float | None = None
    ) -> Timeline:
        """Snippet features [N, D] (as the detection layout's .npy files) -> the detections as a `Timeline` at
        `TIMELINE_FPS` frames per second, as `predict` writes them to timelines.json: one segment per detection
        (segments may overlap), its score set. ``duration``: the video's seconds (default: N snippets at the
        recorded extraction's stride and fps)."""
        if features.shape[1] != model.config.input_dim:
            raise CheckpointError(
                f"video {video}: features [N, D] have {features.shape[1]} dimensions, the model expects "
                f"{model.config.input_dim}"
            )
        if duration is None:
            if meta.extraction is None:
                raise ConfigError(
                    f"{meta.model}: the run does not record its features' timing (they were not extracted by "
                    "actionline): give the video's duration in seconds"
                )
            duration = len(features) * meta.extraction.stride / meta.extraction.fps
        if not duration > 0:
            raise ConfigError(f"video {video}: duration must be positive, got {duration}")
        data_cfg = build(DetectionDataConfig, meta.settings.data_settings, where="data")
        snippets = np.asarray(features, dtype=np.float32)
        length = model.config.input_length
        clips = [
            {"clip": c, "features": clip_features(snippets, c, length)}
            for c in video_clips(video, len(snippets), duration, data_cfg)
        ]
        loader = DataLoader(clips, batch_size=8, collate_fn=collate_clips)
        found = detect(model, loader, list(meta.classes), data_cfg.window is not None)
        return instances_to_timeline(video, found, duration, TIMELINE_FPS)

    def calibration_inputs(self, model: TemporalModel, meta: RunMeta, limit: int) -> list[tuple]:
        """The clips (resampled snippets) of up to ``limit`` videos spread over the run's training subset."""
        data = DetectionData(meta.dataset.root)
        videos = data.videos(meta.dataset.subset or data.default_subsets()[0])
        chosen = videos[:: max(1, len(videos) // limit)][:limit]
        data_cfg = build(DetectionDataConfig, meta.settings.data_settings, where="data")
        clips = DetectionClips(data, chosen, model.config.input_length, data_cfg, meta.classes, with_targets=False)
        return [(c["features"][None], torch.ones(1, c["features"].shape[-1])) for c in clips.items]

    def predict_features(
        self, model: TemporalModel, meta: RunMeta, features: Path, videos: Iterable[str], out: Path
    ) -> str:
        """Detect in freshly extracted videos (detection layout: snippets and timing files); ``out`` receives
        ``results.json`` (seconds), ``timelines.json`` and ``timelines.csv``. The dataset needs every video's
        duration first, so the videos are all extracted before the model runs."""
        videos = list(videos)
        durations = {}
        for video in videos:
            timing = FeatureTiming(**read_json(features / "features" / f"{video}.json"))
            snippets = np.load(features / "features" / f"{video}.npy", mmap_mode="r").shape[0]
            durations[canonical_video_id(video)] = snippets * timing.stride / timing.fps
        unannotated = DetectionAnnotations(durations, dict.fromkeys(durations, "video"), [])
        data = DetectionData(features, unannotated, classes=list(meta.classes))
        found = predict_instances(model, meta, data, videos, out)
        atomic_write_text(out / "timelines.csv", to_csv(load_timelines(out / "timelines.json")))
        return f"wrote {len(found)} detections in {len(videos)} videos (results.json, timelines.json/.csv)"

    def report(self, preds, data, options: Options, videos: Path | None, out: Path, limit: int):
        return report_sections(self, preds, data, options, videos, out, limit)

    def claims(self, pred: Path) -> bool:
        return (pred.suffix == ".json" and pred.name != "timelines.json") or (pred / "results.json").is_file()

    def evaluate(self, pred: Path, data: Path | None, options: Options) -> Report:
        gt = options.gt or options.annotations or (data / "annotations.json" if data is not None else None)
        if gt is None:
            raise ActionlineError("--gt (or --data with an annotations.json) is required for detection evaluation")
        annotations = read_annotations(gt).select(options.subset)
        thresholds = evaluation_thresholds(options.tiou, options.subset)
        preds = read_submission(
            submission_file(pred)
        )  # predictions on videos without ground truth count as false positives
        s = evaluate_detection(annotations.instances, preds, thresholds)
        details = [
            f"{len(annotations.classes)} classes, {s.num_videos} videos, {s.num_predictions} predictions; "
            "AP averaged over classes in the ground truth, all-point interpolation"
        ]
        return Report(s.headline(), details, s.as_dict())

    def view(self, pred, data, image, videos, max_videos, options: Options) -> Path:
        dataset = DetectionData(data)
        by_video: dict[str, list[Instance]] = {}
        for p in read_submission(submission_file(pred)):
            by_video.setdefault(p.video, []).append(p)
        names = list(videos) if videos else sorted(by_video)[:max_videos]
        missing = [v for v in names if v not in dataset.annotations.durations]
        if missing:
            raise ActionlineError(f"videos not in the annotation file: {', '.join(missing[:5])}")
        rows = [(v, dataset.duration(v), dataset.instances(v), by_video.get(v, [])) for v in names]
        return plot_detections(rows, dataset.classes, image)


def train_detection(
    model_name: str,
    data: DetectionData,
    subset: str | None,
    run_dir: str | Path,
    settings: dict[str, Any],
    resume: bool = False,
    dist: DistInfo | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Train on the videos of ``subset`` (default: the dataset's training subset) minus a carved validation part."""
    options = Options(subset=subset)
    return train_run(DetectionTask(), model_name, data, run_dir, settings, options, resume, dist, console)


def report_sections(
    task: PredictingTask,
    preds: Sequence[Path],
    data: Path | None,
    options: Options,
    videos_dir: Path | None,
    out: Path,
    limit: int,
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
        parts.append(heading(n) + svg.stacked_bar({k: counts[k] for k in FP_TYPES}))
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
        parts.append(
            timeline_block(video, rows_svg, annotations.durations[video], colours, video_file(videos_dir, video), out)
        )
    sections.append(Section("Detections per video (the 10 best of each prediction, opacity = score)", "".join(parts)))
    return sections, {n: r.as_dict for n, r in zip(labels, reports, strict=True)}
