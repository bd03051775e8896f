"""The one run recipe every task uses: run folder, typed config, the task's training plan (videos, validation
carve-out held out of the *training* data, datasets), seed, model, resolved config, trainer.

Also where a command's settings come from: a YAML preset (``<model>_<dataset>.yaml``, ``<model>.yaml`` or
``--config``) merged with ``--set`` overrides, checked against the task's config sections.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console

from actionline.config import as_dict, build, load_yaml, merge
from actionline.engine.distributed import DistInfo
from actionline.engine.run_lock import lock_run, unlock_run
from actionline.engine.run_record import RunMeta
from actionline.engine.trainer import TrainConfig, Trainer, prepare_run_dir, seed_everything, write_run_config
from actionline.errors import ConfigError
from actionline.models.base import TemporalModel
from actionline.models.registry import build_model, model_class
from actionline.tasks.base import Task


def load_preset(model: str, suffix: str, config: str | None) -> dict[str, Any]:
    """``config`` (a YAML file or a preset name), else ``<model>_<suffix>.yaml``, else ``<model>.yaml``, else {}."""
    if config is not None and Path(config).is_file():
        return load_yaml(config)
    presets = resources.files("actionline.configs")
    names = [f"{config}.yaml"] if config is not None else [f"{model}_{suffix}.yaml", f"{model}.yaml"]
    for name in names:
        res = presets / name
        if res.is_file():
            with resources.as_file(res) as p:
                return load_yaml(p)
    if config is not None:
        known = sorted(p.name[:-5] for p in presets.iterdir() if p.name.endswith(".yaml"))
        raise ConfigError(f"config {config!r} is neither a file nor a preset (presets: {', '.join(known)})")
    return {}


def resolve_settings(task: Task, preset: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Merge a preset with ``--set`` overrides; every top-level section must be one the task knows."""
    merged = merge(preset, overrides)
    unknown = sorted(set(merged) - set(task.config_keys))
    if unknown:
        raise ConfigError(f"unknown config section(s) {', '.join(unknown)} (known: {', '.join(task.config_keys)})")
    for key, section in merged.items():
        if not isinstance(section, dict):
            raise ConfigError(f"config section {key!r} must be a mapping of settings, got {section!r}")
    return merged


def train_run(
    task: Task,
    model_name: str,
    data: Any,
    run_dir: str | Path,
    settings: dict[str, Any],
    options: Any,
    resume: bool = False,
    dist: DistInfo | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Train ``model_name`` on ``data`` into ``run_dir``; returns the best-epoch record."""
    dist = dist or DistInfo()
    console = console or Console(stderr=True)
    cls = model_class(model_name)  # unknown names fail here, before data is read
    if cls.task != task.name:
        raise ConfigError(f"model {model_name!r} is a {cls.task} model, not a {task.name} model")
    settings = resolve_settings(task, settings, {})
    if dist.is_main:
        lock_run(Path(run_dir))  # a second writer to this folder is refused while this one trains
    try:
        return _train_locked(task, cls, data, Path(run_dir), settings, options, resume, dist, console)
    finally:
        if dist.is_main:
            unlock_run(Path(run_dir))


def _train_locked(
    task: Task,
    cls: type[TemporalModel],
    data: Any,
    run_dir: Path,
    settings: dict[str, Any],
    options: Any,
    resume: bool,
    dist: DistInfo,
    console: Console,
) -> dict[str, Any]:
    model_name = cls.name
    run_dir = prepare_run_dir(run_dir, resume)
    train_cfg = build(TrainConfig, settings.get("train"), where="train")
    plan = task.plan_training(cls, data, train_cfg, settings, options)
    if "select_metric" not in settings.get("train", {}):
        train_cfg.select_metric = plan.select_default
    if plan.val_videos and train_cfg.select_metric not in plan.metrics:
        raise ConfigError(
            f"train.select_metric {train_cfg.select_metric!r} is not a validation metric ({', '.join(plan.metrics)})"
        )
    seed_everything(train_cfg.seed)
    derived = {**cls.data_settings(plan.classes, plan.background), **plan.model_settings}
    model_settings = {
        **derived,
        **settings.get("model", {}),
        "input_dim": plan.input_dim,
        "num_classes": len(plan.classes),
    }
    model = build_model(model_name, model_settings)
    parts = plan.build(model)
    resolved = {  # config.yaml: the settings as resolved, then the run record
        "model_name": model_name,
        "data": str(data.root),
        **plan.selection,
        "model": as_dict(model.config),
        "train": as_dict(train_cfg),
        **plan.settings_record,
        "train_videos": plan.train_videos,
        "val_videos": plan.val_videos,
        **plan.extra_record,
    }
    meta = RunMeta(task.name, model_name, as_dict(model.config), list(plan.classes), plan.dataset, plan.settings)
    resolved["run"] = meta.to_config()
    trainer = Trainer(
        model, train_cfg, run_dir, parts.train_set, parts.collate, parts.val_set, parts.validate, meta, dist, console
    )
    return trainer.run(resume, parts.summary, before_fit=lambda: write_run_config(run_dir, resolved, dist))
