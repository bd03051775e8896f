"""The record a packaged model carries (its ``config.json``): the run's typed record (`RunMeta`: task, model name
and settings, classes, dataset facts with the extraction settings, task settings, code version), the evaluation
stored with the run, and what packaging measured (`actionline.engine.package`).

`record_from_meta` and `meta_from_record` are the one place that maps between a `RunMeta` and the package's JSON.
"""

from __future__ import annotations

from typing import Any

from actionline.engine.run_record import RunMeta
from actionline.errors import CheckpointError

RECORD_FORMAT = "actionline-package/1"
SELECTION = "held-out validation part of the training split (the epoch kept as best)"


def record_from_meta(meta: RunMeta) -> dict[str, Any]:
    """The package record of a run whose checkpoint carries ``meta`` (`engine.predictor.load_run`)."""
    best = meta.best or {}
    return {
        "format": RECORD_FORMAT,
        "run": meta.to_checkpoint(),  # dataset.root: where the run's data was, kept as provenance
        "evaluation": {
            "selection": SELECTION,
            "split": meta.dataset.split,
            "background": list(meta.dataset.background or []),
            "epoch": best.get("epoch"),
            "metrics": best.get("metrics", {}),
        },
    }


def meta_from_record(record: dict[str, Any], where: str = "config.json") -> RunMeta:
    """The `RunMeta` of a package record (prediction and extraction read it as they read a run's)."""
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT or not isinstance(record.get("run"), dict):
        raise CheckpointError(f"{where}: not an actionline package record (format {RECORD_FORMAT})")
    return RunMeta.from_checkpoint(record["run"], where)
