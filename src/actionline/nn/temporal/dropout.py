"""Element-wise dropout whose mask costs a fraction of ``nn.Dropout``'s on the CPU.

``nn.Dropout`` draws its mask with ``bernoulli_``: 5 ms for one 5,750 x 64 feature map on this CPU, 40% of an
MS-TCN training step at the reference's 40 dropout layers. Here the mask is cut from 64-bit random words
(``random_`` over the full range): one bit per element when p = 0.5 (the MS-TCN and ASFormer default), otherwise
16 bits per element compared with ``round((1 - p) 2^16)`` (the keep probability is that over 2^16, within 2^-17 of
``1 - p``). Survivors are scaled by ``1 / (1 - p)`` as in ``nn.Dropout``. The scaled mask is built without a
bool-to-float conversion: at p = 0.5 each random octet selects the row of 8 scales its bits spell from a 256-row
table (0.2 ms for the map above against 0.8 ms through a bool mask); otherwise, for fp32, with integer operations
on the bit patterns (0 or the pattern of ``1 / (1 - p)``). The masks come from the same generator
(``torch.manual_seed``, checkpointed RNG state) but are a different random stream from ``nn.Dropout``'s. Other
devices use ``F.dropout``.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F

_SHIFTS = torch.arange(8, dtype=torch.uint8)


def _random_words(n_bytes: int, device: torch.device) -> torch.Tensor:
    """At least ``n_bytes`` uniformly random bytes (as int64 words: every bit uniform, the sign bit included)."""
    return torch.empty((n_bytes + 7) // 8, dtype=torch.int64, device=device).random_(-(2**63), 2**63 - 1)


def keep_mask(shape: torch.Size, keep: float, device: torch.device) -> torch.Tensor:
    """A bool mask of ``shape``, each element True with probability ``keep`` (exactly for 0.5, else
    ``round(keep 2^16) / 2^16``)."""
    n = shape.numel()
    if keep == 0.5:
        octets = _random_words((n + 7) // 8, device).view(torch.uint8)
        bits = octets[:, None].bitwise_right_shift(_SHIFTS.to(device)).bitwise_and_(1)
        return bits.view(-1)[:n].view(torch.bool).view(shape)
    halves = _random_words(2 * n, device).view(torch.int16)[:n]  # uniform over [-2^15, 2^15)
    return (halves < round(keep * 2**16) - 2**15).view(shape)


class Dropout(nn.Dropout):
    """``nn.Dropout`` (same arguments, no parameters) with the CPU mask above; `residual` fuses it into the
    residual connection that follows it in MS-TCN and ASFormer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p >= 1 or x.device.type != "cpu":
            return F.dropout(x, self.p, True, self.inplace)
        return x * self._scaled_mask(x)

    def residual(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``x + dropout(h)``: one pass (``addcmul`` with the scaled mask) instead of mask, scale and add;
        without dropout ``h`` is added in place (``h`` must be a fresh tensor)."""
        if not self.training or self.p == 0:
            return h.add_(x)
        if self.p >= 1 or x.device.type != "cpu":
            return x + F.dropout(h, self.p, True)
        return torch.addcmul(x, h, self._scaled_mask(h))

    def _scaled_mask(self, x: torch.Tensor) -> torch.Tensor:
        """0 or ``1 / (1 - p)`` per element of ``x``, in ``x``'s dtype (a bool operand of ``addcmul`` would be
        converted in the forward and again in the backward)."""
        return scaled_keep_mask(x.shape, 1.0 - self.p, x)


def scaled_keep_mask(shape: torch.Size, keep: float, like: torch.Tensor) -> torch.Tensor:
    """`keep_mask` times ``1 / keep``, in ``like``'s dtype and device: the same elements are kept as
    `keep_mask` draws from the same generator state. At ``keep = 0.5`` each random octet selects its row of
    `_octet_scales`; otherwise fp32 masks are made as int32 bit patterns: the 16-bit draw ``r`` gives
    ``(r - threshold) >> 31`` (all ones where kept) AND the pattern of ``1 / keep``."""
    n = shape.numel()
    if keep == 0.5:
        octets = _random_words((n + 7) // 8, like.device).view(torch.uint8)[: (n + 7) // 8]
        scales = _octet_scales(like.dtype, like.device).index_select(0, octets.long())
        return scales.view(-1)[:n].view(shape)
    if like.dtype != torch.float32:
        return torch.mul(keep_mask(shape, keep, like.device), like.new_tensor(1.0 / keep))
    draws = _random_words(2 * n, like.device).view(torch.int16)[:n].to(torch.int32)
    pattern = torch.tensor(1.0 / keep, dtype=torch.float32).view(torch.int32).item()
    threshold = round(keep * 2**16) - 2**15
    return draws.sub_(threshold).bitwise_right_shift_(31).bitwise_and_(pattern).view(torch.float32).view(shape)


@functools.cache
def _octet_scales(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """[256, 8]: row ``o`` holds 2 where bit i of ``o`` is set (element i of the octet is kept) and 0 elsewhere."""
    bits = torch.arange(256)[:, None].bitwise_right_shift(torch.arange(8)).bitwise_and_(1)
    return bits.to(dtype=dtype, device=device).mul_(2)


class ChannelDropout(nn.Dropout1d):
    """``nn.Dropout1d`` of the input features [B, D, T] (ASFormer's input ``Dropout2d``), applied to the first
    layer's weight instead: ``W (m * x) = (W m) x`` for a per-channel mask ``m``, so a 2048-channel video is
    neither copied nor multiplied (47 MB per step at T = 5,750, all of it page-faulted in). `scales` gives the
    per-video channel scales (0 or ``1 / (1 - p)``) the layer multiplies its weight columns by.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise TypeError("ChannelDropout is applied through the next layer: pass scales(...) to it")

    def scales(self, batch: int, channels: int, like: torch.Tensor) -> torch.Tensor | None:
        """[batch, channels] scales, or ``None`` without dropout (evaluation, p = 0)."""
        if not self.training or self.p == 0:
            return None
        if self.p >= 1:
            return like.new_zeros(batch, channels)
        keep = 1.0 - self.p
        return keep_mask(torch.Size([batch, channels]), keep, like.device).to(like.dtype).mul_(1.0 / keep)
