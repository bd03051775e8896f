"""The model contract (DESIGN.md): ``forward`` -> dict of tensors, ``loss`` -> named terms + ``total``,
``decode`` -> one `Timeline` per video. Trainer, predictor, profiler and CLI rely on nothing else.

`TemporalModel` declares the whole contract with defaults, so no caller asks ``hasattr``: the task a model solves,
the supervisions it accepts, the settings that may change at inference, staged schedules (`set_epoch`), optimiser
parameter groups, and a template `decode` that loops over the videos of a batch and calls `decode_video`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from actionline.errors import ConfigError
from actionline.nn.decoding.detection_postprocess import finalize
from actionline.nn.decoding.nms import NMSMethod
from actionline.timeline import Segment, Timeline

Task = Literal["segmentation", "detection", "classification", "tagging", "transfer"]


@dataclass
class ModelConfig:
    """Fields every model has; the data fixes ``input_dim`` and ``num_classes``."""

    input_dim: int = 2048
    num_classes: int = 19

    def validate(self) -> None:
        if self.input_dim <= 0 or self.num_classes <= 1:
            raise ConfigError(f"input_dim must be > 0 and num_classes > 1, got {self.input_dim}, {self.num_classes}")


@dataclass
class DetectionConfig(ModelConfig):
    """Fields of the snippet-level detectors (TAGS / GSMT, actionness): input, snippet embedding (Eqs. 1-2), the
    classification loss (Eq. 5) and the shared post-processing (θc, Soft-NMS, M2)."""

    input_dim: int = 2048
    num_classes: int = 200
    num_snippets: int = 100  # T at scale 1 (ActivityNet 100; GSMT THUMOS 256)
    heads: int = 4
    head_dim: int | None = None  # d_k = d_v; None = the input dimension (released code)
    dropout: float = 0.1
    class_focal_weight: float = 0.4  # λ1
    focal_gamma: float = 2.0
    class_balance_alpha: float = 10.0
    hard_negative_fraction: float = 0.1
    min_score: float = 0.1  # θc
    max_detections: int = 200  # M2
    nms_method: NMSMethod = "gaussian"
    nms_sigma: float = 0.6  # the papers' Soft-NMS parameter: 0.6 ActivityNet, 0.4 THUMOS
    nms_iou: float = 0.5  # linear / hard NMS only

    def validate(self) -> None:
        super().validate()
        if self.num_snippets < 2 or self.heads < 1:
            raise ConfigError(
                f"model.num_snippets >= 2 and model.heads >= 1 required, got {self.num_snippets}, {self.heads}"
            )

    @property
    def input_length(self) -> int:
        """Snippets a video is resampled to."""
        return self.num_snippets


class TemporalModel(nn.Module):
    """Base of every model. Subclasses set ``Config`` and ``task`` and implement `forward`, `loss` and
    `decode_video`; the class attributes below declare the rest of the contract."""

    name: ClassVar[str]
    task: ClassVar[Task]
    Config: ClassVar[type[ModelConfig]]
    supervisions: ClassVar[tuple[str, ...]] = ("full",)  # the first is the default (`tasks.supervision`)
    inference_settings: ClassVar[frozenset[str]] = frozenset()  # config fields `predict --set` may change
    varying_parameters: ClassVar[bool] = False  # some parameters get no gradient in some steps (DDP must look)

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @classmethod
    def default_length(cls, settings: dict[str, Any]) -> int:
        """The profiler's default input length: an average 50Salads video at sample rate 2."""
        return 5750

    def example_inputs(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A random input of ``length`` positions and its mask, as `forward` takes them (the profiler's input)."""
        return torch.randn(1, self.config.input_dim, length), torch.ones(1, length)

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @classmethod
    def data_settings(cls, classes: Sequence[str], background: Sequence[str]) -> dict[str, Any]:
        """Settings a model derives from the dataset when training (besides ``input_dim`` and ``num_classes``),
        e.g. which classes are background; explicit settings override them. Default: none."""
        return {}

    def set_epoch(self, epoch: int, total: int) -> None:
        """Called before each training epoch (1-based) and when a checkpoint loads; staged schedules override."""

    def parameter_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """Optimiser parameter groups: by default every parameter with ``weight_decay`` (as the reference codes
        of MS-TCN, ASFormer and MuCon apply it)."""
        return [{"params": list(self.parameters()), "weight_decay": weight_decay}]

    def decay_groups(self, weight_decay: float, no_decay_names: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Two groups in the DETR convention: no weight decay on biases, normalisation weights (every parameter
        of at most one dimension) and the parameters whose names contain one of ``no_decay_names`` (e.g.
        learned queries); ``weight_decay`` on the rest."""
        decay, exempt = [], []
        for name, p in self.named_parameters():
            skip = p.ndim <= 1 or any(n in name for n in no_decay_names)
            (exempt if skip else decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": exempt, "weight_decay": 0.0}]

    @torch.no_grad()
    def decode(
        self,
        outputs: dict[str, torch.Tensor],
        mask: torch.Tensor | None,
        videos: Sequence[str],
        classes: Sequence[str],
        targets: dict[str, torch.Tensor] | None = None,
    ) -> list[Timeline]:
        """The paper's inference, one `Timeline` per video of the batch (``mask`` None: every position is valid).

        ``targets`` (ground-truth ``labels`` when available) serves oracle analyses only (e.g. BaFormer Table 5)."""
        prepared = self.decode_inputs(outputs)
        lengths = mask.sum(dim=1).long().tolist() if mask is not None else [None] * len(videos)
        return [
            self.decode_video(prepared, b, n, video, classes, targets)
            for b, (video, n) in enumerate(zip(videos, lengths, strict=True))
        ]

    def decode_inputs(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """Batch-level work done once before the per-video hook (e.g. probabilities); default: none."""
        return outputs

    def decode_video(
        self,
        outputs: dict[str, Any],
        b: int,
        n: int | None,
        video: str,
        classes: Sequence[str],
        targets: dict[str, torch.Tensor] | None,
    ) -> Timeline:
        """The `Timeline` of video ``b`` of the batch, whose first ``n`` positions are valid (None: all)."""
        raise NotImplementedError


class SegmentationModel(TemporalModel):
    """Base of frame-wise segmentation models whose final prediction is ``outputs["logits"][-1]`` [B, C, T]."""

    task: ClassVar[Task] = "segmentation"

    def frame_probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, C, T] class probabilities of the final prediction."""
        return torch.softmax(outputs["logits"][-1], dim=1)

    def decode_inputs(self, outputs: dict[str, Any]) -> dict[str, Any]:
        score, label = self.frame_probabilities(outputs).max(dim=1)
        return {**outputs, "frame_score": score, "frame_label": label}

    def decode_video(self, outputs, b, n, video, classes, targets) -> Timeline:
        """Frame-wise argmax (MS-TCN / ASFormer inference); segment scores are mean winning probabilities."""
        label, score = outputs["frame_label"][b, :n].cpu().numpy(), outputs["frame_score"][b, :n].cpu().numpy()
        return Timeline.from_labels(video, label, classes, scores=score)


class DetectionModel(TemporalModel):
    """Base of temporal action detection models: ``candidates(outputs, b)`` gives video ``b``'s scored segments
    (starts, ends, labels, scores in snippet units) and ``config.input_length`` the snippets per video; decoding
    applies the θc filter, class-wise Soft-NMS and the top M2 (``min_score``, ``nms_*``, ``max_detections``)."""

    task: ClassVar[Task] = "detection"
    inference_settings: ClassVar[frozenset[str]] = frozenset(
        {"min_score", "max_detections", "nms_method", "nms_sigma", "nms_iou"}
    )

    def candidates(self, outputs: dict[str, torch.Tensor], b: int) -> tuple:
        raise NotImplementedError

    def decode_video(self, outputs, b, n, video, classes, targets) -> Timeline:
        """One `Timeline` of ``input_length`` snippets, with overlapping scored segments."""
        c = self.config
        starts, ends, labels, scores = finalize(
            *self.candidates(outputs, b), c.min_score, c.max_detections, c.nms_method, c.nms_sigma, c.nms_iou
        )
        segments = [
            Segment(int(s), int(e), classes[int(k)], float(p))
            for s, e, k, p in zip(starts, ends, labels, scores, strict=True)
        ]
        return Timeline(video, c.input_length, segments)


@dataclass
class ClipModelConfig(ModelConfig):
    """Fields of every clip classifier: RGB clips of ``frames`` x ``size`` x ``size``, dropout before the classifier,
    label smoothing, ``init`` (weights to start from, `engine.initial_weights`). Settings of adaptive sampling (SGS,
    ATS) live on the configs of the networks that have it."""

    input_dim: int = 3
    num_classes: int = 400
    frames: int = 16
    size: int = 112
    dropout: float = 0.0
    label_smoothing: float = 0.0
    init: str | None = None

    def validate(self) -> None:
        super().validate()
        if self.input_dim != 3:
            raise ConfigError(f"clip classifiers take RGB clips (input_dim 3), got {self.input_dim}")
        if self.frames < 1 or self.size < 16:
            raise ConfigError(f"model.frames >= 1 and model.size >= 16 required, got {self.frames}, {self.size}")
        if not 0 <= self.dropout < 1 or not 0 <= self.label_smoothing < 1:
            raise ConfigError("model.dropout and model.label_smoothing must be in [0, 1)")


class ClassificationModel(TemporalModel):
    """Base of clip classifiers: ``forward(clips [B, 3, T, S, S])`` -> ``logits`` [B, K] (and ``macs`` [B] where the
    cost varies per clip); cross-entropy on the clip's label; a clip decodes to a one-position timeline labelled with
    its top class. ``self.net`` is the network; its classifier's keys start with ``classifier_prefix``."""

    task: ClassVar[Task] = "classification"
    Config: ClassVar[type[ClipModelConfig]] = ClipModelConfig
    classifier_prefix: ClassVar[str] = "fc."

    @classmethod
    def default_length(cls, settings: dict[str, Any]) -> int:
        return int(settings.get("frames", cls.Config.frames))

    def example_inputs(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One clip of ``length`` frames at the model's crop size."""
        return torch.randn(1, 3, length, self.config.size, self.config.size), torch.ones(1)

    reports_macs: ClassVar[bool] = False  # ``forward`` returns ``macs`` [B], each clip's own cost

    @property
    def adaptive(self) -> bool:
        """Whether the cost varies per clip (SGS, token sampling): prediction then counts it clip by clip. Models
        with adaptive sampling override it from their settings."""
        return False

    def plain_settings(self) -> dict[str, Any]:
        """Settings that turn the adaptive sampling off (the fixed-cost network to compare with)."""
        return {}

    @staticmethod
    def check_clips(features: torch.Tensor) -> None:
        if features.ndim != 5 or features.shape[1] != 3:
            raise ConfigError(f"a clip classifier takes clips [B, 3, T, H, W], got {tuple(features.shape)}")

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        ce = nn.functional.cross_entropy(
            outputs["logits"], targets["labels"], label_smoothing=self.config.label_smoothing
        )
        return {"ce": ce, "total": ce}

    def decode(self, outputs, mask, videos, classes, targets=None) -> list[Timeline]:
        """Clips have no padded positions: the mask (all ones, [B]) is not needed."""
        return super().decode(outputs, None, videos, classes, targets)

    def decode_inputs(self, outputs: dict[str, Any]) -> dict[str, Any]:
        return {**outputs, "probs": torch.softmax(outputs["logits"], dim=1)}

    def decode_video(self, outputs, b, n, video, classes, targets) -> Timeline:
        """One clip as a one-position timeline labelled with its top class."""
        score, label = outputs["probs"][b].max(dim=0)
        return Timeline(video, 1, [Segment(0, 1, classes[int(label)], float(score))])
