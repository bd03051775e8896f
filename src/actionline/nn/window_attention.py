"""Local window attention of ASFormer (Yi et al., BMVC 2021, Sec. 3.1), vectorised and with correct windows.

Block ``i`` uses block length ``bl = 2**i``: every query ``t`` attends to the ``bl`` keys
``[t - bl//2, t - bl//2 + bl)`` (a window centred on it), restricted to valid (unpadded) frames.

The reference implementation splits queries into chunks of ``bl``, gives each chunk the keys of the chunk
widened by ``bl//2`` on both sides, and *intends* a band mask selecting each query's own ``bl`` keys; its mask
is the union of the bands (specs §3), so every query of a chunk sees the widened window but its last key
(``2*bl - 1`` keys for even ``bl``). Here the band is applied, and ``full_window=True`` reproduces the reference
mask exactly (the reference adds ``log(1e-6)`` where this adds a large negative number).

Speed: the queries are cut into chunks of ``min(bl, 64)``; each chunk needs only ``chunk + bl - 1`` keys, read
through a strided view (``unfold``), so one batched matmul covers all chunks with no Python loop and, for large
blocks, about half the work of the reference's ``2*bl`` windows. Masks enter as an additive bias.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

QUERY_CHUNK = 64


def _band_bias(chunk: int, width: int, block: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """[chunk, width] additive bias: 0 where query ``i`` may see window position ``j`` (``i <= j < i + block``)."""
    q = torch.arange(chunk, device=device)[:, None]
    k = torch.arange(width, device=device)[None, :]
    band = (k >= q) & (k < q + block)
    return torch.zeros(chunk, width, dtype=dtype, device=device).masked_fill_(~band, _neg(dtype))


def _neg(dtype: torch.dtype) -> float:
    # Two biases may add up: a quarter of the most negative value cannot overflow and still vanishes in softmax.
    return torch.finfo(dtype).min / 4


def window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, block: int, full_window: bool = False
) -> torch.Tensor:
    """Attention of ``q`` [B, Cq, T] over ``k`` [B, Cq, T] / ``v`` [B, Cv, T] in local windows of ``block``.

    ``mask`` [B, T] (1 = valid frame). Returns [B, Cv, T]; scores are scaled by ``1/sqrt(Cq)``.
    """
    B, Cq, T = q.shape
    Cv = v.shape[1]
    half = block // 2
    if full_window:  # reference layout: chunks of bl, each sees its chunk widened by bl//2 on both sides
        chunk, width = block, block + 2 * half
    else:
        chunk = min(block, QUERY_CHUNK)
        width = chunk + block - 1
    chunks = math.ceil(T / chunk)
    pad_end = chunks * chunk - T
    right = chunks * chunk + width - chunk - half - T  # right padding so every window exists
    qc = F.pad(q, (0, pad_end)).view(B, Cq, chunks, chunk)
    kw = F.pad(k, (half, right)).unfold(-1, width, chunk)  # [B, Cq, chunks, width]
    vw = F.pad(v, (half, right)).unfold(-1, width, chunk)  # [B, Cv, chunks, width]
    key_ok = F.pad(mask.to(q.dtype), (half, right)).unfold(-1, width, chunk)  # [B, chunks, width]
    bias = (1.0 - key_ok) * _neg(q.dtype)
    scores = torch.einsum("bcnq,bcnw->bnqw", qc, kw).mul_(1.0 / math.sqrt(Cq))
    scores.add_(bias[:, :, None, :])
    if not full_window:
        scores.add_(_band_bias(chunk, width, block, q.dtype, q.device))
    elif width > 2 * block - 1:  # the reference's mask covers columns [0, 2 bl - 1): its last column stays zero
        scores[..., 2 * block - 1 :] = _neg(q.dtype)
    attn = torch.softmax(scores, dim=-1)
    out = torch.einsum("bnqw,bcnw->bcnq", attn, vw).reshape(B, Cv, chunks * chunk)
    return out[..., :T]
