"""Temporal convolutions computed as matrix products, for the frame-wise encoders (MS-TCN, ASFormer).

Two layouts. ``Pointwise`` takes channels-first frames [B, C, T] (the model contract's layout) and is one
``addmm`` / ``baddbmm`` with the bias fused in. The ``Frame*`` layers take time-major frames [B, T, C]: every
product then has the T frames as its long M dimension (the shape BLAS runs fastest on this CPU: 64 -> 64
products at ~95 GMAC/s against ~70 channels-first), and a temporal shift is a contiguous row range, so a
kernel-3 dilated convolution is three accumulated products over shifted row ranges with no padding or im2col
copy. All keep ``nn.Conv1d``'s parameters and state dict (checkpoints load either way) and compute the same
function: tests compare outputs and gradients with ``nn.Conv1d`` to 1e-5.
"""

from __future__ import annotations

import torch
from torch import nn


class Pointwise(nn.Conv1d):
    """1x1 convolution on channels-first frames [B, C_in, T] -> [B, C_out, T]."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight[:, :, 0]
        if self.bias is None:
            return torch.matmul(weight, x)
        if x.shape[0] == 1:
            return torch.addmm(self.bias[:, None], weight, x[0]).unsqueeze(0)
        return torch.baddbmm(self.bias[None, :, None], weight.expand(x.shape[0], -1, -1), x)


def _taps(kernel: int, dilation: int, length: int) -> list[tuple[int, slice, slice]]:
    """(tap, output rows, input rows) of a kernel-1 or kernel-3 convolution with zero padding ``dilation``:
    ``y[t] += W_tap x[t + (tap - 1) d]``, the centre tap first (it covers every row)."""
    if kernel == 1:
        return [(0, slice(None), slice(None))]
    d = dilation
    taps = [(1, slice(None), slice(None))]
    if d < length:
        taps += [(0, slice(d, None), slice(0, length - d)), (2, slice(0, length - d), slice(d, None))]
    return taps


def conv_into(
    out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int = 1
) -> torch.Tensor:
    """`frame_conv` written into ``out`` [B, T, C_out] (no autograd): ``out`` may be a reused buffer."""
    return _conv(out, x, weight, bias, dilation, accumulate=False)


def conv_add_(out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``out += conv1x1(x)`` in place (no autograd): an inference residual connection without a new tensor."""
    return _conv(out, x, weight, bias, 1, accumulate=True)


def _tap_matrices(weight: torch.Tensor) -> torch.Tensor:
    """[C_out, C_in, K] -> [K, C_out, C_in] with each tap's matrix contiguous (no copy for K = 1): a tap sliced from
    the Conv1d layout has no unit stride, which BLAS cannot take without a copy per product (and runs slower)."""
    return weight.permute(2, 0, 1).contiguous()


def _conv(out, x, weight, bias, dilation, accumulate: bool) -> torch.Tensor:
    B, T, _ = x.shape
    taps = _taps(weight.shape[2], dilation, T)
    matrices = _tap_matrices(weight)
    for b in range(B):  # a loop over videos: each tap is one product over all frames
        if weight.shape[2] == 1 and not accumulate and x.stride(1) == 1:  # channels-first input: `_channels_first`
            _channels_first(out[b], x[b], matrices[0], bias)
            continue
        for i, (tap, rows_out, rows_in) in enumerate(taps):
            w = matrices[tap].t()
            if i > 0 or accumulate:
                out[b, rows_out].addmm_(x[b, rows_in], w)
            else:
                torch.mm(x[b], w, out=out[b])
        if bias is not None:  # after the products: `addmm`'s bias is copied into ``out`` first, while it is cold
            out[b].add_(bias)
    return out


