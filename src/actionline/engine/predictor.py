"""A trained run, ready to predict: the model of a checkpoint in eval mode and the metadata stored with it
(model name and settings, classes, task, dataset facts), and the check that a feature folder was extracted as the
run's training features were. Every task's prediction starts here."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from actionline.engine.checkpoint import load_checkpoint
from actionline.engine.device import resolve_device
from actionline.engine.extractor import SETTINGS_FILE, stored_settings
from actionline.engine.run_record import ExtractionSettings, RunMeta
from actionline.errors import CheckpointError, ConfigError
from actionline.models.base import TemporalModel
from actionline.models.registry import build_model, model_class

CHECKPOINTS = ("best", "last")


def load_run(
    run: str | Path, which: str = "best", device: str = "auto", overrides: dict | None = None
) -> tuple[TemporalModel, RunMeta]:
    """The model of ``run/checkpoints/{which}.pt`` (or of a checkpoint file) in eval mode, and its run record.

    ``overrides`` change settings that only act at inference (each model declares its ``inference_settings``,
    e.g. BaFormer's ``voting`` or ``boundaries``); any other setting is a `ConfigError`.
    """
    if which not in CHECKPOINTS:
        raise ConfigError(f"--checkpoint must be best or last, got {which!r}")
    run = Path(run)
    path = run / "checkpoints" / f"{which}.pt" if run.is_dir() else run
    if run.is_dir() and not path.is_file() and (run / "config.yaml").is_file():
        raise CheckpointError(f"{path}: no checkpoint yet (was training interrupted before the first epoch?)")
    ckpt = load_checkpoint(path)
    meta = RunMeta.from_checkpoint(ckpt, path)
    cls = model_class(meta.model)
    fixed = sorted(set(overrides or {}) - cls.inference_settings)
    if fixed:
        allowed = ", ".join(sorted(cls.inference_settings)) or "none"
        raise ConfigError(
            f"model.{fixed[0]} is fixed by training; {meta.model}'s inference-time settings are: {allowed}"
        )
    known = {f.name for f in fields(cls.Config)}
    model = build_model(meta.model, {**meta.model_settings(known), **(overrides or {})})
    try:
        model.load_state_dict(ckpt["model_state"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit model {meta.model!r}: {str(exc)[:200]}") from exc
    if meta.epoch and meta.trained_epochs:
        # staged models (RTK Sec. 4.1) decode as they did when this checkpoint was validated and chosen
        model.set_epoch(meta.epoch, meta.trained_epochs)
    model.to(resolve_device(device)).eval()
    return model, meta


def check_same_extraction(meta: RunMeta, data: Path) -> None:
    """Refuse the feature folder ``data`` when its ``extraction.json`` and the run's record both say how features
    were extracted and they differ in a setting that changes the features (`ExtractionSettings.differences`: e.g.
    int8 features for a run trained on fp32 ones, or another fps with the same dimension), which the model would
    otherwise read without any error. A side without a record (runs trained on features that actionline did not
    extract, folders made by hand) is not checked."""
    trained = meta.extraction
    given = stored_settings(data) if trained is not None and Path(data).is_dir() else None
    if trained is None or given is None:
        return
    different = trained.differences(given)
    if different:
        listed = "; ".join(f"{k} {_shown(trained, k)} vs {_shown(given, k)}" for k in different)
        raise ConfigError(
            f"{Path(data) / SETTINGS_FILE}: these features were extracted otherwise than the {meta.model} run's "
            f"training features (run vs folder: {listed}); extract the videos as the run's were: {trained.describe()}"
        )


def _shown(settings: ExtractionSettings, name: str) -> str:
    """A setting's value for a message: digests cut to 12 hex digits, None as "none"."""
    value = getattr(settings, name)
    if value is None:
        return "none (fp32)" if name == "int8" else "none"
    text = str(value)
    return text[: text.find(":") + 13] + "..." if name in ("weights", "int8") and len(text) > 24 else text
