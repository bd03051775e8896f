"""The typed record of a trained run (`RunMeta`): its task, classes, dataset (with the feature extraction
settings), model name and settings, task settings and the code version. It is stored in every checkpoint (flat,
beside the weights and training state) and in ``config.yaml`` (the ``run`` section); this module is the only one
that reads or writes those entries by name.

Checkpoints written before the record existed still load: a missing ``task`` means segmentation (the only task
then), missing entries take their defaults, and the code version is unknown (None).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from actionline.errors import CheckpointError, ConfigError
from actionline.version import __version__

# Bounds of the extraction settings, far beyond any use (videos are recorded at <= 240 fps; clip backbones take <= 64
# frames) and low enough that a mistyped value is refused instead of decoding for ever or allocating without end.
MAX_FPS = 1000.0
MAX_WINDOW = 256
MAX_STRIDE = 100_000


@dataclass(frozen=True)
class ExtractionSettings:
    """What determines extracted features; stored in ``extraction.json`` beside them and in the run record of runs
    trained on them, so that ``predict --video`` extracts new videos the same way. The defaults here are the only
    ones (the CLI's ``extract`` options take them from this class)."""

    backbone: str
    weights: str | None  # sha256 of the weights file ("packaged:<sha256>" for weights that ship with a package)
    fps: float = 15.0
    window: int = 21
    stride: int = 1
    layout: Literal["segmentation", "detection"] = "segmentation"
    feature_dim: int = 0
    causal: bool = False  # segmentation windows end at their frame (what a live stream can compute)
    mode: Literal["exact", "sliding"] = "exact"  # sliding: a clip backbone's one pass (engine.extractor)
    int8: str | None = None  # sha256 of the static int8 graph the features came from (engine.int8_backbone)

    DETECTION_STRIDE: ClassVar[int] = 16  # the detection layout's snippet stride when none is asked for

    @classmethod
    def request(
        cls,
        backbone: str,
        fps: float | None = None,
        window: int | None = None,
        stride: int | None = None,
        layout: str = "segmentation",
        causal: bool = False,
        mode: str = "exact",
    ) -> ExtractionSettings:
        """The settings asked for, with the defaults filled in and checked (extraction adds the weights' digest and
        the feature size). The segmentation layout has a vector per frame, so it takes no stride."""
        if layout not in ("segmentation", "detection"):
            raise ConfigError(f"--layout must be segmentation or detection, got {layout!r}")
        if layout == "segmentation" and stride is not None:
            raise ConfigError("--stride is for the detection layout; segmentation gives a vector per frame at --fps")
        requested = cls(
            backbone,
            None,
            cls.fps if fps is None else fps,
            cls.window if window is None else window,
            (cls.DETECTION_STRIDE if stride is None else stride) if layout == "detection" else 1,
            layout,  # type: ignore[arg-type]
            causal=causal,
            mode=mode,  # type: ignore[arg-type]
        )
        requested.check()
        return requested

    def check(self) -> None:
        if not (math.isfinite(self.fps) and 0 < self.fps <= MAX_FPS):
            raise ConfigError(f"--fps must be a number in (0, {MAX_FPS:g}], got {self.fps}")
        if not 1 <= self.window <= MAX_WINDOW:
            raise ConfigError(f"--window must be between 1 and {MAX_WINDOW} frames, got {self.window}")
        if not 1 <= self.stride <= MAX_STRIDE:
            raise ConfigError(f"--stride must be between 1 and {MAX_STRIDE} frames, got {self.stride}")
        if self.causal and self.layout != "segmentation":
            raise ConfigError("--causal windows are for the segmentation layout (a vector per frame)")
        if self.mode not in ("exact", "sliding"):
            raise ConfigError(f"--mode must be exact or sliding, got {self.mode!r}")
        if self.mode == "sliding" and self.layout != "segmentation":
            raise ConfigError("--mode sliding is for the segmentation layout (a vector per frame)")
        if self.mode == "sliding" and self.causal:
            raise ConfigError(
                "--mode sliding sees frames after each one (its spans have context on both sides), so it "
                "cannot be --causal"
            )

    def describe(self) -> str:
        weights = "random weights" if self.weights is None else "weights " + self.weights[:20]
        return (
            f"{self.backbone} ({self.feature_dim}-d, {weights}), {self.fps:g} fps, window {self.window}, "
            f"{self.layout} layout"
            + (f", stride {self.stride}" if self.layout == "detection" else "")
            + (", causal windows" if self.causal else "")
            + (", sliding mode" if self.mode == "sliding" else "")
            + (f", int8 graph {self.int8[:12]}" if self.int8 else "")
        )

    def differences(self, other: ExtractionSettings) -> list[str]:
        """The settings in which ``other`` computes another function of the video: all but ``feature_dim``, which
        follows from the backbone and which prediction checks against the model's input on its own."""
        return [
            f.name for f in fields(self) if f.name != "feature_dim" and getattr(self, f.name) != getattr(other, f.name)
        ]

    def as_dict(self) -> dict[str, Any]:
        """The stored form; settings added later (``causal``, ``mode``, ``int8``) are left out at their defaults, so
        settings that do not use them read and write as before they existed."""
        added = {"causal": False, "mode": "exact", "int8": None}
        return {k: v for k, v in asdict(self).items() if not (k in added and v == added[k])}

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str) -> ExtractionSettings:
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"{where}: not extraction settings ({exc})") from None


