"""What each command does, for any task: the CLI parses options and calls these; they choose the task once
(from the model when training, from the run's metadata when predicting, from the files when evaluating or
viewing) and never branch on it."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rich.console import Console

from actionline.cli.live_view import LiveView, latency_summary
from actionline.engine.device import resolve_device
from actionline.engine.distributed import init_distributed, shutdown
from actionline.engine.extractor import RUNTIMES
from actionline.engine.live import LiveSettings
from actionline.engine.onnx_graph import run_with_onnxruntime
from actionline.engine.predictor import check_same_extraction, load_run
from actionline.engine.run_record import RunMeta
from actionline.errors import ConfigError
from actionline.io import atomic_write_text, staged_folder
from actionline.models.base import TemporalModel
from actionline.models.registry import model_class
from actionline.tasks.base import Report
from actionline.tasks.recipe import load_preset, resolve_settings, train_run
from actionline.tasks.registry import get_task, predicting_task, task_of_files
from actionline.viz.figure_file import image_format
from actionline.viz.html import page


@dataclass
class TaskOptions:
    """The dataset-selection options a command was given, whatever the task; the chosen task turns those set into
    its own typed options (`Task.options`) and refuses any it does not read."""

    split: int = 1  # segmentation, classification (UCF101): the split
    subset: str | None = None  # detection: the annotation subset; classification, tagging: the part
    annotations: Path | None = None  # detection: annotation JSON when not <data>/annotations.json
    supervision: str | None = None  # segmentation training: full | transcript | set | mixed:P
    all_videos: bool = False  # prediction: every video with features instead of a split or subset
    background: tuple[str, ...] | None = None  # segmentation evaluation: labels excluded from Edit/F1
    tiou: str | None = None  # detection evaluation thresholds
    video_scores: Path | None = None  # detection prediction: external video-level class scores
    gt: Path | None = None  # detection evaluation: ground-truth JSON

    def given(self) -> dict[str, Any]:
        """The options set (those that differ from their defaults), by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}


def train(
    model_name: str,
    data_path: Path,
    run_dir: Path,
    flags: TaskOptions,
    config: str | None,
    overrides: dict[str, Any],
    resume: bool,
    console: Console,
) -> tuple[dict[str, Any], bool]:
    """Train in one process or as one `torchrun` rank; returns the best-epoch record and whether this process
    is the main one."""
    task = get_task(model_class(model_name).task)
    options = task.options(flags.given())
    data = task.open_data(data_path, options)
    settings = resolve_settings(task, load_preset(model_name, task.preset_suffix(data), config), overrides)
    device = resolve_device(settings.get("train", {}).get("device", "auto"))
    dist = init_distributed(device)
    try:
        best = train_run(task, model_name, data, run_dir, settings, options, resume, dist, console)
    finally:
        shutdown(dist)
    return best, dist.is_main


def predict(
    run: Path,
    data_path: Path,
    out: Path,
    flags: TaskOptions,
    checkpoint: str,
    overrides: dict[str, Any],
    runtime: str = "torch",
) -> str:
    """Predict with a trained run (``overrides``: ``model.*`` inference-time settings; ``runtime``: torch or
    onnxruntime, `engine.onnx_graph.run_with_onnxruntime`); returns a summary line."""
    model, meta = _load(run, checkpoint, overrides, runtime)
    task = predicting_task(meta.task)
    options = task.options(flags.given())
    check_same_extraction(meta, data_path)
    data = task.open_data(data_path, options)
    with staged_folder(out, marker=task.output_marker) as staging:  # a failed prediction leaves `out` untouched
        summary = task.predict(model, meta, data, options, staging)[1]
    return f"wrote {summary} to {out}"


def predict_video(
    run: Path,
    source: Path,
    out: Path,
    checkpoint: str,
    overrides: dict[str, Any],
    batch_size: int,
    console: Console,
    runtime: str = "torch",
    extract_runtime: str = "torch",
) -> str:
    """Predict a video file (or a folder of them) with the run's task: from features extracted as the run's were
    (segmentation, detection; the backbone run by ``extract_runtime``) or from the pixels (classification)."""
    video_runtimes = [r for r in RUNTIMES if r != "onnxruntime-int8"]  # int8 features: another function, not the run's
    if extract_runtime not in video_runtimes:
        raise ConfigError(f"--extract-runtime must be one of {', '.join(video_runtimes)}, got {extract_runtime!r}")
    model, meta = _load(run, checkpoint, overrides, runtime)
    task = predicting_task(meta.task)
    return task.predict_video(model, meta, source, out, batch_size, console, extract_runtime)


