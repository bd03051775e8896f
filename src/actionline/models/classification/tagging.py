"""Multi-label, multi-task video tagging (HVU, dissertation ch. 5): any clip network (3D ResNet, STC-ResNet, HATNet,
...) with either one flat sigmoid head over all tags or one head per category (the multi-task model of Sec. 5.4).

Losses (binary cross-entropy on the tags' logits):
- ``heads: flat`` — one head, BCE averaged over every tag of every clip (a clip's missing categories are
  negatives), as the thesis' single-task baseline;
- ``heads: category`` — one head per category and BCE per category, weighted (``category_weights``, equal by
  default) and summed; a clip without any label of a category is left out of that category's loss
  (``missing: mask``, mmaction2's ``with_mask``) or counts as all negatives (``missing: negative``).

Tags are ordered by category (`data.hvu`); the data fixes ``category_sizes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from actionline.errors import ConfigError
from actionline.models.base import ClassificationModel, ClipModelConfig
from actionline.models.registry import build_model, register
from actionline.timeline import Segment, Timeline


@dataclass
class TaggingConfig(ClipModelConfig):
    """The network (a registered clip classifier and its settings), the heads, the category sizes (from the
    data), the per-category loss weights and how a category without labels counts."""

    num_classes: int = 19
    backbone: str = "resnet3d_18"
    width: int = 64
    backbone_settings: dict[str, Any] = field(default_factory=dict)
    heads: Literal["flat", "category"] = "category"
    category_sizes: list[int] = field(default_factory=list)
    category_weights: list[float] | None = None
    missing: Literal["mask", "negative"] = "mask"

    def validate(self) -> None:
        super().validate()
        if self.category_sizes and sum(self.category_sizes) != self.num_classes:
            raise ConfigError(f"model.category_sizes {self.category_sizes} do not add up to {self.num_classes} tags")
        if self.category_weights is not None and len(self.category_weights) != len(self.category_sizes):
            raise ConfigError("model.category_weights needs one weight per category")


@register("tagger")
class Tagger(ClassificationModel):
    """A clip network and tag heads; ``logits`` [B, tags] in the tag order of the data."""

    task: ClassVar[str] = "tagging"
    Config = TaggingConfig

    def __init__(self, config: TaggingConfig):
        super().__init__(config)
        c = config
        sizes = c.category_sizes or [c.num_classes]
        settings = {"frames": c.frames, "size": c.size, "width": c.width, **c.backbone_settings}
        backbone = build_model(c.backbone, {**settings, "num_classes": c.num_classes})
        if backbone.task != "classification":
            raise ConfigError(f"model.backbone must be a clip classifier, got {c.backbone!r}")
        self.net = backbone.net
        self.dropout = nn.Dropout(c.dropout)
        if c.heads == "category":
            self.net.fc = nn.Identity()  # one head per category instead
            self.heads = nn.ModuleList(nn.Linear(self.net.feature_dim, n) for n in sizes)
        self.register_buffer("category", torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes)))

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        self.check_clips(features)
        embedding = self.dropout(self.net.features(features))
        if self.config.heads == "flat":
            return {"logits": self.net.fc(embedding)}
        return {"logits": torch.cat([head(embedding) for head in self.heads], dim=1)}

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        y = targets["labels"].float()
        bce = F.binary_cross_entropy_with_logits(outputs["logits"], y, reduction="none")  # [B, tags]
        if self.config.heads == "flat":
            return {"bce": bce.mean(), "total": bce.mean()}
        n = len(self.heads)
        weights = self.config.category_weights or [1.0] * n
        terms: dict[str, torch.Tensor] = {}
        total = bce.new_zeros(())
        for c in range(n):
            cols = self.category == c
            per_clip = bce[:, cols].mean(dim=1)
            keep = y[:, cols].amax(dim=1) if self.config.missing == "mask" else torch.ones_like(per_clip)
            terms[f"bce_{c}"] = (per_clip * keep).sum() / keep.sum().clamp_min(1)
            total = total + weights[c] * terms[f"bce_{c}"]
        return {**terms, "total": total}

    def decode_inputs(self, outputs: dict[str, Any]) -> dict[str, Any]:
        return {**outputs, "probs": torch.sigmoid(outputs["logits"])}

    def decode_video(self, outputs, b, n, video, classes, targets) -> Timeline:
        """The tags scored 0.5 or more (the best one when none is), as one-position segments."""
        probs = outputs["probs"][b]
        chosen = torch.nonzero(probs >= 0.5).flatten().tolist() or [int(probs.argmax())]
        return Timeline(video, 1, [Segment(0, 1, classes[i], float(probs[i])) for i in chosen])
