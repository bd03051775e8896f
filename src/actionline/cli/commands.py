"""What each command does, for any task: the CLI parses options and calls these; they choose the task once
(from the model when training, from the run's metadata when predicting, from the files when evaluating or
viewing) and never branch on it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from actionline.engine.device import resolve_device
from actionline.engine.distributed import init_distributed, shutdown
from actionline.engine.predictor import load_run
from actionline.errors import ConfigError
from actionline.io import atomic_write_text, staged_folder
from actionline.models.registry import model_class
from actionline.tasks.base import Report, TaskOptions
from actionline.tasks.recipe import load_preset, resolve_settings, train_run
from actionline.tasks.registry import get_task, task_of_files
from actionline.viz.html import page


def train(
    model_name: str,
    data_path: Path,
    run_dir: Path,
    options: TaskOptions,
    config: str | None,
    overrides: dict[str, Any],
    resume: bool,
    console: Console,
) -> tuple[dict[str, Any], bool]:
    """Train in one process or as one `torchrun` rank; returns the best-epoch record and whether this process
    is the main one."""
    task = get_task(model_class(model_name).task)
    task.check_options(options)
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
    run: Path, data_path: Path, out: Path, options: TaskOptions, checkpoint: str, overrides: dict[str, Any]
) -> str:
    """Predict with a trained run (``overrides``: ``model.*`` inference-time settings); returns a summary line."""
    model, meta = load_run(run, checkpoint, overrides=model_overrides(overrides))
    task = get_task(meta.task)
    task.check_options(options)
    data = task.open_data(data_path, options)
    with staged_folder(out, marker=task.output_marker) as staging:  # a failed prediction leaves `out` untouched
        summary = task.predict(model, meta, data, options, staging)[1]
    return f"wrote {summary} to {out}"


def predict_video(
    run: Path, source: Path, out: Path, checkpoint: str, overrides: dict[str, Any], batch_size: int, console: Console
) -> str:
    """Predict a video file (or a folder of them) with the run's task: from features extracted as the run's were
    (segmentation, detection) or from the pixels (classification)."""
    model, meta = load_run(run, checkpoint, overrides=model_overrides(overrides))
    return get_task(meta.task).predict_video(model, meta, source, out, batch_size, console)


def model_overrides(overrides: dict[str, Any]) -> dict[str, Any] | None:
    """The ``model.*`` part of ``predict --set`` (inference-time settings); any other section is an error."""
    unknown = sorted(set(overrides) - {"model"})
    if unknown:
        raise ConfigError(f"predict --set only takes model.* settings, got {', '.join(unknown)}")
    return overrides.get("model")


def evaluate(pred: Path, data: Path | None, options: TaskOptions, task: str | None = None) -> Report:
    chosen = task_of_files(pred, task)
    chosen.check_options(options)
    return chosen.evaluate(pred, data, options)


def view(pred: Path, data: Path, image: Path, videos: Sequence[str] | None, max_videos: int, split: int) -> Path:
    return task_of_files(pred).view(pred, data, image, videos, max_videos, split)


def report(
    preds: Sequence[Path],
    data: Path | None,
    out: Path,
    options: TaskOptions,
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
    chosen.check_options(options)
    sections, scores = chosen.report(preds, data, options, videos, out, limit)
    title = f"actionline report: {chosen.name}, " + ", ".join(str(p) for p in preds)
    atomic_write_text(out, page(title, sections, scores))
    return out


def profile_run(run: Path, data_path: Path, options: TaskOptions, checkpoint: str = "best") -> dict[str, float]:
    """The adaptive cost of a trained clip model averaged over a dataset's test clips (`dataset_cost`)."""
    from actionline.tasks.classification import dataset_cost

    model, meta = load_run(run, checkpoint)
    task = get_task(meta.task)
    task.check_options(options)
    return dataset_cost(model, meta, task.eval_clips(task.open_data(data_path, options), options))
