"""TAGS / GSMT: proposal-free temporal action detection with global segmentation masks.

Nag et al., "Proposal-free temporal action detection via global segmentation mask learning" (TAGS, ECCV 2022) and
its single-scale predecessor GSMT (``scales=[1]``). Read top to bottom:

1. **Snippet embedding** (TAGS Sec. 3.1, Eqs. 1-2): the video is resampled to ``num_snippets * max(scales)``
   snippets; scale ``s`` pools them to ``num_snippets * s`` (TAGS Table 5: scales {1, 2} = 100 and 200 snippets on
   ActivityNet). Per scale, layer norm, ``heads`` self-attention heads (d_k = d_v = ``head_dim``, temperature
   sqrt(d_k)) whose concatenation passes the one fully connected layer of the MLP block with a residual, then a
   final layer norm (released code). No positional encoding by default (GSMT Table 13) for whole-video inputs;
   **windowed inputs (THUMOS presets) add sinusoidal positions** (a reading): the mask head outputs one channel
   per *absolute* position, and without positions the attention embedding is permutation-equivariant, so
   shifting a clip's content cannot move its predicted mask (measured: at most 6e-8). The best fixed interval
   reaches tIoU >= 0.5 on 45% of ActivityNet instances but 3% of THUMOS ones, which is why the papers' ordering
   held on ActivityNet and collapsed on THUMOS windows.
2. **Two branches per scale** (Sec. 3.2): classification ``H_c`` = Conv1d(C -> K+1, k1) (Eq. 3); global mask
   ``H_b`` = Conv(C->1024,k3)+ReLU, Conv(1024->512,k3), Conv(512->256,k3)+ReLU, Conv(256->T_s,k1), sigmoid
   (Eq. 4; released code). Column t of the [T_s, T_s] output is the full-video mask predicted by snippet t.
3. **Label assignment** (Sec. 3.3, Fig. 3a): every snippet whose centre lies in an instance takes its class and its
   instance's video-long binary mask; overlapping instances give the snippet to the shortest; an instance
   containing no snippet centre still claims the snippet at its midpoint. *All* instances of a video are kept
   (the released loader kept only the last one).
4. **Losses** (Eqs. 5-9, `actionline.nn.losses.detection`), each switchable and summed over scales:
   L = L_c + L_m (+ L_pp + L_fc for TAGS). Mask losses use the masks of action snippets only (background
   snippets have no instance mask). L_m defaults to the released code's 0.4 · class-balanced BCE + 0.6 · dice
   (``mask_loss=bce_dice``): Eq. 6's boundary-IoU form (``mask_loss=eq6``) barely pushes a flat background down.
   L_pp uses a mean squared error instead of the printed L2 norm (as the released code), which dominated.
5. **Inference** (Sec. 3.4 / GSMT Sec. 3.3): per scale, the top M1 snippets by foreground class probability;
   each one's mask thresholded at every θ in Θ (first-to-last activation for long actions, every activated run for
   short ones); score = class probability x mask score (TAGS: mean of the mask over the candidate; GSMT: max);
   candidates of all scales in finest-scale snippets; θc filter, class-wise Soft-NMS, top M2.

Sizes: the papers report 2.9M parameters for GSMT (two-stream 400-d features, T=100) and 6.2M / 9.8M for scales
{1,2} / {1,2,4}; the released code's layer shapes (kept here) give more; `actionline profile tags` shows the
count for any setting and the README compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from actionline.errors import ConfigError
from actionline.models.base import DetectionConfig, DetectionModel
from actionline.models.registry import register
from actionline.nn.attention.positional import sinusoid_table
from actionline.nn.decoding.detection_postprocess import segment_max, segment_means, threshold_range, threshold_runs
from actionline.nn.losses import detection as losses
from actionline.nn.temporal.snippets import SnippetEmbedding, snippet_targets


@dataclass
class TagsConfig(DetectionConfig):
    scales: list[int] = field(default_factory=lambda: [1, 2])  # [1] = GSMT
    positional_encoding: bool = False
    mask_channels: list[int] = field(default_factory=lambda: [1024, 512, 256])
    # mask losses (Eqs. 6-9)
    erosion_kernel: int = 7
    mask_loss: Literal["bce_dice", "eq6"] = "bce_dice"  # see item 4 of the module docstring
    dice_weight: float = 0.4  # λ2 of Eq. 6
    mask_bce_weight: float = 0.4  # bce_dice: w · balanced BCE + (1 - w) · dice (released code)
    redundancy_loss: bool = True  # L_pp (TAGS)
    redundancy_delta: float = 0.25
    redundancy_beta: float = 2.0
    consistency_loss: bool = True  # L_fc (TAGS)
    consistency_class_threshold: float = 0.3
    consistency_mask_threshold: float = 0.5
    consistency_topk: int = 40
    # inference
    top_snippets: int = 50  # M1
    mask_thresholds: list[float] = field(default_factory=lambda: threshold_range(0.1, 0.9, 0.05))  # Θ
    proposal_mode: Literal["first_last", "runs"] = "first_last"  # first_last: long actions (ActivityNet); runs: THUMOS
    mask_score: Literal["mean", "max"] = "mean"  # TAGS: mean of the mask over the candidate; GSMT: "max"

    def validate(self) -> None:
        super().validate()
        if not self.scales or any(s < 1 for s in self.scales) or len(set(self.scales)) != len(self.scales):
            raise ConfigError(f"model.scales must be distinct positive integers, got {self.scales}")
        top = max(self.scales)
        if any(top % s for s in self.scales):
            raise ConfigError(f"model.scales must each divide the largest scale, got {self.scales}")
        if self.erosion_kernel < 1 or self.erosion_kernel % 2 == 0:
            raise ConfigError(f"model.erosion_kernel must be odd and positive, got {self.erosion_kernel}")
        if not self.mask_thresholds or not all(0 < t < 1 for t in self.mask_thresholds):
            raise ConfigError("model.mask_thresholds must be values in (0, 1)")

    @property
    def input_length(self) -> int:
        """Snippets the video is resampled to (the finest scale)."""
        return self.num_snippets * max(self.scales)


class MaskHead(nn.Module):
    """Eq. 4's H_b: three k3 convolutions and a k1 projection to one logit per snippet position."""

    def __init__(self, dim: int, channels: Sequence[int], length: int):
        super().__init__()
        c1, c2, c3 = channels
        self.layers = nn.Sequential(
            nn.Conv1d(dim, c1, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(c1, c2, 3, padding=1),
            nn.Conv1d(c2, c3, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(c3, length, 1),
        )

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """E [B, C, T] -> mask logits [B, T (position), T (snippet)]."""
        return self.layers(e)


class ScaleBranch(nn.Module):
    """Embedding + classification + global mask (+ E_p, E_m for the consistency loss) at one temporal scale."""

    def __init__(self, c: TagsConfig, scale: int):
        super().__init__()
        self.length = c.num_snippets * scale
        self.pool = max(c.scales) // scale
        dim = c.input_dim
        self.embedding = SnippetEmbedding(dim, c.heads, c.head_dim or dim, c.dropout)
        self.classifier = nn.Conv1d(dim, c.num_classes + 1, 1)
        self.mask_head = MaskHead(dim, c.mask_channels, self.length)
        self.consistency = c.consistency_loss
        if c.consistency_loss:
            self.class_proj = nn.Conv1d(dim, c.num_classes + 1, 1)  # E_p
            self.mask_proj = nn.Conv1d(dim, self.length, 1)  # E_m
        if c.positional_encoding:
            self.register_buffer("position", sinusoid_table(self.length, dim), persistent=False)
        else:
            self.position = None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x [B, D, T_max] -> this scale's outputs."""
        if self.pool > 1:
            x = F.avg_pool1d(x, self.pool)
        h = x.transpose(1, 2)
        if self.position is not None:
            h = h + self.position
        e = self.embedding(h).transpose(1, 2)  # [B, C, T_s]
        out = {"logits": self.classifier(e), "mask_logits": self.mask_head(e)}
        if self.consistency and self.training:
            out["class_feats"] = self.class_proj(e)
            out["mask_feats"] = self.mask_proj(e)
        return out


@register("tags")
class Tags(DetectionModel):
    """TAGS (``scales=[1, 2]``) / GSMT (``scales=[1]``) detector. See the module docstring."""

    Config = TagsConfig
    inference_settings = DetectionModel.inference_settings | {
        "top_snippets",
        "mask_thresholds",
        "proposal_mode",
        "mask_score",
    }

    def __init__(self, config: TagsConfig):
        super().__init__(config)
        self.branches = nn.ModuleList(ScaleBranch(config, s) for s in config.scales)
        self.register_buffer("thresholds", torch.tensor(config.mask_thresholds), persistent=False)

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """features [B, D, T] (resampled to ``input_length`` by linear interpolation when T differs)."""
        length = self.config.input_length
        if features.shape[-1] != length:
            features = F.interpolate(features, size=length, mode="linear", align_corners=True)
        out: dict[str, torch.Tensor] = {}
        for scale, branch in zip(self.config.scales, self.branches, strict=True):
            for key, value in branch(features).items():
                out[f"{key}@{scale}"] = value
        return out

    # --- training ---------------------------------------------------------------------------------------------
    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c = self.config
        terms: dict[str, torch.Tensor] = {}
        for scale in c.scales:
            logits, mask_logits = outputs[f"logits@{scale}"], outputs[f"mask_logits@{scale}"]
            length = logits.shape[-1]
            labels, gt_masks = snippet_targets(targets["instances"], targets["num_instances"], length, c.num_classes)
            flat_logits = logits.transpose(1, 2).reshape(-1, logits.shape[1])
            add(
                terms,
                "class",
                losses.classification_loss(
                    flat_logits,
                    labels.reshape(-1),
                    c.class_focal_weight,
                    c.focal_gamma,
                    c.class_balance_alpha,
                    c.hard_negative_fraction,
                ),
            )
            fg = labels < c.num_classes  # [B, T]
            logit_cols = mask_logits.transpose(1, 2)[fg]  # [N_fg, T]
            pred_cols, gt_cols = torch.sigmoid(logit_cols), gt_masks.transpose(1, 2)[fg]
            if c.mask_loss == "eq6":
                add(terms, "mask", losses.mask_loss(pred_cols, gt_cols, c.erosion_kernel, c.dice_weight))
            else:
                add(terms, "mask", losses.bce_dice_loss(logit_cols, gt_cols, c.mask_bce_weight))
            if c.redundancy_loss:
                add(
                    terms,
                    "redundancy",
                    losses.redundancy_loss(pred_cols, gt_cols, self.thresholds, c.redundancy_delta, c.redundancy_beta),
                )
            if c.consistency_loss:
                add(
                    terms,
                    "consistency",
                    losses.consistency_loss(
                        torch.softmax(logits, dim=1),
                        outputs[f"class_feats@{scale}"],
                        torch.sigmoid(mask_logits),
                        outputs[f"mask_feats@{scale}"],
                        c.consistency_class_threshold,
                        c.consistency_mask_threshold,
                        c.consistency_topk,
                    ),
                )
        terms["total"] = sum(terms.values())
        return terms

    # --- inference --------------------------------------------------------------------------------------------
    def candidates(self, outputs: dict[str, torch.Tensor], b: int) -> tuple[np.ndarray, ...]:
        """All candidates of video ``b`` (before NMS) in finest-scale snippets: starts, ends, labels, scores."""
        c = self.config
        thresholds = np.asarray(c.mask_thresholds)
        parts = []
        for scale in c.scales:
            probs = torch.softmax(outputs[f"logits@{scale}"][b].float(), dim=0)[:-1].cpu().numpy()  # [K, T]
            masks = torch.sigmoid(outputs[f"mask_logits@{scale}"][b].float()).cpu().numpy()  # [pos, snippet]
            class_score, label = probs.max(axis=0), probs.argmax(axis=0)
            top = np.argsort(-class_score, kind="stable")[: c.top_snippets]
            rows = np.ascontiguousarray(masks[:, top].T)  # [M1, T]
            row, start, end = threshold_runs(rows, thresholds, c.proposal_mode)
            mask_score = (segment_means if c.mask_score == "mean" else segment_max)(rows, row, start, end)
            factor = max(c.scales) // scale
            parts.append((start * factor, end * factor, label[top][row], class_score[top][row] * mask_score))
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))


def add(terms: dict[str, torch.Tensor], name: str, value: torch.Tensor) -> None:
    """Sum a loss term over scales."""
    terms[name] = terms[name] + value if name in terms else value