def _load(run: Path, checkpoint: str, overrides: dict[str, Any], runtime: str) -> tuple[TemporalModel, RunMeta]:
    """The run's model and metadata, its forward run by ``runtime`` (torch, or onnxruntime: the run's
    ``model.onnx`` if present, else a graph exported now)."""
    if runtime not in ("torch", "onnxruntime"):
        raise ConfigError(f"--runtime must be torch or onnxruntime, got {runtime!r}")
    model, meta = load_run(run, checkpoint, overrides=model_overrides(overrides))
    if runtime == "onnxruntime":
        run_with_onnxruntime(model.cpu(), Path(run))
    return model, meta


def predict_stream(
    run: Path,
    source: str,
    out: Path,
    checkpoint: str,
    settings: LiveSettings,
    events: Path | None,
    view: bool,
    console: Console,
) -> tuple[str, bool]:
    """Follow a live ``source`` with a causal run (`PredictingTask.predict_stream`): events as JSON lines on stdout
    or into ``events`` as they happen, the optional live view, the latency report at the end. Returns a summary and
    whether the stream was interrupted (everything decided until then is written)."""
    model, meta = load_run(run, checkpoint)
    task = predicting_task(meta.task)
    sink: list = []  # the events file, opened at the first event (a refused stream writes nothing)

    def emit(event: dict) -> None:
        if events is not None and not sink:
            sink.append(open(events, "w", buffering=1))  # a live log, line by line  # noqa: SIM115
        print(json.dumps(event), file=sink[0] if sink else sys.stdout, flush=True)

    with LiveView(console, meta.classes) if view else contextlib.nullcontext() as live:
        try:
            summary, report = task.predict_stream(
                model, meta, source, settings, out, emit, console, live.update if view else None
            )
        finally:
            for file in sink:
                file.close()
    console.print(latency_summary(report), markup=False)
    if report["stopped"]:
        console.print(f"{source}: {report['stopped']}; everything until then is kept", markup=False)
    return summary, report["interrupted"]


def model_overrides(overrides: dict[str, Any]) -> dict[str, Any] | None:
    """The ``model.*`` part of ``predict --set`` (inference-time settings); any other section is an error."""
    unknown = sorted(set(overrides) - {"model"})
    if unknown:
        raise ConfigError(f"predict --set only takes model.* settings, got {', '.join(unknown)}")
    return overrides.get("model")


def evaluate(pred: Path, data: Path | None, flags: TaskOptions, task: str | None = None) -> Report:
    chosen = task_of_files(pred, task)
    return chosen.evaluate(pred, data, chosen.options(flags.given()))


def view(
    pred: Path, data: Path, image: Path, videos: Sequence[str] | None, max_videos: int, flags: TaskOptions
) -> Path:
    image_format(image)  # an image type matplotlib cannot write is refused before any work
    chosen = task_of_files(pred)
    return chosen.view(pred, data, image, videos, max_videos, chosen.options(flags.given()))


def report(
    preds: Sequence[Path],
    data: Path | None,
    out: Path,
    flags: TaskOptions,
    videos: Path | None,
    limit: int,
    task: str | None = None,
) -> Path:
    """The HTML report of ``preds`` (all of one task), written atomically to ``out``."""
    if not preds:
        raise ConfigError("give at least one --pred")
    if len(preds) > 8:
        raise ConfigError(f"at most 8 predictions side by side, got {len(preds)}")
    if limit < 0:
        raise ConfigError(f"--max-videos must be >= 0, got {limit}")
    chosen = task_of_files(preds[0], task)
    for p in preds[1:]:
        if task is None and task_of_files(p) is not chosen:
            raise ConfigError(f"{p}: not a {chosen.name} prediction like {preds[0]}")
    sections, scores = chosen.report(preds, data, chosen.options(flags.given()), videos, out, limit)
    title = f"actionline report: {chosen.name}, " + ", ".join(str(p) for p in preds)
    atomic_write_text(out, page(title, sections, scores))
    return out


def profile_run(run: Path, data_path: Path, flags: TaskOptions, checkpoint: str = "best") -> dict[str, float]:
    """The adaptive cost of a trained clip model averaged over a dataset's test clips (`dataset_cost`)."""
    from actionline.tasks.classification import dataset_cost

    model, meta = load_run(run, checkpoint)
    task = predicting_task(meta.task)
    options = task.options(flags.given())
    return dataset_cost(model, meta, task.eval_clips(task.open_data(data_path, options), options))
