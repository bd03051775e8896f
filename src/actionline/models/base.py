"""The model contract (DESIGN.md): ``forward`` -> dict of tensors, ``loss`` -> named terms + ``total``,
``decode`` -> one `Timeline` per video. Trainer, predictor, profiler and CLI rely on nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from actionline.errors import ConfigError
from actionline.timeline import Segment, Timeline


@dataclass
class ModelConfig:
    """Fields every model has; the data fixes ``input_dim`` and ``num_classes``."""

    input_dim: int = 2048
    num_classes: int = 19

    def validate(self) -> None:
        if self.input_dim <= 0 or self.num_classes <= 1:
            raise ConfigError(f"input_dim must be > 0 and num_classes > 1, got {self.input_dim}, {self.num_classes}")


class SegmentationModel(nn.Module):
    """Base of frame-wise segmentation models whose final prediction is ``outputs["logits"][-1]`` [B, C, T]."""

    name: ClassVar[str]
    task: ClassVar[str] = "segmentation"
    Config: ClassVar[type[ModelConfig]]
    varying_parameters: ClassVar[bool] = False  # some parameters get no gradient in some steps (DDP must look)

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def frame_probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, C, T] class probabilities of the final prediction."""
        return torch.softmax(outputs["logits"][-1], dim=1)

    @torch.no_grad()
    def decode(
        self,
        outputs: dict[str, torch.Tensor],
        mask: torch.Tensor,
        videos: Sequence[str],
        classes: Sequence[str],
        targets: dict[str, torch.Tensor] | None = None,
    ) -> list[Timeline]:
        """Frame-wise argmax (MS-TCN / ASFormer inference); segment scores are mean winning probabilities.

        ``targets`` (ground-truth ``labels`` when available) is only for oracle analyses; argmax ignores it.
        """
        probs = self.frame_probabilities(outputs)
        score, label = probs.max(dim=1)
        lengths = mask.sum(dim=1).long().tolist()
        return [
            Timeline.from_labels(v, label[b, :n].cpu().numpy(), classes, scores=score[b, :n].cpu().numpy())
            for b, (v, n) in enumerate(zip(videos, lengths, strict=True))
        ]


class DetectionModel(nn.Module):
    """Base of temporal action detection models: ``candidates(outputs, b)`` gives video ``b``'s scored segments
    (starts, ends, labels, scores in snippet units) and ``config.input_length`` the snippets per video; `decode`
    applies the θc filter, class-wise Soft-NMS and the top M2 (``min_score``, ``nms_*``, ``max_detections``)."""

    name: ClassVar[str]
    task: ClassVar[str] = "detection"
    Config: ClassVar[type[ModelConfig]]

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    def candidates(self, outputs: dict[str, torch.Tensor], b: int) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    @torch.no_grad()
    def decode(
        self,
        outputs: dict[str, torch.Tensor],
        mask: torch.Tensor,
        videos: Sequence[str],
        classes: Sequence[str],
        targets: dict[str, torch.Tensor] | None = None,
    ) -> list[Timeline]:
        """One `Timeline` of ``input_length`` snippets per video, with overlapping scored segments."""
        from actionline.models.detection.postprocess import finalize

        c = self.config
        out = []
        for b, video in enumerate(videos):
            starts, ends, labels, scores = finalize(
                *self.candidates(outputs, b), c.min_score, c.max_detections, c.nms_method, c.nms_sigma, c.nms_iou
            )
            segments = [
                Segment(int(s), int(e), classes[int(k)], float(p))
                for s, e, k, p in zip(starts, ends, labels, scores, strict=True)
            ]
            out.append(Timeline(video, c.input_length, segments))
        return out
