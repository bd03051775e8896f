"""The tasks by name, and choosing one from prediction files (``--task`` overrides)."""

from __future__ import annotations

from pathlib import Path

from actionline.errors import ConfigError
from actionline.tasks.base import Task
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


def task_of_files(pred: Path, explicit: str | None = None) -> Task:
    """The task whose prediction format ``pred`` is, or the ``explicit`` one."""
    if explicit is not None:
        return get_task(explicit)
    for name in CLAIM_ORDER:
        if TASKS[name].claims(pred):
            return TASKS[name]
    raise ConfigError(f"{pred}: not a prediction folder, timelines.json or submission JSON (pass --task)")
