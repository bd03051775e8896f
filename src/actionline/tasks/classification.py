"""The clip-classification task (dissertation ch. 4): training on random clips of labelled videos, validation on the
centre clip of videos held out of the training part, prediction of K uniform clips per video (and of the
non-overlapping clips of any video file), top-1 / top-5 at clip and video level, a confusion-matrix drawing.

Predictions are one ``classification.json``: the classes, the clip length, and per video its clips (frame indices
at the decoding rate, seconds, softmax scores) and the video-level scores (the clips' mean)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from torch.utils.data import DataLoader

from actionline.config import as_dict, build
from actionline.data.clips import (
    ClipData,
    ClipSampling,
    ClipSet,
    DecodedVideos,
    LabelledVideo,
    collate_clips,
)
from actionline.data.layout import carve_validation
from actionline.engine.initial_weights import initialise
from actionline.engine.run_record import DatasetRecord, RunMeta, TaskSettings
from actionline.engine.trainer import TrainConfig
from actionline.errors import ActionlineError, CheckpointError, DataError
from actionline.io import atomic_write_text, read_json, staged_files
from actionline.metrics.classification import average_precision, confusion_matrix, top_k_accuracy
from actionline.models.base import ClassificationModel, TemporalModel
from actionline.models.registry import build_model
from actionline.tasks.base import PredictingTask, Report, TrainingData, TrainingPlan
from actionline.tasks.clips import (
    clip_scores,
    kinetics_scale,
    refuse_extract_runtime,
    score_video_files,
    warn_failures,
)
from actionline.viz.html import Section, heading, note, table
from actionline.viz.report import names, scores_section, top_confusions

PREDICTIONS = "classification.json"
CONVENTION = "top-k: true class among the k best (ties by class index); video = mean softmax of its K clips"


def fixed_cost(model: ClassificationModel) -> float:
    """GMACs of one clip through the same network without adaptive sampling (`plain_settings`): the fixed cost the
    adaptive cost is compared with (Secs. 6.4, 7.3)."""
    plain = build_model(model.name, {**as_dict(model.config), **model.plain_settings()}).eval()
    macs: list[float] = []
    clip_scores(plain, [plain.example_inputs(model.config.frames)[0]], macs)
    return macs[0] / 1e9


def make_validate(classes: Sequence[str]):
    def validate(model: TemporalModel, loader: DataLoader) -> dict[str, float]:
        model.eval()
        labels: list[np.ndarray] = []

        def clips() -> Iterator[torch.Tensor]:
            for batch in loader:
                labels.append(batch["labels"].numpy())
                yield batch["features"]

        s = clip_scores(model, clips())
        y = np.concatenate(labels)
        return {"top1": top_k_accuracy(s, y, 1), "top5": top_k_accuracy(s, y, min(5, len(classes)))}

    return validate


def dataset_cost(model: ClassificationModel, meta: RunMeta, videos: list[LabelledVideo]) -> dict[str, float]:
    """The adaptive cost over a dataset: GMACs of every test clip (K uniform clips per video), counted clip by clip
    at batch size 1 (Sec. 6.4), their mean, min and max, and the fixed cost without the adaptive sampling."""
    c = model.config
    clips = ClipSet(
        videos, build(ClipSampling, meta.settings.clips, where="clips"), c.frames, c.size, "uniform", kinetics_scale
    )
    warn_failures(clips.failures)
    macs: list[float] = []
    loader = DataLoader(clips, batch_size=1, collate_fn=collate_clips)
    clip_scores(model, (b["features"] for b in track(loader, description="counting", transient=True)), macs)
    g = np.array(macs) / 1e9
    return {"clips": len(g), "gmacs_mean": float(g.mean()), "gmacs_min": float(g.min()), "gmacs_max": float(g.max()),
            "gmacs_fixed": fixed_cost(model)}  # fmt: skip


def video_record(video: str, clips: list[tuple[np.ndarray, float | None, np.ndarray]], classes, extra=None) -> dict:
    """One video's entry: its clips (frames, seconds when the rate is known, scores) and their mean scores."""
    scores = np.mean([s for _, _, s in clips], axis=0)
    top = np.argsort(-scores, kind="stable")[:5]
    return {
        "video": video,
        **(extra or {}),
        "clips": [
            {
                "frames": [int(f[0]), int(f[-1]) + 1],
                **({"seconds": [round(f[0] / fps, 3), round((f[-1] + 1) / fps, 3)]} if fps else {}),
                "scores": [round(float(v), 6) for v in s],
            }
            for f, fps, s in clips
        ],
        "scores": [round(float(v), 6) for v in scores],
        "top5": [[classes[i], round(float(scores[i]), 6)] for i in top],
    }


