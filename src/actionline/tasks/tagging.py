"""The tagging task (HVU, dissertation ch. 5): multi-label, multi-task tags of clips. Training on random clips of
the HVU training part (validation held out of it, scored by the Overall mAP), prediction of K uniform clips per clip
of the validation part (or of every non-overlapping clip of any video file, with a timeline of the tags that hold),
per-category mAP.

Predictions are one ``tags.json``: the tags, their categories, and per video its clips' tag scores (sigmoid) and the
video's mean; `predict --video` adds ``tag_timeline.csv`` (tag, category, start, end seconds: the runs of clips
where the tag scores 0.5 or more)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from torch.utils.data import DataLoader

from actionline.config import as_dict, build
from actionline.data.clips import ClipSampling, ClipSet, DecodedVideos, collate_clips
from actionline.data.hvu import HVUData
from actionline.data.layout import carve_validation
from actionline.engine.run_record import DatasetRecord, RunMeta, TaskSettings
from actionline.engine.trainer import TrainConfig
from actionline.errors import ActionlineError, CheckpointError, DataError
from actionline.io import atomic_write_text, read_json, staged_files
from actionline.metrics.tagging import category_map, tag_average_precisions
from actionline.tasks.base import PredictingTask, Report, TrainingData, TrainingPlan
from actionline.tasks.clips import (
    clip_scores,
    kinetics_scale,
    refuse_extract_runtime,
    score_video_files,
    warn_failures,
)
from actionline.viz.html import Section, heading, note, table
from actionline.viz.report import names, scores_section

PREDICTIONS = "tags.json"
THRESHOLD = 0.5  # a tag "holds" in a clip from this score on (the timeline of `predict --video`)
MAX_TAG_NAMES = 40  # `view` names the tags of a category up to this many
CONVENTION = (
    "per-category mAP over the clips with a label of that category, labels without positives dropped; Overall = "
    "the mean of the categories; AP step-wise (scikit-learn's average_precision_score)"
)


def rounded(scores: np.ndarray) -> list[float]:
    return [round(float(x), 5) for x in scores]


def make_validate(categories: list[str], tag_category: list[int]):
    def validate(model, loader: DataLoader) -> dict[str, float]:
        model.eval()
        labels: list[np.ndarray] = []

        def clips():
            for batch in loader:
                labels.append(batch["labels"].numpy())
                yield batch["features"]

        scores = clip_scores(model, clips(), sigmoid=True)
        return category_map(scores, np.concatenate(labels), categories, tag_category)

    return validate


def read_predictions(path: Path) -> dict:
    file = path / PREDICTIONS if path.is_dir() else path
    payload = read_json(file)
    if not isinstance(payload, dict) or payload.get("task") != "tagging" or "videos" not in payload:
        raise DataError(f"{file}: not a tagging prediction file")
    n = len(payload.get("tags", []))
    if any(len(v.get("scores", [])) != n for v in payload["videos"]):
        raise DataError(f"{file}: every video needs {n} tag scores")
    return payload


def predictions_for(pred: Path, dataset: HVUData) -> dict:
    """The predictions at ``pred``, which must be over ``dataset``'s tags."""
    payload = read_predictions(pred)
    if payload["tags"] != dataset.tags:
        raise DataError(f"{pred}: predicted over other tags than {dataset.root}'s")
    return payload