def _channels_first(out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    """``out`` [T, C_out] = 1x1 conv of ``x`` [T, C_in] stored channels-first (the model's input, read through a
    transposed view): the product ``W x`` in that layout, then one transposed copy. For the 2048 -> 64 input layer
    this takes 7.5 ms at T = 5,750 against 10.3 ms for the product with a transposed operand."""
    product = torch.mm(weight, x.t()) if bias is None else torch.addmm(bias[:, None], weight, x.t())
    out.copy_(product.t())


class _FrameConv(torch.autograd.Function):
    """Kernel-1 or kernel-3 (dilated, zero-padded) convolution of time-major frames [B, T, C_in] as one matrix
    product per tap over shifted row ranges, forward and backward (the backward's products write into their
    row ranges: autograd through sliced in-place products would add a zeroed copy per slice)."""

    @staticmethod
    def forward(ctx, x, weight, bias, dilation: int):
        out = conv_into(x.new_empty(*x.shape[:2], weight.shape[0]), x, weight, bias, dilation)
        ctx.save_for_backward(x, weight)
        ctx.dilation, ctx.has_bias = dilation, bias is not None
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx, dw, db = conv_backward(grad, x, weight, ctx.dilation, need_x, need_w, need_b and ctx.has_bias)
        return dx, dw, db, None


def conv_backward(
    grad: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    dilation: int,
    need_x: bool = True,
    need_w: bool = True,
    need_b: bool = True,
    residual: torch.Tensor | None = None,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The gradients (input, weight, bias; ``None`` where not needed) of `frame_conv` for ``grad`` [B, T, C_out]:
    one product per tap, each written into its row range. ``residual`` (a gradient of ``x``'s shape from another
    path) is added into the input's gradient by the first product instead of by a separate pass."""
    B, T, _ = x.shape
    taps = _taps(weight.shape[2], dilation, T)
    dx = x.new_empty(x.shape) if need_x else None
    dw = weight.new_zeros(weight.shape[2], *weight.shape[:2]) if need_w else None  # [taps, C_out, C_in]
    matrices = _tap_matrices(weight) if need_x else None
    for b in range(B):
        for i, (tap, rows_out, rows_in) in enumerate(taps):
            g, xs = grad[b, rows_out], x[b, rows_in]
            if need_x:
                if i > 0:
                    dx[b, rows_in].addmm_(g, matrices[tap])
                elif residual is not None:
                    torch.addmm(residual[b], g, matrices[tap], out=dx[b])
                else:
                    torch.mm(g, matrices[tap], out=dx[b])
            if need_w and xs.stride(0) == 1:  # a channels-first input (a stage's first layer): (x^T g)^T
                dw[tap].t().addmm_(xs.t(), g)
            elif need_w:
                dw[tap].addmm_(g.t(), xs)
    dw = dw.permute(1, 2, 0).contiguous() if need_w else None
    db = grad.sum((0, 1)) if need_b else None
    return dx, dw, db


def frame_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int = 1) -> torch.Tensor:
    """Time-major ``x`` [B, T, C_in] (any row stride), ``weight`` [C_out, C_in, 1 or 3] -> [B, T, C_out]."""
    return _FrameConv.apply(x, weight, bias, dilation)


class FramePointwise(nn.Conv1d):
    """1x1 convolution on time-major frames [B, T, C_in] -> [B, T, C_out].

    ``input_scales`` [B, C_in] (optional) scale each video's input channels, applied to the weight's columns
    (input channel dropout without touching the input, `actionline.nn.temporal.dropout.ChannelDropout`).
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor, input_scales: torch.Tensor | None = None) -> torch.Tensor:
        return scaled_frame_conv(x, self.weight, self.bias, input_scales)


def scaled_frame_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, input_scales: torch.Tensor | None
) -> torch.Tensor:
    """`frame_conv` with each video's input channels scaled by ``input_scales`` [B, C_in] (``None``: 1), the
    scales applied to the weight's columns, video by video."""
    if input_scales is None:
        return frame_conv(x, weight, bias)
    if len(x) == 1:
        return frame_conv(x, weight * input_scales[0, None, :, None], bias)
    return torch.cat([frame_conv(x[b : b + 1], weight * input_scales[b, None, :, None], bias) for b in range(len(x))])


class FrameDilatedConv(nn.Conv1d):
    """Kernel-3 convolution with dilation ``d`` and zero padding ``d`` on time-major frames [B, T, C].

    ``y[t] = b + W_0 x[t - d] + W_1 x[t] + W_2 x[t + d]`` (zero outside [0, T)): the centre tap over all rows,
    then each side tap added into the rows it reaches.
    """

    def __init__(self, in_channels: int, out_channels: int, dilation: int):
        super().__init__(in_channels, out_channels, 3, padding=dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return frame_conv(x, self.weight, self.bias, self.dilation[0])


def valid_or_none(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
    """A [B, T] frame mask as ``dtype``, or ``None`` when every frame is valid (the layers then skip masking)."""
    return None if bool((mask > 0).all()) else mask.to(dtype)


def hooked(module: nn.Module) -> bool:
    """Whether ``module`` or a submodule has forward hooks: the fused and in-place fast paths then fall back to
    calling each layer, so that hooks (the profiler's MAC counter) see every layer."""
    return any(m._forward_hooks for m in module.modules())