def write_predictions(
    out: Path, classes: Sequence[str], frames: int, records: list[dict], extra: dict | None = None
) -> None:
    payload = {"task": "classification", "classes": list(classes), "clip_frames": frames, **(extra or {})}
    payload["videos"] = records
    atomic_write_text(out / PREDICTIONS, json.dumps(payload, indent=1))


def read_predictions(path: Path) -> dict:
    file = path / PREDICTIONS if path.is_dir() else path
    payload = read_json(file)
    if not isinstance(payload, dict) or payload.get("task") != "classification" or "videos" not in payload:
        raise DataError(f"{file}: not a classification prediction file")
    k = len(payload.get("classes", []))
    for i, rec in enumerate(payload["videos"]):
        ok = isinstance(rec, dict) and isinstance(rec.get("video"), str) and isinstance(rec.get("clips"), list)
        if not ok or len(rec.get("scores", [])) != k or any(len(c.get("scores", [])) != k for c in rec["clips"]):
            raise DataError(f"{file}: video entry {i} is malformed (each needs video, clips and {k} scores)")
    return payload


@dataclass
class Options:
    """What the clip-classification commands select (``--all`` does not apply: a clip dataset lists its videos)."""

    split: int = 1  # UCF101's split number
    subset: str | None = None  # the part to predict / evaluate: test, else val


