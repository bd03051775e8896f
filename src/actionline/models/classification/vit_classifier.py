"""Vision transformers as clip classifiers (dissertation ch. 7): a ViT / DeiT applied to every frame of a clip (an
image is a one-frame clip), frame logits averaged, with Adaptive Token Sampling (Sec. 7.2) in any set of blocks.

ATS is parameter-free: its settings are inference settings, so a trained run gets ATS without any fine-tuning
(``predict --set model.ats_blocks=[3] --set model.ats_ratio=0.7``, the plug-and-play use of Sec. 7.3). The MACs of
each clip (analytic, attention products included; `nn.networks.vit.block_macs`) come with the outputs, so prediction and
evaluation report the average adaptive cost. ``deit_s`` has DeiT-S's layout (d 384, 12 blocks, 6 heads, patch 16,
224 pixels: 22.05M parameters, 4.598 GMACs per image); a DeiT / timm checkpoint starts a run with
``model.init=<file>`` (its classifier replaced when the classes differ).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from actionline.errors import ConfigError
from actionline.models.base import ClassificationModel, ClipModelConfig
from actionline.models.registry import register
from actionline.nn.networks.video_vit import VideoTransformer
from actionline.nn.networks.vit import VisionTransformer
from actionline.nn.sampling.ats import Method, TokenSampler


@dataclass
class ViTConfig(ClipModelConfig):
    """DeiT-S by default; ``ats_blocks`` (0-based) get a token sampler of ``ats_method`` with budget ``ats_tokens``
    K or ``ats_ratio`` ρ (the thesis' inference budget: K_n = max(ρ n, 8))."""

    num_classes: int = 1000
    frames: int = 1
    size: int = 224
    patch: int = 16
    dim: int = 384
    depth: int = 12
    heads: int = 6
    mlp_ratio: float = 4.0
    ats_blocks: list[int] = field(default_factory=list)
    ats_method: Method = "ats"
    ats_tokens: int | None = None
    ats_ratio: float | None = None

    def validate(self) -> None:
        super().validate()
        if self.ats_blocks and (self.ats_tokens is None) == (self.ats_ratio is None):
            raise ConfigError("model.ats_blocks needs exactly one budget: model.ats_tokens (K) or model.ats_ratio")

    def samplers(self) -> dict[int, TokenSampler]:
        return {i: TokenSampler(self.ats_method, self.ats_tokens, self.ats_ratio) for i in self.ats_blocks}


@register("vit")
class ViTClassifier(ClassificationModel):
    """A ViT / DeiT over the frames of a clip; the token samplers are inference-time settings."""

    Config = ViTConfig
    classifier_prefix: ClassVar[str] = "head."
    reports_macs: ClassVar[bool] = True
    inference_settings: ClassVar[frozenset[str]] = frozenset({"ats_blocks", "ats_method", "ats_tokens", "ats_ratio"})

    def __init__(self, config: ViTConfig):
        super().__init__(config)
        self.net = self.build_network(config)
        self.dropout = nn.Dropout(config.dropout)

    def build_network(self, c: ViTConfig) -> nn.Module:
        return VisionTransformer(c.size, c.patch, c.dim, c.depth, c.heads, c.num_classes, c.mlp_ratio, c.samplers())

    @property
    def adaptive(self) -> bool:
        return bool(self.config.ats_blocks)

    def plain_settings(self) -> dict[str, Any]:
        return {"ats_blocks": []}

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Clips [B, 3, T, S, S] -> logits [B, K] (the mean over frames), tokens kept per frame and block
        [B, T, depth] and the MACs of each clip [B]."""
        self.check_clips(features)
        b, _, t = features.shape[:3]
        feature, kept = self.net.features(features.transpose(1, 2).flatten(0, 1))
        logits = self.net.head(self.dropout(feature)).view(b, t, -1).mean(dim=1)
        return {"logits": logits, "kept": kept.view(b, t, -1), "macs": self.net.macs(kept).view(b, t).sum(dim=1)}


@dataclass
class TimeSformerConfig(ViTConfig):
    """TimeSformer-Base (8 x 224 x 224, patch 16, d 768, 12 blocks, 12 heads): 121.4M parameters, 196 GMACs per
    view. ATS samples patch positions, the same in every frame (`nn/networks/video_vit.py`)."""

    num_classes: int = 400
    frames: int = 8
    dim: int = 768
    heads: int = 12


@register("timesformer")
class TimeSformerClassifier(ViTClassifier):
    """A video transformer with divided space-time attention; ATS settings are inference settings."""

    Config = TimeSformerConfig

    def build_network(self, c: TimeSformerConfig) -> nn.Module:
        return VideoTransformer(
            c.size, c.patch, c.frames, c.dim, c.depth, c.heads, c.num_classes, c.mlp_ratio, c.samplers()
        )

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Clips [B, 3, T, S, S] -> logits [B, K], positions kept per block [B, depth], MACs per clip [B]."""
        self.check_clips(features)
        feature, kept = self.net.features(features)
        return {"logits": self.net.head(self.dropout(feature)), "kept": kept, "macs": self.net.macs(kept)}