def scored_clips(payload: dict, truth: dict[str, np.ndarray], pred: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    """The video-level scores [clips, tags] of the predicted clips of ``truth`` and their labels."""
    found = [v for v in payload["videos"] if v["video"] in truth]
    if not found:
        raise DataError(f"{pred}: no prediction for a clip of the {part} part")
    return np.array([v["scores"] for v in found]), np.array([truth[v["video"]] for v in found])


def tag_timeline(entries, tags: list[str], categories: list[str], tag_category: list[int]) -> list[dict]:
    """The runs of consecutive clips in which each tag scores >= THRESHOLD, in seconds."""
    out = []
    for t, tag in enumerate(tags):
        run_start = None
        for k, (idx, fps, scores) in enumerate([*entries, (None, None, None)]):
            on = scores is not None and scores[t] >= THRESHOLD
            if on and run_start is None:
                run_start = idx[0] / fps
            if not on and run_start is not None:
                prev_idx, prev_fps, _ = entries[k - 1]
                out.append({"tag": tag, "category": categories[tag_category[t]], "start": round(run_start, 3),
                            "end": round((prev_idx[-1] + 1) / prev_fps, 3)})  # fmt: skip
                run_start = None
    return sorted(out, key=lambda r: (r["start"], r["tag"]))


@dataclass
class Options:
    """What the tagging commands select (HVU has parts, not splits)."""

    subset: str | None = None  # the HVU part to predict / evaluate (default: val)


class TaggingTask(PredictingTask):
    name = "tagging"
    config_keys = ("model", "train", "clips")
    Options = Options
    output_marker = PREDICTIONS

    def open_data(self, path: Path, options: Options) -> HVUData:
        return HVUData(path)

    def plan_training(self, model_cls, data: HVUData, train: TrainConfig, settings: dict, options: Options):
        sampling = build(ClipSampling, settings.get("clips"), where="clips")
        clips = {c.video: c for c in data.clips("train")}
        train_ids, val_ids = carve_validation(list(clips), train.val_fraction, train.seed)
        decoded = DecodedVideos(sampling.fps, sampling.short_side, sampling.cache_mb * 2**20)

        def build_sets(model) -> TrainingData:
            c = model.config
            train_set = ClipSet(
                [clips[v] for v in train_ids], sampling, c.frames, c.size, "train", kinetics_scale, decoded
            )
            val_set = ClipSet(
                [clips[v] for v in val_ids], sampling, c.frames, c.size, "centre", kinetics_scale, decoded
            )
            warn_failures(train_set.failures + val_set.failures)
            skipped = ", ".join(f"{len(v)} {k}" for k, v in data.skipped.items())
            summary = f"{len(train_set)} clips ({skipped or 'none'} skipped), validating on {len(val_set)}"
            return TrainingData(
                train_set, collate_clips, val_set, make_validate(data.categories, data.tag_category), summary
            )

        sizes = [data.tag_category.count(i) for i in range(len(data.categories))]
        return TrainingPlan(
            input_dim=3,
            classes=list(data.tags),
            train_videos=train_ids,
            val_videos=val_ids,
            build=build_sets,
            selection={},
            metrics=(*data.categories, "overall"),
            select_default="overall",
            model_settings={"category_sizes": sizes},
            settings_record={"clips": as_dict(sampling)},
            settings=TaskSettings(clips=as_dict(sampling), categories=data.categories, tag_category=data.tag_category),
            dataset=DatasetRecord(str(data.root)),
        )

    def eval_clips(self, data: HVUData, options: Options):
        """The clips `predict` and `evaluate` use (the val part; ``--subset`` chooses)."""
        return data.clips(options.subset or "val")

    def _payload(self, meta: RunMeta, records: list[dict]) -> str:
        s = meta.settings
        payload = {"task": "tagging", "tags": meta.classes, "categories": s.categories, "tag_category": s.tag_category}
        return json.dumps({**payload, "videos": records})

    def predict(self, model, meta: RunMeta, data: HVUData, options: Options, out: Path):
        if list(data.tags) != list(meta.classes):
            raise CheckpointError(f"the run was trained on other tags than {data.root}'s")
        sampling, c = build(ClipSampling, meta.settings.clips, where="clips"), model.config
        part = options.subset or "val"
        clips = ClipSet(data.clips(part), sampling, c.frames, c.size, "uniform", kinetics_scale)
        warn_failures(clips.failures)
        loader = DataLoader(clips, batch_size=8, collate_fn=collate_clips)
        scores = clip_scores(
            model, (b["features"] for b in track(loader, description="tagging", transient=True)), sigmoid=True
        )
        k = clips.clips_per_video
        records = []
        for n, v in enumerate(clips.videos):
            entries = []
            for j in range(k):
                idx = clips.clip(n * k + j)[1]
                entries.append({"frames": [int(idx[0]), int(idx[-1]) + 1], "scores": rounded(scores[n * k + j])})
            records.append({"video": v.video, "clips": entries, "scores": rounded(scores[n * k : (n + 1) * k].mean(0))})
        atomic_write_text(out / PREDICTIONS, self._payload(meta, records))
        return records, f"{len(records)} tagged clips of the {part} part ({k} clips each)"

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
        refuse_extract_runtime(self.name, extract_runtime)
        sampling, tags = build(ClipSampling, meta.settings.clips, where="clips"), list(meta.classes)
        scored = score_video_files(model, sampling, source, batch_size, console, sigmoid=True)
        records, rows = [], ["video,tag,category,start,end"]
        for path, entries in scored:
            timeline = tag_timeline(entries, tags, meta.settings.categories, meta.settings.tag_category)
            records.append({
                "video": path.stem, "path": str(path),
                "clips": [{"seconds": [round(i[0] / fps, 3), round((i[-1] + 1) / fps, 3)], "scores": rounded(s)}
                          for i, fps, s in entries],
                "scores": rounded(np.mean([s for _, _, s in entries], axis=0)),
                "timeline": timeline,
            })  # fmt: skip
            rows += [f"{path.stem},{r['tag']},{r['category']},{r['start']},{r['end']}" for r in timeline]
        with staged_files(out) as staging:  # both files or neither
            atomic_write_text(staging / PREDICTIONS, self._payload(meta, records))
            atomic_write_text(staging / "tag_timeline.csv", "\n".join(rows) + "\n")
        return f"wrote the tags of {len(records)} video(s) to {out} ({PREDICTIONS}, tag_timeline.csv)"

    def report(self, preds, data, options: Options, videos: Path | None, out: Path, limit: int):
        return report_sections(self, preds, data, options, videos, out, limit)

    def claims(self, pred: Path) -> bool:
        return (pred.is_dir() and (pred / PREDICTIONS).is_file()) or pred.name == PREDICTIONS

    def evaluate(self, pred: Path, data: Path | None, options: Options) -> Report:
        if data is None:
            raise ActionlineError("--data (the HVU folder) is required for tagging evaluation")
        dataset = HVUData(data)
        payload = predictions_for(pred, dataset)
        part = options.subset or "val"
        truth = {c.video: c.label for c in dataset.clips(part)}
        scores, targets = scored_clips(payload, truth, pred, part)
        step = category_map(scores, targets, dataset.categories, dataset.tag_category)
        trapezoid = category_map(scores, targets, dataset.categories, dataset.tag_category, ap="trapezoid")
        every = category_map(scores, targets, dataset.categories, dataset.tag_category, clips="all")
        headline = "  ".join(f"{k} {v:.1f}" for k, v in step.items())
        details = [
            f"{len(scores)} clips of the {part} part ({len(truth) - len(scores)} without a prediction)",
            "trapezoidal AP: " + "  ".join(f"{k} {v:.1f}" for k, v in trapezoid.items()),
            "over all clips (a missing category's tags as negatives): "
            + "  ".join(f"{k} {v:.1f}" for k, v in every.items()),
            f"settings: {CONVENTION}",
        ]
        return Report(
            headline,
            details,
            {**step, "trapezoid": trapezoid, "all_clips": every, "num_clips": len(scores), "convention": CONVENTION},
        )

    def view(self, pred: Path, data: Path, image: Path, videos, max_videos: int, options: Options) -> Path:
        """Every tag's AP on the val part as bars, one panel per category, sorted, its mAP in the title."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from actionline.viz.figure_file import save_figure

        dataset = HVUData(data)
        payload = predictions_for(pred, dataset)
        truth = {c.video: c.label for c in dataset.clips("val")}
        aps = 100 * tag_average_precisions(*scored_clips(payload, truth, pred, "val"), dataset.tag_category)
        fig, axes = plt.subplots(len(dataset.categories), 1, figsize=(10, 2.6 * len(dataset.categories)), squeeze=False)
        for c, (category, ax) in enumerate(zip(dataset.categories, axes[:, 0], strict=True)):
            tags = [t for t in np.flatnonzero(np.asarray(dataset.tag_category) == c) if aps[t] == aps[t]]
            tags.sort(key=lambda t: -aps[t])
            ax.bar(range(len(tags)), [aps[t] for t in tags], color="tab:blue")
            if len(tags) <= MAX_TAG_NAMES:
                ax.set_xticks(range(len(tags)), [dataset.tags[t] for t in tags], rotation=90, fontsize=7)
            else:
                ax.set_xlabel(f"{len(tags)} tags, best first")
            ax.set_ylim(0, 100)
            ax.set_ylabel("AP")
            mean = f"mAP {np.mean([aps[t] for t in tags]):.1f}" if tags else "no tag with a positive clip"
            ax.set_title(f"{category}: {mean}", fontsize=9)
        fig.suptitle(f"{pred.name}: per-tag AP on the val part ({CONVENTION.split(';')[0]})", fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 0.98))
        return save_figure(fig, image, dpi=100)


TAGS_SHOWN = 8  # per category: the weakest and the strongest tags by A's AP, when the category has more


def report_sections(
    task: PredictingTask,
    preds: Sequence[Path],
    data: Path,
    options: Options,
    videos_dir: Path | None,
    out: Path,
    limit: int,
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
        parts.append(heading(caption) + table(["tag", "positive clips", *labels], rows))
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
