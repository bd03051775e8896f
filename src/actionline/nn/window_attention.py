"""Local window attention of ASFormer (Yi et al., BMVC 2021, Sec. 3.1), vectorised and with correct windows.

Block ``i`` uses block length ``bl = 2**i``: every query ``t`` attends to the ``bl`` keys
``[t - bl//2, t - bl//2 + bl)`` (a window centred on it), restricted to valid (unpadded) frames.

The reference implementation splits queries into chunks of ``bl``, gives each chunk the keys of the chunk
widened by ``bl//2`` on both sides, and *intends* a band mask selecting each query's own ``bl`` keys; its mask
is all ones (specs §3), so every query of a chunk sees the whole ``2*bl`` widened window. Here the band is
applied. The computation is the same chunked layout done as one batched matmul over strided views (``unfold``)
instead of a Python loop over chunks.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def _band(block: int, width: int, device: torch.device) -> torch.Tensor:
    """[block, width] bool: query ``i`` of a chunk sees window positions ``i .. i + block - 1``."""
    q = torch.arange(block, device=device)[:, None]
    k = torch.arange(width, device=device)[None, :]
    return (k >= q) & (k < q + block)


def window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, block: int, full_window: bool = False
) -> torch.Tensor:
    """Attention of ``q`` [B, Cq, T] over ``k`` [B, Cq, T] / ``v`` [B, Cv, T] in local windows of ``block``.

    ``mask`` [B, T] (1 = valid frame). ``full_window=True`` reproduces the reference's all-ones window mask.
    Returns [B, Cv, T]; scores are scaled by ``1/sqrt(Cq)``.
    """
    B, Cq, T = q.shape
    Cv = v.shape[1]
    half = block // 2
    width = block + 2 * half
    chunks = math.ceil(T / block)
    pad_end = chunks * block - T
    qc = F.pad(q, (0, pad_end)).view(B, Cq, chunks, block)
    kw = F.pad(k, (half, pad_end + half)).unfold(-1, width, block)  # [B, Cq, chunks, width]
    vw = F.pad(v, (half, pad_end + half)).unfold(-1, width, block)  # [B, Cv, chunks, width]
    valid = F.pad(mask.to(q.dtype), (half, pad_end + half)).unfold(-1, width, block) > 0  # [B, chunks, width]
    scores = torch.einsum("bcnq,bcnw->bnqw", qc, kw) * (1.0 / math.sqrt(Cq))
    allowed = valid[:, :, None, :]
    if not full_window:
        allowed = allowed & _band(block, width, q.device)
    scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    attn = torch.softmax(scores, dim=-1) * allowed
    out = torch.einsum("bnqw,bcnw->bcnq", attn, vw).reshape(B, Cv, chunks * block)
    return out[..., :T]
