"""Snippet-level pieces shared by the detection models (TAGS / GSMT and the actionness baseline).

`SnippetEmbedding` is TAGS Eqs. 1-2 at one scale; `snippet_targets` is the label assignment of TAGS Sec. 3.3 (Fig. 3a).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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
