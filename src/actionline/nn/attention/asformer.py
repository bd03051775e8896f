"""ASFormer's building blocks (Yi et al., BMVC 2021, Sec. 3.1-3.2), shared by ASFormer, BaFormer and RTK.

A block is a dilated convolution (the feed-forward layer) followed by instance-normalised local window attention
with block length 2^i and a 1x1 conv, with a residual connection; a stage stacks blocks between 1x1 convolutions.

Frames are time-major inside a stage (see `actionline.nn.temporal.conv`): a stage takes [B, T, D] and returns [B, T, C].
``mask`` is [B, T], or ``None`` when every frame is valid (the all-ones multiplications are skipped).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from actionline.nn.attention.instance_norm import instance_norm_parts
from actionline.nn.attention.window_attention import projected_window_attention, window_attention
from actionline.nn.attention.workspace import Workspace
from actionline.nn.temporal.conv import (
    FrameDilatedConv,
    FramePointwise,
    conv_add_,
    conv_into,
    hooked,
    scaled_frame_conv,
)
from actionline.nn.temporal.dropout import Dropout


class ASFormerBlock(nn.Module):
    """Dilated conv + ReLU -> alpha * WindowAttention(InstanceNorm(.)) + . -> 1x1 conv -> dropout -> residual."""

    def __init__(
        self, layer: int, channels: int, att_channels: int, alpha: float, dropout: float, full_window: bool = False
    ):
        super().__init__()
        self.block = 2**layer
        self.alpha = alpha
        self.full_window = full_window
        self.feed_forward = FrameDilatedConv(channels, channels, 2**layer)
        self.query = FramePointwise(channels, att_channels)
        self.key = FramePointwise(channels, att_channels)
        self.value = FramePointwise(channels, att_channels)
        self.att_out = FramePointwise(att_channels, channels)
        self.conv_1x1 = FramePointwise(channels, channels)
        self.dropout = Dropout(dropout)

    def attention(
        self, centred: torch.Tensor, scale: torch.Tensor, values: torch.Tensor | None, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Window attention of the instance-normalised frames ``centred * scale`` (the scale is applied to the
        projections' weights); ``values`` None: self-attention."""
        projections = [self.query, self.key] + ([self.value] if values is None else [])
        if any(hooked(p) for p in projections):
            q, k, *v = (p(centred, scale) for p in projections)
        else:  # one product (N = 64 or 96 runs faster than 2-3 x 32, forward and backward)
            weight, bias = torch.cat([p.weight for p in projections]), torch.cat([p.bias for p in projections])
            q, k, *v = scaled_frame_conv(centred, weight, bias, scale).split(self.query.out_channels, dim=-1)
        att = window_attention(q, k, v[0] if v else self.value(values), mask, self.block, self.full_window)
        out = self.att_out(F.relu(att, inplace=not att.requires_grad))
        return out if mask is None else out.mul_(mask[:, :, None])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, values: torch.Tensor | None = None) -> torch.Tensor:
        out = F.relu(self.feed_forward(x), inplace=True)
        att = self.attention(*instance_norm_parts(out), values, mask)
        # relu's result is saved for its backward: add in place only without gradients
        out = torch.add(out, att, alpha=self.alpha) if out.requires_grad else out.add_(att, alpha=self.alpha)
        out = self.dropout.residual(x, self.conv_1x1(out))
        return out if mask is None else out.mul_(mask[:, :, None])

    def update_(self, x: torch.Tensor, values: torch.Tensor | None, work: Workspace) -> torch.Tensor:
        """`forward` for one video without gradients or padding, in place: ``x`` becomes the block's output and
        every intermediate feature map is written into the stage's reused buffers ``work`` (fresh feature maps
        are written to memory the cache has not seen); the attention output and the 1x1 conv are added into
        their destinations by their products."""
        ff = self.feed_forward
        out = conv_into(work.get("ff", x.shape, x), x, ff.weight, ff.bias, ff.dilation[0]).relu_()
        centred = torch.sub(out, out.mean(dim=1, keepdim=True), out=work.get("centred", x.shape, x))
        square = torch.mul(centred, centred, out=work.get("square", x.shape, x))
        sq = torch.rsqrt(square.mean(dim=1) + 1e-5)  # [1, C]: the instance norm's scale, taken by the weights
        # the projections write straight into the attention's buffers (queries scaled by 1/sqrt(Cq), keys
        # channels-first), so nothing is copied into place
        c, s = centred[0], self.query.out_channels**-0.5
        w_q, w_k = self.query.weight[:, :, 0] * (sq * s), self.key.weight[:, :, 0] * sq
        v_in, w_v = (c, self.value.weight[:, :, 0] * sq) if values is None else (values[0], self.value.weight[:, :, 0])
        att = projected_window_attention(
            x,
            x.shape[1],
            (self.query.out_channels, self.value.out_channels),
            self.block,
            self.full_window,
            lambda out: torch.addmm(self.query.bias * s, c, w_q.t(), out=out),
            lambda out: torch.addmm(self.key.bias[:, None], w_k, c.t(), out=out),
            lambda out: torch.addmm(self.value.bias, v_in, w_v.t(), out=out),
            work,
        )
        conv_add_(out, att.relu_(), self.att_out.weight * self.alpha, None)
        # the attention output's bias, passed through the 1x1 conv, joins that conv's bias (one pass fewer)
        w = self.conv_1x1.weight
        bias = torch.addmv(self.conv_1x1.bias, w[:, :, 0], self.att_out.bias, alpha=self.alpha)
        return conv_add_(x, out, w, bias)


class ASFormerStage(nn.Module):
    """1x1 conv in -> ``num_layers`` blocks (block i: window 2^i) -> 1x1 conv to classes. Used as encoder
    (self-attention, ``alpha`` 1) and decoder (cross-attention, ``alpha = exp(-3 s)``).

    ``num_classes=None`` leaves out the frame classifier (BaFormer and RTK use the stage's features only).
    """

    def __init__(
        self,
        input_dim: int,
        num_layers: int,
        channels: int,
        att_channels: int,
        dropout: float,
        alpha: float,
        full_window: bool = False,
        num_classes: int | None = None,
    ):
        super().__init__()
        self.conv_in = FramePointwise(input_dim, channels)
        self.blocks = nn.ModuleList(
            ASFormerBlock(i, channels, att_channels, alpha, dropout, full_window) for i in range(num_layers)
        )
        self.conv_out = FramePointwise(channels, num_classes) if num_classes is not None else None

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None,
        values: torch.Tensor | None = None,
        keep_levels: bool = False,
        input_scales: torch.Tensor | None = None,
    ):
        """``x`` [B, T, D], ``values`` [B, T, C] (decoders) -> (logits [B, T, K] or None, feature, levels).

        ``input_scales`` [B, D]: input channel dropout (`actionline.nn.temporal.dropout.ChannelDropout`)."""
        feature = self.conv_in(x, input_scales)
        levels = []
        # one video without gradients or padding: in place
        in_place = not (torch.is_grad_enabled() or mask is not None or len(x) > 1)
        if in_place and not hooked(self.blocks):
            work = Workspace()
            for block in self.blocks:
                block.update_(feature, values, work)
                if keep_levels:
                    levels.append(feature.clone())
        else:
            for block in self.blocks:
                feature = block(feature, mask, values)
                if keep_levels:
                    levels.append(feature)
        if self.conv_out is None:
            return None, feature, levels
        logits = self.conv_out(feature)
        return (logits if mask is None else logits.mul_(mask[:, :, None])), feature, levels
