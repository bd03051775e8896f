"""TAGS / GSMT: proposal-free temporal action detection with global segmentation masks.

Nag et al., "Proposal-free temporal action detection via global segmentation mask learning" (TAGS, ECCV 2022) and
its single-scale predecessor GSMT (``scales=[1]``). Read top to bottom:

1. **Snippet embedding** (TAGS Sec. 3.1, Eqs. 1-2): the video is resampled to ``num_snippets * max(scales)``
   snippets; scale ``s`` pools them to ``num_snippets * s`` (TAGS Table 5: scales {1, 2} = 100 and 200 snippets on
   ActivityNet). Per scale, layer norm, ``heads`` self-attention heads (d_k = d_v = ``head_dim``, temperature
   sqrt(d_k)) whose concatenation passes the one fully connected layer of the MLP block with a residual, then a
   final layer norm (released code). No positional encoding by default (GSMT Table 13).
2. **Two branches per scale** (Sec. 3.2): classification ``H_c`` = Conv1d(C -> K+1, k1) (Eq. 3); global mask
   ``H_b`` = Conv(C->1024,k3)+ReLU, Conv(1024->512,k3), Conv(512->256,k3)+ReLU, Conv(256->T_s,k1), sigmoid
   (Eq. 4; released code). Column t of the [T_s, T_s] output is the full-video mask predicted by snippet t.
3. **Label assignment** (Sec. 3.3, Fig. 3a): every snippet whose centre lies in an instance takes its class and its
   instance's video-long binary mask; overlapping instances give the snippet to the shortest; an instance
   containing no snippet centre still claims the snippet at its midpoint. *All* instances of a video are kept
   (the released loader kept only the last one).
4. **Losses** (Eqs. 5-9, `actionline.nn.detection_losses`), each switchable and summed over scales:
   L = L_c + L_m (+ L_pp + L_fc for TAGS). Mask losses use the masks of action snippets only (background
   snippets have no instance mask).
5. **Inference** (Sec. 3.4 / GSMT Sec. 3.3): per scale, the top M1 snippets by foreground class probability;
   each one's mask thresholded at every θ in Θ (first-to-last activation for long actions, every activated run for
   short ones); score = class probability x mask score (TAGS: mean of the mask over the candidate; GSMT: max);
   candidates of all scales in finest-scale snippets; θc filter, class-wise Soft-NMS, top M2.

Sizes: the papers report 2.9M parameters for GSMT (two-stream 400-d features, T=100) and 6.2M / 9.8M for scales
{1,2} / {1,2,4}; the released code's layer shapes (kept here) give more; `actionline profile tags` shows the
count for any setting and the README compares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from actionline.errors import ConfigError
from actionline.models.base import DetectionModel, ModelConfig
from actionline.models.detection.postprocess import segment_max, segment_means, threshold_runs
from actionline.models.registry import register
from actionline.nn import detection_losses as losses
from actionline.nn.nms import METHODS as NMS_METHODS

PROPOSAL_MODES = ("first_last", "runs")


def threshold_range(start: float, stop: float, step: float) -> list[float]:
    return [round(start + step * i, 4) for i in range(round((stop - start) / step) + 1)]


@dataclass
class TagsConfig(ModelConfig):
    input_dim: int = 2048
    num_classes: int = 200
    num_snippets: int = 100  # T at scale 1 (ActivityNet 100; GSMT THUMOS 256)
    scales: list[int] = field(default_factory=lambda: [1, 2])  # [1] = GSMT
    heads: int = 4
    head_dim: int | None = None  # d_k = d_v; None = the input dimension (released code)
    dropout: float = 0.1
    positional_encoding: bool = False
    mask_channels: list[int] = field(default_factory=lambda: [1024, 512, 256])
    # losses (Eqs. 5-9)
    class_focal_weight: float = 0.4  # λ1
    focal_gamma: float = 2.0
    class_balance_alpha: float = 10.0
    hard_negative_fraction: float = 0.1
    erosion_kernel: int = 7
    dice_weight: float = 0.4  # λ2
    mask_bce_weight: float = 0.0  # the released code's class-balanced BCE on the masks (not in the papers)
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
    proposal_mode: str = "first_last"  # long actions (ActivityNet); "runs" for short ones (THUMOS)
    mask_score: str = "mean"  # TAGS: mean of the mask over the candidate; GSMT: "max"
    min_score: float = 0.1  # θc
    max_detections: int = 200  # M2
    nms_method: str = "gaussian"
    nms_sigma: float = 0.6  # the papers' Soft-NMS parameter: 0.6 ActivityNet, 0.4 THUMOS
    nms_iou: float = 0.5  # linear / hard NMS only

    def validate(self) -> None:
        super().validate()
        if not self.scales or any(s < 1 for s in self.scales) or len(set(self.scales)) != len(self.scales):
            raise ConfigError(f"model.scales must be distinct positive integers, got {self.scales}")
        top = max(self.scales)
        if any(top % s for s in self.scales):
            raise ConfigError(f"model.scales must each divide the largest scale, got {self.scales}")
        if self.num_snippets < 2 or self.heads < 1 or self.erosion_kernel < 1 or self.erosion_kernel % 2 == 0:
            raise ConfigError("model.num_snippets >= 2, model.heads >= 1 and an odd model.erosion_kernel are required")
        if self.proposal_mode not in PROPOSAL_MODES:
            raise ConfigError(f"model.proposal_mode must be one of {', '.join(PROPOSAL_MODES)}")
        if self.mask_score not in ("mean", "max"):
            raise ConfigError("model.mask_score must be mean or max")
        if self.nms_method not in NMS_METHODS:
            raise ConfigError(f"model.nms_method must be one of {', '.join(NMS_METHODS)}")
        if not self.mask_thresholds or not all(0 < t < 1 for t in self.mask_thresholds):
            raise ConfigError("model.mask_thresholds must be values in (0, 1)")

    @property
    def input_length(self) -> int:
        """Snippets the video is resampled to (the finest scale)."""
        return self.num_snippets * max(self.scales)


def sinusoidal_encoding(length: int, dim: int) -> torch.Tensor:
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    enc = torch.zeros(length, dim)
    enc[:, 0::2] = torch.sin(pos * freq)
    enc[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return enc


class SnippetEmbedding(nn.Module):
    """Eqs. 1-2 at one scale: pre-norm multi-head self-attention over snippets, MLP (one FC) with residual."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.dropout = nn.Dropout(dropout)
        self.mlp = nn.Linear(heads * head_dim, dim)
        self.out_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, C] -> E [B, T, C]."""
        b, t, _ = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout.p if self.training else 0.0)
        heads = attn.transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
        return self.out_norm(x + self.dropout(self.mlp(heads)))


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
            self.register_buffer("position", sinusoidal_encoding(self.length, dim), persistent=False)
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


def snippet_targets(
    instances: torch.Tensor, counts: torch.Tensor, length: int, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Label assignment (Fig. 3a) at ``length`` snippets.

    ``instances`` [B, N, 3] rows (start, end, class) with times as fractions of the video, ``counts`` [B] valid
    rows. Returns labels [B, T] (``num_classes`` = background) and masks [B, T (position), T (snippet)].
    """
    b, n, _ = instances.shape
    device = instances.device
    centres = (torch.arange(length, device=device, dtype=instances.dtype) + 0.5) / length
    start, end, cls = instances[..., 0:1], instances[..., 1:2], instances[..., 2].long()
    inside = (centres >= start) & (centres < end)  # [B, N, T]
    mid = ((start + end) / 2 * length).long().clamp(0, length - 1)
    inside |= F.one_hot(mid.squeeze(-1), length).bool()
    valid = torch.arange(n, device=device)[None] < counts[:, None]
    inside &= valid[..., None]
    span = torch.where(valid, (end - start).squeeze(-1), torch.inf)
    cost = torch.where(inside, span[..., None], torch.inf)  # shortest covering instance wins
    best = cost.argmin(dim=1)  # [B, T]
    covered = inside.any(dim=1)
    labels = torch.where(covered, cls.gather(1, best), torch.full_like(best, num_classes))
    masks = inside.gather(1, best[..., None].expand(b, length, length)).to(instances.dtype)  # [B, snippet, pos]
    masks = masks * covered[..., None]
    return labels, masks.transpose(1, 2)


@register("tags")
class Tags(DetectionModel):
    """TAGS (``scales=[1, 2]``) / GSMT (``scales=[1]``) detector. See the module docstring."""

    Config = TagsConfig

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
            add(terms, "mask", losses.mask_loss(pred_cols, gt_cols, c.erosion_kernel, c.dice_weight))
            if c.mask_bce_weight > 0 and len(logit_cols):
                add(terms, "mask_bce", c.mask_bce_weight * losses.balanced_bce(logit_cols, gt_cols))
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