@dataclass(frozen=True)
class DatasetRecord:
    """The dataset a run was trained on, as far as prediction needs it (entries a task does not use stay None)."""

    root: str
    split: int | None = None  # segmentation, classification (UCF101)
    subset: str | None = None  # detection: the annotation subset trained on
    layout: str | None = None  # classification: the clip dataset's layout
    sample_rate: int | None = None  # segmentation: features per ground-truth frame
    background: tuple[str, ...] | None = None  # segmentation: the "no action" labels
    extraction: ExtractionSettings | None = None  # how the features were extracted, when actionline did it

    def as_dict(self) -> dict[str, Any]:
        """The checkpoint's ``dataset`` entry (entries that are None left out, as before the record existed)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        if self.background is not None:
            out["background"] = list(self.background)
        if self.extraction is not None:
            out["extraction"] = self.extraction.as_dict()
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> DatasetRecord:
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        extraction = values.get("extraction")
        return cls(
            **{k: v for k, v in values.items() if k in known and k not in ("extraction", "background")},
            background=tuple(values["background"]) if values.get("background") is not None else None,
            extraction=ExtractionSettings.from_dict(extraction, "dataset.extraction") if extraction else None,
        )


@dataclass(frozen=True)
class TaskSettings:
    """Settings a task fixes at training and needs again when predicting (entries a task does not use stay None)."""

    clips: dict[str, Any] | None = None  # clip tasks: the `ClipSampling` trained with
    data_settings: dict[str, Any] | None = None  # detection: the `DetectionDataConfig` trained with
    supervision: str | None = None  # segmentation: full | transcript | set | mixed:P
    categories: list[str] | None = None  # tagging: the category names
    tag_category: list[int] | None = None  # tagging: each tag's category index


TASK_KEYS = tuple(f.name for f in fields(TaskSettings))
RETIRED_SETTINGS = {"sgs_after": 0}  # recorded by older runs of every clip model, at this value, now only on SGS models


@dataclass(frozen=True)
class RunMeta:
    """What a run is, beside its weights: enough to rebuild the model and predict with it from the checkpoint alone.

    ``epoch``, ``best`` and ``trained_epochs`` are the checkpoint's own (its epoch, the best validation record so far,
    the epochs training was set to); they are read from checkpoints, never written by the record (the trainer writes
    them with the training state).
    """

    task: str
    model: str
    model_config: dict[str, Any]
    classes: list[str]
    dataset: DatasetRecord
    settings: TaskSettings = field(default_factory=TaskSettings)
    code_version: str | None = __version__
    epoch: int | None = None
    best: dict[str, Any] | None = None
    trained_epochs: int | None = None  # the epochs the training run was set to (``train.epochs``)

    def model_settings(self, known: Collection[str]) -> dict[str, Any]:
        """The settings to rebuild the model with: ``model_config`` without settings the model no longer has that
        older runs recorded at their neutral value (`RETIRED_SETTINGS`); any other unknown setting stays, to be
        refused by the model's config."""
        retired = {k for k, v in RETIRED_SETTINGS.items() if k not in known and self.model_config.get(k, v) == v}
        return {k: v for k, v in self.model_config.items() if k not in retired}

    @property
    def extraction(self) -> ExtractionSettings | None:
        return self.dataset.extraction

    def to_checkpoint(self) -> dict[str, Any]:
        """The checkpoint's entries (the layout checkpoints have always had, plus ``code_version``)."""
        task = {k: v for k, v in asdict(self.settings).items() if v is not None}
        return {
            "model": self.model,
            "model_config": self.model_config,
            "classes": list(self.classes),
            "task": self.task,
            **task,
            "dataset": self.dataset.as_dict(),
            "code_version": self.code_version,
        }

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any], where: str | Path = "checkpoint") -> RunMeta:
        """The record of a loaded checkpoint (any layout actionline has written)."""
        missing = [k for k in ("model", "model_config", "classes") if k not in ckpt]
        if missing:
            raise CheckpointError(f"{where}: not a run checkpoint (no {', '.join(missing)})")
        return cls(
            task=ckpt.get("task", "segmentation"),  # written before detection existed: segmentation
            model=ckpt["model"],
            model_config=dict(ckpt["model_config"]),
            classes=list(ckpt["classes"]),
            dataset=DatasetRecord.from_dict(ckpt.get("dataset")),
            settings=TaskSettings(**{k: ckpt[k] for k in TASK_KEYS if k in ckpt}),
            code_version=ckpt.get("code_version"),
            epoch=ckpt.get("epoch"),
            best=ckpt.get("best"),
            trained_epochs=(ckpt.get("train_config") or {}).get("epochs"),
        )

    def to_config(self) -> dict[str, Any]:
        """The ``run`` section of ``config.yaml``."""
        entries = self.to_checkpoint()
        return {"task": entries.pop("task"), **entries}

    @classmethod
    def read_config(cls, run_dir: str | Path) -> RunMeta:
        """The record in ``run_dir/config.yaml`` (runs trained before it had a ``run`` section: a `ConfigError`)."""
        path = Path(run_dir) / "config.yaml"
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the run's config ({exc})") from None
        if not isinstance(config, dict) or not isinstance(config.get("run"), dict):
            raise ConfigError(f"{path}: no run record (trained before actionline wrote one; its checkpoints have it)")
        return cls.from_checkpoint(config["run"], path)
