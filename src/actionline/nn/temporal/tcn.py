"""Dilated temporal convolutions of MS-TCN (Farha & Gall, CVPR 2019, Sec. 3.1), on time-major frames.

Frames are [B, T, C] inside a stage (see `actionline.nn.temporal.conv`); ``mask`` is [B, T, 1], or ``None`` when every
frame is valid (multiplying by an all-ones mask changes nothing, so it is skipped).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from actionline.nn.temporal.conv import FrameDilatedConv, FramePointwise, conv_add_, conv_backward, conv_into, hooked
from actionline.nn.temporal.dropout import Dropout, scaled_keep_mask


class DilatedResidualLayer(nn.Module):
    """Kernel-3 dilated conv -> ReLU -> 1x1 conv -> dropout -> residual add -> mask. No normalisation."""

    def __init__(self, dilation: int, channels: int, dropout: float = 0.5):
        super().__init__()
        self.conv_dilated = FrameDilatedConv(channels, channels, dilation)
        self.conv_1x1 = FramePointwise(channels, channels)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        drop = self.dropout
        if torch.is_grad_enabled() and x.device.type == "cpu" and drop.p < 1 and not hooked(self):
            keep = None if not drop.training or drop.p == 0 else scaled_keep_mask(x.shape, 1.0 - drop.p, x)
            d, c = self.conv_dilated, self.conv_1x1
            return _ResidualLayer.apply(x, d.weight, d.bias, c.weight, c.bias, d.dilation[0], keep, mask)
        out = drop.residual(x, self.conv_1x1(F.relu(self.conv_dilated(x), inplace=True)))
        return out if mask is None else out.mul_(mask)

    def update_(self, x: torch.Tensor, mask: torch.Tensor | None, scratch: torch.Tensor) -> torch.Tensor:
        """`forward` without gradients, in place: ``x`` becomes the layer's output and ``scratch`` (a buffer
        of ``x``'s shape) holds the hidden layer, so a stage allocates nothing per layer (fresh feature maps
        are written to memory the cache has not seen: up to a third of the inference time)."""
        conv = self.conv_dilated
        hidden = conv_into(scratch, x, conv.weight, conv.bias, conv.dilation[0]).relu_()
        conv_add_(x, hidden, self.conv_1x1.weight, self.conv_1x1.bias)
        return x if mask is None else x.mul_(mask)


class _ResidualLayer(torch.autograd.Function):
    """`DilatedResidualLayer.forward` with gradients as one function: ``(x + keep * (W_1 relu(W_d * x + b_d) + b_1))
    * mask``, where ``keep`` is the scaled dropout mask (``None``: no dropout) and ``mask`` the frame mask.

    Autograd through the layer's parts writes nine fresh feature maps per layer and step; this writes six. The 1x1
    conv's output becomes the layer's output in place, the ReLU's backward masks its gradient in place, and the
    residual gradient enters the input's gradient through the dilated conv's first backward product."""

    @staticmethod
    def forward(ctx, x, w_dilated, b_dilated, w_1x1, b_1x1, dilation: int, keep, mask):
        hidden = conv_into(x.new_empty(x.shape), x, w_dilated, b_dilated, dilation).relu_()
        out = conv_into(x.new_empty(x.shape), hidden, w_1x1, b_1x1)
        out = out.add_(x) if keep is None else torch.addcmul(x, out, keep, out=out)
        if mask is not None:
            out.mul_(mask)
        ctx.save_for_backward(x, hidden, w_dilated, w_1x1, keep, mask)
        ctx.dilation = dilation
        return out

    @staticmethod
    def backward(ctx, grad):
        x, hidden, w_dilated, w_1x1, keep, mask = ctx.saved_tensors
        if mask is not None:
            grad = grad * mask
        branch = grad if keep is None else grad * keep
        need_x, need_wd, need_bd, need_w1, need_b1 = ctx.needs_input_grad[:5]
        d_hidden, dw_1x1, db_1x1 = conv_backward(branch, hidden, w_1x1, 1, True, need_w1, need_b1)
        torch.ops.aten.threshold_backward.grad_input(d_hidden, hidden, 0, grad_input=d_hidden)  # ReLU, in place
        dx, dw_dilated, db_dilated = conv_backward(d_hidden, x, w_dilated, ctx.dilation, need_x, need_wd, need_bd, grad)
        return dx, dw_dilated, db_dilated, dw_1x1, db_1x1, None, None, None


class SingleStageTCN(nn.Module):
    """1x1 conv in -> ``num_layers`` dilated residual layers (dilation 2^i) -> 1x1 conv to classes, masked.

    Time-major in and out: [B, T, D] -> [B, T, K].
    """

    def __init__(self, num_layers: int, channels: int, input_dim: int, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.conv_in = FramePointwise(input_dim, channels)
        self.layers = nn.ModuleList(DilatedResidualLayer(2**i, channels, dropout) for i in range(num_layers))
        self.conv_out = FramePointwise(channels, num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out = self.conv_in(x)
        if torch.is_grad_enabled() or hooked(self.layers):  # otherwise in place
            for layer in self.layers:
                out = layer(out, mask)
        else:
            scratch = torch.empty_like(out)
            for layer in self.layers:
                layer.update_(out, mask, scratch)
        out = self.conv_out(out)
        return out if mask is None else out.mul_(mask)
