"""Adaptive Token Sampling (dissertation ch. 7, Sec. 7.2; spec `efficient-backbones-sgs-ats.md` B): parameter-free
selection of the significant tokens of a transformer block from its own attention.

1. Significance (Eq. 7.3): S_j = A_{1,j} ||V_j|| / Σ_i A_{1,i} ||V_i|| over the non-CLS tokens; multi-head as the
   released code: (Σ_h A^h_{1,j}) · ||concat_h V^h_j||, normalised once. Dropped (padded) tokens score 0.
2. Inverse transform sampling (Eqs. 7.4-7.5): the scores sorted ascending, their cumulative sum min-max normalised
   to [0, 1] (released code); K fixed points y_i = (2i - 1) / 2K, each taking the token whose CDF value is nearest.
3. Duplicates are kept once, so K' <= K tokens (plus CLS) survive; K' varies per sample.

Budget per sample: ``tokens`` K, or ``ratio`` ρ: K_n = max(ρ · n_n, 8) with n_n the sample's input tokens (CLS
excluded). A top-K sampler (the fixed-rate baseline of Table 7.1) has the same interface. Selected tokens keep their
original order (CLS first); a batch is packed to the lowest positions and padded to the largest K' + 1, with a mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from actionline.errors import ConfigError

Method = Literal["ats", "topk"]
MIN_TOKENS = 8  # the inference budget's floor (spec B)
OUTSIDE = 4.0  # a CDF value no sampling point (in [0, 1]) is ever nearest to


def significance(attn: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """S [B, N] from attention [B, H, N, N] and values [B, H, N, d_h]; CLS (index 0) and masked tokens score 0."""
    value_norm = v.transpose(1, 2).flatten(2).norm(dim=2)  # ||concat_h V_j||, [B, N]
    raw = attn[:, :, 0, :].sum(dim=1) * value_norm * mask
    raw[:, 0] = 0
    return raw / raw.sum(dim=1, keepdim=True).clamp_min(torch.finfo(raw.dtype).tiny)


def budgets(mask: torch.Tensor, tokens: int | None, ratio: float | None) -> torch.Tensor:
    """K per sample [B]: ``tokens`` or max(ratio · input tokens, 8), never more than the sample's tokens."""
    available = mask[:, 1:].sum(dim=1)
    k = (
        torch.full_like(available, float(tokens))
        if tokens is not None
        else (ratio * available).ceil().clamp_min(MIN_TOKENS)
    )
    return torch.minimum(k, available).long()


def inverse_transform(scores: torch.Tensor, mask: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Selected [B, N] (bool): the tokens nearest to K fixed points of the scores' CDF (CLS not included)."""
    eligible = mask.bool().clone()
    eligible[:, 0] = False
    ordered, order = scores.masked_fill(~eligible, -1.0).sort(dim=1)  # ineligible first, then ascending scores
    cdf = ordered.clamp_min(0).cumsum(dim=1)
    valid = ordered >= 0
    low = cdf.masked_fill(~valid, math.inf).amin(dim=1, keepdim=True)
    high = cdf.amax(dim=1, keepdim=True)
    cdf = ((cdf - low) / (high - low).clamp_min(torch.finfo(cdf.dtype).tiny)).masked_fill(~valid, OUTSIDE)
    kmax = int(k.max()) if k.numel() else 0
    i = torch.arange(1, kmax + 1, device=scores.device, dtype=cdf.dtype)
    points = (2 * i[None, :] - 1) / (2 * k[:, None].to(cdf.dtype))  # [B, Kmax]
    nearest = (cdf[:, None, :] - points[:, :, None]).abs().argmin(dim=2)  # positions in sorted order [B, Kmax]
    chosen = torch.gather(order, 1, nearest)
    used = i[None, :] <= k[:, None]  # points beyond a sample's K are not drawn
    selected = torch.zeros_like(eligible)
    selected.scatter_(1, chosen.masked_fill(~used, 0), used)
    selected[:, 0] = False
    return selected & eligible


def top_k(scores: torch.Tensor, mask: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Selected [B, N] (bool): the K highest-scored tokens (CLS not included)."""
    eligible = mask.bool().clone()
    eligible[:, 0] = False
    rank = scores.masked_fill(~eligible, -1.0).argsort(dim=1, descending=True, stable=True).argsort(dim=1)
    return (rank < k[:, None]) & eligible


def pack(selected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices [B, K'max + 1] of CLS and the selected tokens (original order, lowest positions first) and their mask."""
    keep = selected.clone()
    keep[:, 0] = True
    counts = keep.sum(dim=1)
    index = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, : int(counts.max())]
    mask = (torch.arange(index.shape[1], device=keep.device)[None, :] < counts[:, None]).to(torch.float32)
    return index, mask


@dataclass(frozen=True)
class TokenSampler:
    """Which tokens a block keeps: ``method`` (ats / topk) under a budget of ``tokens`` K or ``ratio`` ρ."""

    method: Method = "ats"
    tokens: int | None = None
    ratio: float | None = None

    def __post_init__(self) -> None:
        if (self.tokens is None) == (self.ratio is None):
            raise ConfigError("a token sampler needs exactly one budget: tokens (K) or ratio (rho)")
        if (self.tokens is not None and self.tokens < 1) or (self.ratio is not None and not 0 < self.ratio <= 1):
            raise ConfigError(f"token budget must be K >= 1 or 0 < rho <= 1, got K={self.tokens}, rho={self.ratio}")

    def __call__(self, attn: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(kept indices [B, K'+1], their mask) for a block's attention and values and its input mask [B, N]."""
        scores = significance(attn, v, mask)
        k = budgets(mask, self.tokens, self.ratio)
        chosen = inverse_transform(scores, mask, k) if self.method == "ats" else top_k(scores, mask, k)
        return pack(chosen)
