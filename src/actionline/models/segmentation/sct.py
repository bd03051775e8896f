"""SCT: set-constrained temporal transformer for action segmentation from action sets (Fayyaz & Gall;
dissertation Ch. 8; implementation notes in specs/weak-supervision-sct-mucon.md §1).

Read top to bottom:

1. **Temporal embedding and region estimator** (§1.1, the code's single 11-layer WaveNet): input dropout 0.05,
   Conv1x1 D -> 128 + ReLU, TCBs with dilations 1..1024, max-pool after layers 1, 2, 4, 8, 10; Z is tapped after
   layer 4 (T/8), Z' = GroupNorm(Conv1x1(ReLU(final))) has K ≈ T/32 regions.
2. **Heads**: actions ``A = softmax(Conv1x1(Z') / 0.1)`` [C, K]; lengths ``L = Conv1x1(Conv1x1(Z'))`` [K]
   (no nonlinearity between, as in the code); frame branch ``S = Conv1x1(Z)`` nearest-upsampled to T (raw logits).
3. **Region upsampling** f_u (§1.2): ``Y = A`` spread over regions of lengths ``T softmax(L)``
   (`actionline.nn.temporal.sampling.region_upsample`, exact box masks).
4. **Losses** (§1.3-1.4, `actionline.nn.losses.weak`), weights of the code: L_T + L_S + 0.1 L_R + 0.1 L_C
   + 0.1 R_I + 0.1 R_L, with L_C normalised by M·K as in Eq. 8.8 (the code's plain sum dominates and collapses
   training). A weight of 0 switches a term off (the Table 8.2 ablation). The background classes have weight
   0.001 in L_S, R_I and L_T; they are the dataset's own background labels (Breakfast's SIL, 50Salads'
   action_start/action_end, GTEA's background; `data_settings`), not a fixed index: the code's index 0 is SIL
   only on Breakfast and a real action elsewhere.
5. **Inference**: ``argmax_c Y[c, t]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from actionline.models.base import ModelConfig, SegmentationModel
from actionline.models.registry import register
from actionline.nn.losses.weak import (
    sct_inverse_sparsity,
    sct_length_regulariser,
    sct_region_loss,
    sct_self_supervision,
    sct_set_loss,
    sct_temporal_consistency,
)
from actionline.nn.temporal.sampling import region_upsample
from actionline.nn.temporal.tcb import TemporalBackbone
from actionline.timeline import Timeline


@dataclass
class SCTConfig(ModelConfig):
    input_dim: int = 2048
    num_classes: int = 48
    channels: int = 128
    layers: int = 11
    pool_after: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 10])
    frame_tap: int = 4
    input_dropout: float = 0.05
    dropout: float = 0.25
    temperature: float = 0.1
    background_classes: list[int] = field(default_factory=list)  # set from the dataset when training
    background_weight: float = 0.001
    # loss weights (code); 0 switches a term off
    self_supervision_weight: float = 1.0  # L_T
    set_weight: float = 1.0  # L_S
    region_weight: float = 0.1  # L_R
    consistency_weight: float = 0.1  # L_C
    sparsity_weight: float = 0.1  # R_I
    length_weight: float = 0.1  # R_L


@register("sct")
class SCT(SegmentationModel):
    Config = SCTConfig
    supervisions = ("set",)

    def __init__(self, config: SCTConfig):
        super().__init__(config)
        c = config
        self.backbone = TemporalBackbone(c.input_dim, c.channels, c.layers, c.pool_after, c.input_dropout, c.dropout)
        self.post = nn.Sequential(nn.ReLU(), nn.Conv1d(c.channels, c.channels, 1), nn.GroupNorm(32, c.channels))
        self.action_head = nn.Conv1d(c.channels, c.num_classes, 1)
        self.length_head = nn.Sequential(nn.Conv1d(c.channels, 64, 1), nn.Conv1d(64, 1, 1))
        self.frame_head = nn.Conv1d(c.channels, c.num_classes, 1)
        weights = torch.ones(c.num_classes)
        weights[[k for k in c.background_classes if 0 <= k < c.num_classes]] = c.background_weight
        self.register_buffer("class_weights", weights, persistent=False)

    @classmethod
    def data_settings(cls, classes: Sequence[str], background: Sequence[str]) -> dict[str, Any]:
        """The indices of the dataset's background labels."""
        return {"background_classes": [i for i, name in enumerate(classes) if name in set(background)]}

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        final, taps = self.backbone(features, taps=(c.frame_tap,))
        z_regions = self.post(final)
        region_log_probs = torch.log_softmax(self.action_head(z_regions) / c.temperature, dim=1)  # [B, C, K]
        regions = region_log_probs.exp()
        lengths = self.length_head(z_regions)[:, 0]  # [B, K]
        frames = F.interpolate(self.frame_head(taps[c.frame_tap]), size=features.shape[-1], mode="nearest")
        upsampled = []
        for b, n in enumerate(mask.sum(dim=1).long().tolist()):
            k = max(1, round(n * regions.shape[-1] / features.shape[-1]))
            y = region_upsample(regions[b, :, :k], lengths[b, :k], n)
            upsampled.append(F.pad(y, (0, features.shape[-1] - n)))
        return {
            "upsampled": torch.stack(upsampled),
            "regions": regions,
            "region_log_probs": region_log_probs,
            "lengths": lengths,
            "frame_logits": frames,
        }

    def frame_probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return outputs["upsampled"]

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c = self.config
        mask = targets["mask"]
        B = mask.shape[0]
        sums: dict[str, torch.Tensor] = {}
        w = self.class_weights
        for b in range(B):
            n = int(mask[b].sum())
            k = max(1, round(n * outputs["regions"].shape[-1] / mask.shape[-1]))
            regions, lengths = outputs["regions"][b, :, :k], outputs["lengths"][b, :k]
            log_regions = outputs["region_log_probs"][b, :, :k]
            action_set = targets["set"][b]
            action_set = action_set[action_set >= 0]
            terms = {
                "self": sct_self_supervision(
                    outputs["upsampled"][b, :, :n], outputs["frame_logits"][b, :, :n], action_set, w
                ),
                "set": sct_set_loss(log_regions, action_set, w),
                "region": sct_region_loss(log_regions, action_set),
                "consistency": sct_temporal_consistency(regions, action_set),
                "sparsity": sct_inverse_sparsity(regions, action_set, w),
                "length": sct_length_regulariser(lengths),
            }
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value / B
        total = (
            c.self_supervision_weight * sums["self"]
            + c.set_weight * sums["set"]
            + c.region_weight * sums["region"]
            + c.consistency_weight * sums["consistency"]
            + c.sparsity_weight * sums["sparsity"]
            + c.length_weight * sums["length"]
        )
        return {**sums, "total": total}

    def decode_inputs(self, outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"label": outputs["upsampled"].argmax(dim=1)}

    def decode_video(self, outputs, b, n, video, classes, targets) -> Timeline:
        """``argmax_c Y[c, t]`` (§1.5)."""
        return Timeline.from_labels(video, outputs["label"][b, :n].cpu().numpy(), classes)
