"""Actionness baseline (TAGS Table 8, "Actionness"): the same snippet embedding and classification branch as
GSMT, no mask branch; detections are the runs of the actionness ``1 - p(background)`` above each threshold.

Each run is labelled with the action class of highest mean probability over it and scored by
``mean actionness x mean class probability``; then the same θc filter, class-wise Soft-NMS and top M2 as TAGS.
Trained with the classification loss of Eq. 5 only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from actionline.errors import ConfigError
from actionline.models.base import DetectionModel, ModelConfig
from actionline.models.detection.postprocess import segment_means, threshold_runs
from actionline.models.detection.tags import SnippetEmbedding, snippet_targets, threshold_range
from actionline.models.registry import register
from actionline.nn import detection_losses as losses
from actionline.nn.nms import METHODS as NMS_METHODS


@dataclass
class ActionnessConfig(ModelConfig):
    input_dim: int = 2048
    num_classes: int = 200
    num_snippets: int = 100
    heads: int = 4
    head_dim: int | None = None
    dropout: float = 0.1
    class_focal_weight: float = 0.4
    focal_gamma: float = 2.0
    class_balance_alpha: float = 10.0
    hard_negative_fraction: float = 0.1
    thresholds: list[float] = field(default_factory=lambda: threshold_range(0.1, 0.9, 0.05))
    min_score: float = 0.1
    max_detections: int = 200
    nms_method: str = "gaussian"
    nms_sigma: float = 0.6
    nms_iou: float = 0.5

    def validate(self) -> None:
        super().validate()
        if self.num_snippets < 2 or self.nms_method not in NMS_METHODS:
            raise ConfigError(f"model.num_snippets >= 2 and model.nms_method in {', '.join(NMS_METHODS)} required")

    @property
    def input_length(self) -> int:
        return self.num_snippets


@register("actionness")
class Actionness(DetectionModel):
    Config = ActionnessConfig

    def __init__(self, config: ActionnessConfig):
        super().__init__(config)
        self.embedding = SnippetEmbedding(
            config.input_dim, config.heads, config.head_dim or config.input_dim, config.dropout
        )
        self.classifier = nn.Conv1d(config.input_dim, config.num_classes + 1, 1)

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if features.shape[-1] != self.config.num_snippets:
            features = torch.nn.functional.interpolate(
                features, size=self.config.num_snippets, mode="linear", align_corners=True
            )
        e = self.embedding(features.transpose(1, 2)).transpose(1, 2)
        return {"logits": self.classifier(e)}

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c = self.config
        logits = outputs["logits"]
        labels, _ = snippet_targets(targets["instances"], targets["num_instances"], logits.shape[-1], c.num_classes)
        term = losses.classification_loss(
            logits.transpose(1, 2).reshape(-1, logits.shape[1]),
            labels.reshape(-1),
            c.class_focal_weight,
            c.focal_gamma,
            c.class_balance_alpha,
            c.hard_negative_fraction,
        )
        return {"class": term, "total": term}

    def candidates(self, outputs: dict[str, torch.Tensor], b: int) -> tuple[np.ndarray, ...]:
        """Runs of actionness above each threshold, labelled with their best mean class: starts, ends, labels,
        scores (mean actionness x mean class probability)."""
        c = self.config
        probs = torch.softmax(outputs["logits"][b].float(), dim=0).cpu().numpy()  # [K+1, T]
        actionness = 1.0 - probs[-1:]
        _, start, end = threshold_runs(actionness, np.asarray(c.thresholds), "runs")
        prefix = np.concatenate([np.zeros((c.num_classes, 1)), np.cumsum(probs[:-1], axis=1)], axis=1)
        class_means = ((prefix[:, end] - prefix[:, start]) / np.maximum(end - start, 1)).T  # [N, K]
        score = segment_means(actionness, np.zeros(len(start), dtype=np.int64), start, end)
        return start, end, class_means.argmax(axis=1), score * class_means.max(axis=1, initial=0.0)
