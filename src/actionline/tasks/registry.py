"""The tasks by name, and choosing one from prediction files (``--task`` overrides)."""

from __future__ import annotations

from pathlib import Path

from actionline.errors import ActionlineError, ConfigError
from actionline.tasks.base import PredictingTask, Task
from actionline.tasks.classification import ClassificationTask
from actionline.tasks.detection import DetectionTask
from actionline.tasks.segmentation import SegmentationTask
from actionline.tasks.tagging import TaggingTask
from actionline.tasks.transfer import TransferTask

TASKS: dict[str, Task] = {
    t.name: t for t in (SegmentationTask(), DetectionTask(), ClassificationTask(), TaggingTask(), TransferTask())
}
CLAIM_ORDER = ("classification", "tagging", "detection", "segmentation")  # the most specific format first


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r} (tasks: {', '.join(TASKS)})")
    return TASKS[name]


def predicting_task(name: str) -> PredictingTask:
    """The task ``name`` for commands on predictions; a task whose runs predict nothing says so."""
    task = get_task(name)
    if not isinstance(task, PredictingTask):
        raise ActionlineError(task.predicts_nothing)
    return task


def task_of_files(pred: Path, explicit: str | None = None) -> PredictingTask:
    """The task whose prediction format ``pred`` is, or the ``explicit`` one."""
    if explicit is not None:
        return predicting_task(explicit)
    for name in CLAIM_ORDER:
        task = predicting_task(name)
        if task.claims(pred):
            return task
    raise ConfigError(f"{pred}: not a prediction folder, timelines.json or submission JSON (pass --task)")
