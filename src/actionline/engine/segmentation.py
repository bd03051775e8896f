"""Training and validation of segmentation models on an MS-TCN-layout dataset (used by the CLI and demo)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch.utils.data import DataLoader

from actionline.config import as_dict, build, merge
from actionline.data.layout import SegmentationData, carve_validation
from actionline.engine.batching import SegmentationVideos, collate
from actionline.engine.distributed import DistInfo
from actionline.engine.supervision import Supervision
from actionline.engine.trainer import TrainConfig, Trainer, prepare_run_dir, seed_everything, write_run_config
from actionline.errors import ConfigError, DataError
from actionline.metrics.segmentation import DEFAULT_BACKGROUND, SegmentationSettings, evaluate_segmentation
from actionline.models.registry import build_model, model_class

CONFIG_KEYS = ("model", "train")


def make_validate(classes: Sequence[str], background: Sequence[str] = DEFAULT_BACKGROUND):
    """A ``validate(model, loader)`` scoring held-out videos at the training sample rate."""
    settings = SegmentationSettings(background=tuple(background))

    @torch.no_grad()
    def validate(model: torch.nn.Module, loader: DataLoader) -> dict[str, float]:
        model.eval()
        preds, gts = [], []
        device = next(model.parameters()).device
        for batch in loader:
            feats, mask = batch["features"].to(device), batch["mask"].to(device)
            targets = {"labels": batch["labels"].to(device)}
            timelines = model.decode(model(feats, mask), mask, batch["videos"], classes, targets=targets)
            for b, t in enumerate(timelines):
                n = int(batch["mask"][b].sum())
                preds.append(t.to_labels(classes))
                gts.append(batch["labels"][b, :n].numpy())
        scores = evaluate_segmentation(preds, gts, settings, classes=classes).as_dict()
        metrics = {k: float(v) for k, v in scores.items() if k in ("acc", "edit", "f1@10", "f1@25", "f1@50")}
        metrics["mean"] = float(np.mean(list(metrics.values())))
        return metrics

    return validate


def resolve_settings(
    model: str,
    preset: dict[str, Any],
    overrides: dict[str, Any],
    keys: Sequence[str] = CONFIG_KEYS,
    task: str = "segmentation",
) -> dict[str, Any]:
    """Merge a YAML preset with ``--set`` overrides; check top-level keys and that ``model`` is a ``task`` model."""
    merged = merge(preset, overrides)
    unknown = sorted(set(merged) - set(keys))
    if unknown:
        raise ConfigError(f"unknown config section(s) {', '.join(unknown)} (known: {', '.join(keys)})")
    found = getattr(model_class(model), "task", "segmentation")  # unknown names fail here, before data is read
    if found != task:
        raise ConfigError(f"model {model!r} is a {found} model, not a {task} model")
    return merged


def train_segmentation(
    model_name: str,
    data: SegmentationData,
    split: int,
    run_dir: str | Path,
    settings: dict[str, Any],
    resume: bool = False,
    dist: DistInfo | None = None,
    console: Console | None = None,
    supervision: str | None = None,
) -> dict[str, Any]:
    """Train ``model_name`` on ``split`` of ``data`` into ``run_dir``; returns the best-epoch record.

    ``supervision`` (`Supervision.parse`; default: the model's own, e.g. ``transcript`` for MuCon): with weak
    labels there are no dense labels to validate on, so no validation part is carved and ``best`` is the last
    epoch."""
    dist = dist or DistInfo()
    console = console or Console(stderr=True)
    run_dir = prepare_run_dir(run_dir, resume)
    train_cfg = build(TrainConfig, settings.get("train"), where="train")
    allowed = getattr(model_class(model_name), "supervisions", ("full",))
    sup = Supervision.parse(supervision or allowed[0])
    if sup.mode not in allowed:
        raise ConfigError(f"model {model_name} trains with --supervision {' | '.join(allowed)}, not {sup.mode}")
    fraction = 0.0 if sup.weak else train_cfg.val_fraction
    train_videos, val_videos = carve_validation(data.split("train", split), fraction, train_cfg.seed)
    sup.choose_full(train_videos, train_cfg.seed)
    train_set = SegmentationVideos(
        data, train_videos, supervision=sup if sup.mode != "full" or allowed != ("full",) else None
    )
    val_set = SegmentationVideos(data, val_videos) if val_videos else None
    input_dim = train_set.feature_dim
    if val_set is not None and val_set.feature_dim != input_dim:
        raise DataError(f"validation features have {val_set.feature_dim} dimensions, training features {input_dim}")
    seed_everything(train_cfg.seed)
    model_settings = {**settings.get("model", {}), "input_dim": input_dim, "num_classes": len(data.classes)}
    model = build_model(model_name, model_settings)
    resolved = {
        "model_name": model_name,
        "data": str(data.root),
        "split": split,
        "model": as_dict(model.config),
        "train": as_dict(train_cfg),
        "train_videos": train_videos,
        "val_videos": val_videos,
        "supervision": {"mode": sup.mode, "fraction": sup.fraction, "full_videos": sorted(sup.full_videos)},
    }
    write_run_config(run_dir, resolved, dist)
    meta = {
        "model": model_name,
        "model_config": as_dict(model.config),
        "classes": list(data.classes),
        "task": model.task,
        "supervision": supervision or allowed[0],
        "dataset": {
            "root": str(data.root),
            "split": split,
            "sample_rate": data.info.sample_rate,
            "background": list(data.info.background),
        },
    }
    trainer = Trainer(
        model, train_cfg, run_dir, train_set, collate, val_set, make_validate(data.classes), meta, dist, console
    )
    return trainer.run(
        resume,
        f"{len(train_videos)} videos, validating on {len(val_videos)} held out of the training split {split}",
    )
