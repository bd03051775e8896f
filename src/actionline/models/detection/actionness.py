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

from actionline.models.base import DetectionConfig, DetectionModel
from actionline.models.registry import register
from actionline.nn.decoding.detection_postprocess import segment_means, threshold_range, threshold_runs
from actionline.nn.losses import detection as losses
from actionline.nn.temporal.snippets import SnippetEmbedding, snippet_targets


@dataclass
class ActionnessConfig(DetectionConfig):
    thresholds: list[float] = field(default_factory=lambda: threshold_range(0.1, 0.9, 0.05))


@register("actionness")
class Actionness(DetectionModel):
    Config = ActionnessConfig
    inference_settings = DetectionModel.inference_settings | {"thresholds"}

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
