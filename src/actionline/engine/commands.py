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
from actionline.engine.recipe import load_preset, resolve_settings, train_run
from actionline.engine.task import Report, TaskOptions
from actionline.engine.tasks import get_task, task_of_files
from actionline.errors import ConfigError
from actionline.models.registry import model_class


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
    unknown = sorted(set(overrides) - {"model"})
    if unknown:
        raise ConfigError(f"predict --set only takes model.* settings, got {', '.join(unknown)}")
    model, meta = load_run(run, checkpoint, overrides=overrides.get("model"))
    task = get_task(meta.get("task", "segmentation"))
    data = task.open_data(data_path, options)
    return task.predict(model, meta, data, options, out)[1]


def evaluate(pred: Path, data: Path | None, options: TaskOptions, task: str | None = None) -> Report:
    return task_of_files(pred, task).evaluate(pred, data, options)


def view(pred: Path, data: Path, image: Path, videos: Sequence[str] | None, max_videos: int, split: int) -> Path:
    return task_of_files(pred).view(pred, data, image, videos, max_videos, split)
