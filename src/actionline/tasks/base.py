"""The task interface: what differs between the tasks lives behind `Task` (what training needs) and
`PredictingTask` (prediction, evaluation, drawing, report sections), each task with its own typed ``Options``; the
run recipe (`tasks.recipe`), the predictor and the CLI never branch on the task.

A task is chosen once: from the model's declared task when training, from the run's stored metadata when
predicting, and from the files when evaluating or viewing (an explicit ``--task`` overrides).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Console
from torch.utils.data import Dataset

from actionline.engine.live import LiveSettings
from actionline.engine.run_record import DatasetRecord, RunMeta, TaskSettings
from actionline.engine.trainer import TrainConfig
from actionline.errors import ConfigError
from actionline.io import staged_files
from actionline.models.base import TemporalModel
from actionline.timeline import Timeline
from actionline.viz.html import Section


@dataclass
class NoOptions:
    """The options of a task that reads none."""


@dataclass
class TrainingData:
    """What a task hands the trainer once the model exists."""

    train_set: Dataset
    collate: Callable
    val_set: Dataset | None
    validate: Callable
    summary: str  # "<n> videos, validating on <m> held out of ..."


@dataclass
class TrainingPlan:
    """A task's training decisions made before the model is built (its input size and classes come from here)."""

    input_dim: int
    classes: list[str]
    train_videos: list[str]
    val_videos: list[str]
    build: Callable[[TemporalModel], TrainingData]
    selection: dict[str, Any]  # recorded in config.yaml after ``data``, e.g. {"split": 1}
    dataset: DatasetRecord  # the run record's dataset entry
    background: tuple[str, ...] = ()  # the dataset's "no action" labels (`TemporalModel.data_settings`)
    metrics: tuple[str, ...] = ()  # what validation reports (``train.select_metric`` must be one of them)
    select_default: str = "mean"  # ``train.select_metric`` when the settings do not name one
    model_settings: dict[str, Any] = field(default_factory=dict)  # model settings the data fixes (explicit ones win)
    settings_record: dict[str, Any] = field(default_factory=dict)  # recorded after ``train``
    extra_record: dict[str, Any] = field(default_factory=dict)  # recorded after ``val_videos``
    settings: TaskSettings = field(default_factory=TaskSettings)  # the run record's task settings


@dataclass
class Report:
    """Scores of `Task.evaluate`: a headline, detail lines (conventions included), and the JSON form."""

    headline: str
    details: list[str]
    as_dict: dict[str, Any]


class Task(ABC):
    """What training needs of a task: its data, training plan and config sections. A task whose runs predict is a
    `PredictingTask`; one that only trains (correspondence pre-training) implements nothing more."""

    name: ClassVar[str]
    config_keys: ClassVar[tuple[str, ...]] = ("model", "train")
    Options: ClassVar[type] = NoOptions  # the dataset-selection options this task reads: one typed dataclass

    @property
    def predicts_nothing(self) -> str:
        """Why ``predict`` / ``evaluate`` / ``view`` / ``report`` refuse this task's runs."""
        return f"a {self.name} run predicts nothing"

    def options(self, given: dict[str, Any]) -> Any:
        """This task's `Options` from the options a command was given (name -> value, only those set); an option
        this task does not read is an error, not silently ignored (``split`` excepted: a task without splits
        ignores it)."""
        known = {f.name for f in fields(self.Options)}
        for name in given:
            if name not in known and name != "split":
                flag = "--" + name.replace("_", "-").replace("all-videos", "all")
                raise ConfigError(f"{flag} does not apply to {self.name}")
        return self.Options(**{k: v for k, v in given.items() if k in known})

    @abstractmethod
    def open_data(self, path: Path, options: Any) -> Any:
        """The dataset at ``path`` (validated as it is read)."""

    def preset_suffix(self, data: Any) -> str:
        """Presets are ``<model>_<suffix>.yaml`` then ``<model>.yaml``; the suffix names the dataset."""
        return ""

    @abstractmethod
    def plan_training(
        self, model_cls: type[TemporalModel], data: Any, train: TrainConfig, settings: dict, options: Any
    ) -> TrainingPlan:
        """Videos, validation carve-out and datasets for training ``model_cls`` on ``data``."""


