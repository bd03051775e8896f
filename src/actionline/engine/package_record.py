"""The record a packaged model carries (its ``config.json``): the task, the model's name and settings, the
classes, the dataset facts (sample rate, background), how the features were extracted, the evaluation stored with
the run and the code version; packaging adds what it measured (`actionline.engine.package`).

`record_from_meta` is the one place that reads a checkpoint's metadata dict for packaging (the typed run record
replaces that dict: only this function changes then); `meta_from_record` gives the engine's functions that take
the metadata dict (prediction, extraction) what they read from it.
"""

from __future__ import annotations

from typing import Any

from actionline.errors import CheckpointError
from actionline.version import __version__

RECORD_FORMAT = "actionline-package/1"
SELECTION = "held-out validation part of the training split (the epoch kept as best)"


def record_from_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The package record of a run whose checkpoint carries ``meta`` (`engine.predictor.load_run`)."""
    dataset = dict(meta.get("dataset", {}))
    best = meta.get("best") or {}
    return {
        "format": RECORD_FORMAT,
        "code_version": __version__,
        "task": meta["task"],
        "model": meta["model"],
        "model_config": meta["model_config"],
        "classes": list(meta["classes"]),
        "dataset": {k: v for k, v in dataset.items() if k not in ("root", "extraction")},  # root: a local path
        "extraction": dataset.get("extraction"),
        "evaluation": {
            "selection": SELECTION,
            "split": dataset.get("split"),
            "background": dataset.get("background"),
            "epoch": best.get("epoch"),
            "metrics": best.get("metrics", {}),
        },
    }


def meta_from_record(record: dict[str, Any]) -> dict[str, Any]:
    """The metadata dict the engine's prediction and extraction read, rebuilt from a package record."""
    if record.get("format") != RECORD_FORMAT:
        raise CheckpointError(f"not an actionline package record (format {record.get('format')!r})")
    dataset = dict(record.get("dataset", {}))
    if record.get("extraction") is not None:
        dataset["extraction"] = record["extraction"]
    return {
        "model": record["model"],
        "model_config": record["model_config"],
        "classes": list(record["classes"]),
        "task": record["task"],
        "dataset": dataset,
    }