class ClassificationTask(PredictingTask):
    name = "classification"
    config_keys = ("model", "train", "clips")
    Options = Options
    output_marker = PREDICTIONS

    def open_data(self, path: Path, options: Options) -> ClipData:
        return ClipData(path, options.split)

    def preset_suffix(self, data: ClipData) -> str:
        return data.root.name

    def plan_training(self, model_cls, data: ClipData, train: TrainConfig, settings: dict, options: Options):
        sampling = build(ClipSampling, settings.get("clips"), where="clips")
        labelled = {v.video: v for v in data.videos("train")}
        train_ids, val_ids = carve_validation(list(labelled), train.val_fraction, train.seed)
        decoded = DecodedVideos(sampling.fps, sampling.short_side, sampling.cache_mb * 2**20)

        def build_sets(model: TemporalModel) -> TrainingData:
            c = model.config
            if c.init is not None:
                Console(stderr=True).print(initialise(model, c.init), markup=False)
            train_set = ClipSet(
                [labelled[v] for v in train_ids], sampling, c.frames, c.size, "train", kinetics_scale, decoded
            )
            val_set = ClipSet(
                [labelled[v] for v in val_ids], sampling, c.frames, c.size, "centre", kinetics_scale, decoded
            )
            warn_failures(train_set.failures + val_set.failures)
            if len(train_set) == 0:
                raise DataError(f"{data.root}: no training video decodes")
            summary = f"{len(train_set)} videos, validating on {len(val_set)} held out of the training part"
            return TrainingData(train_set, collate_clips, val_set, make_validate(data.classes), summary)

        return TrainingPlan(
            input_dim=3,
            classes=list(data.classes),
            train_videos=train_ids,
            val_videos=val_ids,
            build=build_sets,
            selection={"split": options.split} if data.layout == "ucf101" else {},
            metrics=("top1", "top5"),
            select_default="top1",
            settings_record={"clips": as_dict(sampling)},
            settings=TaskSettings(clips=as_dict(sampling)),
            dataset=DatasetRecord(str(data.root), split=options.split, layout=data.layout),
        )

    def eval_clips(self, data: ClipData, options: Options) -> list[LabelledVideo]:
        """The videos `predict` and `evaluate` use (the test part, else val; ``--subset`` chooses)."""
        return data.videos(data.eval_part(options.subset))

    def _sampling(self, meta: RunMeta) -> ClipSampling:
        return build(ClipSampling, meta.settings.clips, where="clips")

    def predict(self, model, meta: RunMeta, data: ClipData, options: Options, out: Path):
        classes = list(meta.classes)
        if list(data.classes) != classes:
            raise CheckpointError(f"the run was trained on {len(classes)} classes that differ from {data.root}'s")
        sampling, c = self._sampling(meta), model.config
        part = data.eval_part(options.subset)
        clips = ClipSet(data.videos(part), sampling, c.frames, c.size, "uniform", kinetics_scale)
        warn_failures(clips.failures)
        adaptive = model.adaptive  # the cost varies per clip: counted clip by clip (SGS: at batch size 1, Sec. 6.4)
        loader = DataLoader(clips, batch_size=1 if adaptive and not model.reports_macs else 8, collate_fn=collate_clips)
        macs: list[int] = []
        batches = (b["features"] for b in track(loader, description="predicting", transient=True))
        scores = clip_scores(model, batches, macs)
        k = clips.clips_per_video
        records = []
        for v, video in enumerate(clips.videos):
            entries = [(clips.clip(v * k + j)[1], sampling.fps, scores[v * k + j]) for j in range(k)]
            extra = {"label": classes[video.label]}
            if adaptive:
                extra["clip_gmacs"] = [round(m / 1e9, 6) for m in macs[v * k : (v + 1) * k]]
            records.append(video_record(video.video, entries, classes, extra))
        cost = {"gmacs_fixed": round(fixed_cost(model), 6)} if adaptive else {}
        write_predictions(out, classes, c.frames, records, cost)
        skipped = f", {len(clips.failures)} skipped" if clips.failures else ""
        return records, f"{len(records)} video predictions ({k} clips each, {part} part{skipped})"

    def predict_video(
        self,
        model,
        meta: RunMeta,
        source: Path,
        out: Path,
        batch_size: int,
        console: Console,
        extract_runtime: str = "torch",
    ) -> str:
        """Every non-overlapping clip of each video file (the thesis' test protocol, centre crop), scored, and the
        video's mean; ``out/classification.json``."""
        refuse_extract_runtime(self.name, extract_runtime)
        classes = list(meta.classes)
        records = [
            video_record(path.stem, entries, classes, {"path": str(path)})
            for path, entries in score_video_files(model, self._sampling(meta), source, batch_size, console)
        ]
        with staged_files(out) as staging:
            write_predictions(staging, classes, model.config.frames, records)
        best = "; ".join(f"{r['video']}: {r['top5'][0][0]} ({r['top5'][0][1]:.2f})" for r in records[:5])
        return f"wrote clip and video scores of {len(records)} video(s) to {out / PREDICTIONS} ({best})"

    def report(self, preds, data, options: Options, videos: Path | None, out: Path, limit: int):
        return report_sections(self, preds, data, options, videos, out, limit)

    def claims(self, pred: Path) -> bool:
        return (pred.is_dir() and (pred / PREDICTIONS).is_file()) or pred.name == PREDICTIONS

    def evaluate(self, pred: Path, data: Path | None, options: Options) -> Report:
        if data is None:
            raise ActionlineError("--data is required for classification evaluation")
        dataset = ClipData(data, options.split)
        payload = read_predictions(pred)
        if list(payload["classes"]) != dataset.classes:
            raise DataError(f"{pred}: predicted over other classes than {dataset.root}'s")
        part = dataset.eval_part(options.subset)
        truth: dict[str, LabelledVideo] = {v.video: v for v in dataset.videos(part)}
        found = {r["video"]: r for r in payload["videos"]}
        missing = sorted(set(truth) - set(found))
        clip_s, clip_y, video_s, video_y = [], [], [], []
        for video, rec in found.items():
            if video not in truth:
                continue
            video_s.append(rec["scores"])
            video_y.append(truth[video].label)
            clip_s.extend(c["scores"] for c in rec["clips"])
            clip_y.extend([truth[video].label] * len(rec["clips"]))
        if not video_s:
            raise DataError(f"{pred}: no prediction for any video of the {part} part")
        k = min(5, len(dataset.classes))
        vs, vy, cs, cy = np.array(video_s), np.array(video_y), np.array(clip_s), np.array(clip_y)
        result = {
            "video_top1": top_k_accuracy(vs, vy, 1),
            f"video_top{k}": top_k_accuracy(vs, vy, k),
            "clip_top1": top_k_accuracy(cs, cy, 1),
            f"clip_top{k}": top_k_accuracy(cs, cy, k),
            "num_videos": len(vs),
            "num_clips": len(cs),
            "missing_videos": missing,
            "part": part,
            "convention": CONVENTION,
        }
        headline = (
            f"video top-1 {result['video_top1']:.1f}  top-{k} {result[f'video_top{k}']:.1f}  |  "
            f"clip top-1 {result['clip_top1']:.1f}  top-{k} {result[f'clip_top{k}']:.1f}"
        )
        details = [f"{len(vs)} videos, {len(cs)} clips of the {part} part", f"settings: {CONVENTION}"]
        clip_gmacs = [g for r in found.values() if r["video"] in truth for g in r.get("clip_gmacs", [])]
        if clip_gmacs:
            result["gmacs_mean"] = float(np.mean(clip_gmacs))
            result["gmacs_fixed"] = payload.get("gmacs_fixed")
            details.append(
                f"adaptive cost: {result['gmacs_mean']:.3f} GMACs per clip on average (min {min(clip_gmacs):.3f}, max "
                f"{max(clip_gmacs):.3f}; counted clip by clip) vs {result['gmacs_fixed']:.3f} for the same network "
                "without adaptive sampling"
            )
        if missing:
            details.append(
                f"warning: {len(missing)} video(s) without a prediction are left out: {', '.join(missing[:5])}"
            )
        return Report(headline, details, result)

    def view(self, pred: Path, data: Path, image: Path, videos, max_videos: int, options: Options) -> Path:
        """The video-level confusion matrix as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from actionline.viz.figure_file import save_figure

        dataset = ClipData(data, options.split)
        payload = read_predictions(pred)
        truth = {v.video: v.label for v in dataset.videos(dataset.eval_part(None))}
        rows = [(truth[r["video"]], int(np.argmax(r["scores"]))) for r in payload["videos"] if r["video"] in truth]
        if not rows:
            raise DataError(f"{pred}: no prediction for a video of {dataset.root}")
        y, p = zip(*rows, strict=True)
        cm = confusion_matrix(np.array(p), np.array(y), len(dataset.classes))
        n = len(dataset.classes)
        fig, ax = plt.subplots(figsize=(2 + 0.4 * n, 1.5 + 0.4 * n))
        ax.imshow(cm, cmap="Blues")
        ax.set_xticks(range(n), dataset.classes, rotation=90)
        ax.set_yticks(range(n), dataset.classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for (i, j), v in np.ndenumerate(cm):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
        fig.tight_layout()
        return save_figure(fig, image, dpi=100)


def report_sections(
    task: PredictingTask,
    preds: Sequence[Path],
    data: Path,
    options: Options,
    videos_dir: Path | None,
    out: Path,
    limit: int,
) -> tuple[list[Section], dict]:
    dataset = ClipData(data, options.split)
    truth = {v.video: v.label for v in dataset.videos(dataset.eval_part(options.subset))}
    labels = names(preds)
    reports = [task.evaluate(p, data, options) for p in preds]
    keys = [k for k in reports[0].as_dict if k.startswith(("video_top", "clip_top"))]
    sections = [scores_section(labels, reports, keys)]
    aps, confusions = [], []
    for p in preds:
        records = [r for r in read_predictions(p)["videos"] if r["video"] in truth]
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
        parts.append(heading(n) + top_confusions(cm, dataset.classes, "videos"))
    sections.append(Section("Top confusions (videos)", "".join(parts)))
    return sections, {n: r.as_dict for n, r in zip(labels, reports, strict=True)}