class PredictingTask(Task):
    """A task whose runs predict: prediction (from a dataset, from video files), its file formats, evaluation,
    drawing and the report's sections."""

    output_marker: ClassVar[str] = "timelines.json"  # the file that marks a prediction folder of this task

    @abstractmethod
    def predict(self, model: TemporalModel, meta: RunMeta, data: Any, options: Any, out: Path) -> tuple[Sequence, str]:
        """Predict the videos ``options`` selects into ``out``; returns the results and what was written, e.g.
        ``"12 predictions"``."""

    def predict_features(
        self, model: TemporalModel, meta: RunMeta, features: Path, videos: Iterable[str], out: Path
    ) -> str:
        """Predict videos whose features were just extracted into ``features`` (a folder with ``features/``),
        writing the task's outputs into ``out``; returns a summary line without the folder (`predict --video`).
        ``videos`` is read once and may still be growing: a video's features exist when its name arrives."""
        raise NotImplementedError(f"predict --video is not implemented for {self.name} runs yet")

    def timeline(
        self, model: TemporalModel, meta: RunMeta, features: Any, video: str, duration: float | None = None
    ) -> Timeline:
        """One video's timeline from its features as an array (`actionline.load(...).predict`); ``duration``: the
        video's seconds, where the run's record does not give the features' timing."""
        raise NotImplementedError(
            f"predict from features is not implemented for {self.name} models yet (use `actionline predict`)"
        )

    def calibration_inputs(self, model: TemporalModel, meta: RunMeta, limit: int) -> list[tuple]:
        """Model inputs ``(features, mask)`` of up to ``limit`` videos of the run's training data, as prediction
        feeds them: the calibration set of static int8 (`engine.quantize`)."""
        raise NotImplementedError(f"static int8 calibration is not implemented for {self.name} runs")

    def predict_video(
        self,
        model: TemporalModel,
        meta: RunMeta,
        source: Path,
        out: Path,
        batch_size: int,
        console: Console,
        extract_runtime: str = "torch",
    ) -> str:
        """`predict --video`: by default, extract features of the video file(s) ``source`` the way the run's
        training features were extracted (the backbone run by ``extract_runtime``), into ``out/features`` (kept: a
        resumed call skips extracted videos), and `predict_features` into a staging folder whose outputs replace
        those in ``out`` only when all are written; the model takes each video as soon as its features are written,
        while the next one is extracted (`engine.video_pipeline`). Tasks that read pixels themselves override it."""
        from actionline.engine.extractor import extract_like_training, training_extraction
        from actionline.engine.video_pipeline import overlapped

        training_extraction(meta, model.config.input_dim)  # a run that cannot be reproduced: refused before any work

        def extraction(on_video: Callable[[str], None]) -> list[str]:
            dim = model.config.input_dim
            return extract_like_training(meta, dim, source, out, batch_size, console, on_video, extract_runtime)

        videos = overlapped(extraction)
        with staged_files(out) as staging:
            summary = self.predict_features(model, meta, out, videos, staging)
        return f"{summary} to {out}"

    def predict_stream(
        self,
        model: TemporalModel,
        meta: RunMeta,
        source: str,
        settings: LiveSettings,
        out: Path,
        emit: Callable[[dict], None],
        console: Console,
        on_frame: Callable | None = None,
    ) -> tuple[str, dict]:
        """`predict --stream`: decide the live ``source`` frame by frame with a causal run, calling ``emit`` with
        each event as it happens (``on_frame``: a live view's per-frame callback), then write the task's outputs
        into ``out``; returns what was written and the stream's report (`engine.live.StreamOutcome.report`)."""
        raise NotImplementedError(f"predict --stream is for segmentation runs, not {self.name} runs")

    def eval_clips(self, data: Any, options: Any) -> list:
        """The clips prediction and evaluation use (clip tasks; `profile --run` counts their cost)."""
        raise ConfigError(f"profile --run averages the cost of clip models over a dataset, not of {self.name} runs")

    @abstractmethod
    def claims(self, pred: Path) -> bool:
        """Whether ``pred`` (a prediction file or folder) is this task's format."""

    @abstractmethod
    def evaluate(self, pred: Path, data: Path | None, options: Any) -> Report:
        """Score ``pred`` against the ground truth that ``data`` / ``options`` name."""

    @abstractmethod
    def view(self, pred: Path, data: Path, image: Path, videos: Sequence[str] | None, max_videos: int, options: Any):
        """Draw ground truth against ``pred`` (the videos named, else the first ``max_videos`` of those ``options``
        select); returns the image path."""

    def report(
        self, preds: Sequence[Path], data: Path | None, options: Any, videos: Path | None, out: Path, limit: int
    ) -> tuple[list[Section], dict]:
        """The sections of ``actionline report`` comparing the predictions ``preds`` (A, B, ...) and the scores shown
        (each `evaluate`'s JSON form, by prediction); ``videos``: a folder of the video files, drawn up to ``limit``."""
        raise NotImplementedError(f"actionline report is not available for {self.name} predictions")
