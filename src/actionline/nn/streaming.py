"""One frame at a time through the causal encoders (MS-TCN, ASFormer): a streaming state per layer.

A causal layer's output at frame ``t`` depends on a bounded past: a left-padded kernel-3 convolution with dilation
``d`` on frames ``t - 2d``, ``t - d`` and ``t``; a causal attention window of block length ``bl`` on the last
``bl`` keys and values; the running instance norm on two sums. Each layer keeps exactly that (ring buffers of its
past inputs, keys and values), so a new frame costs one small product per layer and tap instead of a pass over
the history. The steps read the modules' weights (detached, no copies of parameters to keep in sync) and give
the offline causal forward's outputs for frame ``t`` (tests/test_causal.py, to 1e-5 from the first frame on).
Frames are single vectors [C]; one stream is one video.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from actionline.nn.attention.asformer import ASFormerBlock, ASFormerStage
from actionline.nn.temporal.conv import FrameDilatedConv, FramePointwise
from actionline.nn.temporal.tcn import DilatedResidualLayer, SingleStageTCN

FrameStep = Callable[[torch.Tensor], torch.Tensor]  # one frame's features [D] -> its outputs


class History:
    """The last ``size`` frames [C] pushed (a ring buffer); frames before the first read as zeros."""

    def __init__(self, size: int, channels: int, like: torch.Tensor):
        self.rows = like.new_zeros(size, channels)
        self.count = 0

    def push(self, frame: torch.Tensor) -> None:
        self.rows[self.count % len(self.rows)] = frame
        self.count += 1

    def ago(self, lag: int) -> torch.Tensor:
        """The frame pushed ``lag`` pushes before the newest (zeros before the first: unwritten rows)."""
        return self.rows[(self.count - 1 - lag) % len(self.rows)]

    def filled(self) -> torch.Tensor:
        """The frames pushed and still held, in ring order (the order attention does not depend on)."""
        return self.rows[: min(self.count, len(self.rows))]


class PointwiseStep:
    """A 1x1 convolution on one frame."""

    def __init__(self, conv: FramePointwise):
        self.weight, self.bias = conv.weight.detach()[:, :, 0], conv.bias.detach()

    def __call__(self, frame: torch.Tensor) -> torch.Tensor:
        return torch.addmv(self.bias, self.weight, frame)


class CausalConvStep:
    """A causal kernel-3 dilated convolution (`FrameDilatedConv` with ``causal``) on one frame: its input history
    holds the frames ``t - 2d .. t``, and the three taps are one product with the taps' matrices side by side."""

    def __init__(self, conv: FrameDilatedConv):
        if not conv.causal:
            raise ValueError("only a causal convolution can run frame by frame")
        weight = conv.weight.detach()
        self.dilation = conv.dilation[0]
        self.taps = weight.permute(0, 2, 1).reshape(weight.shape[0], -1)  # [C_out, 3 C_in]: W_0 | W_1 | W_2
        self.bias = conv.bias.detach()
        self.history = History(2 * self.dilation + 1, weight.shape[1], weight)

    def __call__(self, frame: torch.Tensor) -> torch.Tensor:
        self.history.push(frame)
        d = self.dilation
        stacked = torch.cat([self.history.ago(2 * d), self.history.ago(d), frame])
        return torch.addmv(self.bias, self.taps, stacked)


class RunningInstanceNorm:
    """`actionline.nn.attention.instance_norm.causal_instance_norm` on one frame: running float64 sums of the frames and
    their squares."""

    def __init__(self, channels: int, like: torch.Tensor, eps: float = 1e-5):
        self.sum = like.new_zeros(channels, dtype=torch.float64)
        self.sum_sq = like.new_zeros(channels, dtype=torch.float64)
        self.count, self.eps = 0, eps

    def __call__(self, frame: torch.Tensor) -> torch.Tensor:
        wide = frame.double()
        self.count += 1
        self.sum += wide
        self.sum_sq += wide * wide
        mean = self.sum / self.count
        variance = (self.sum_sq / self.count - mean * mean).clamp_min(0.0)
        return ((wide - mean) * torch.rsqrt(variance + self.eps)).to(frame.dtype)


class CausalWindowStep:
    """Causal window attention (`actionline.nn.attention.window_attention`, ``causal``) for one query: its key and value
    histories hold the last ``block`` frames; before the window fills, only the frames seen so far count."""

    def __init__(self, block: int, channels: tuple[int, int], like: torch.Tensor):
        self.keys, self.values = History(block, channels[0], like), History(block, channels[1], like)
        self.scale = channels[0] ** -0.5

    def __call__(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        self.keys.push(key)
        self.values.push(value)
        weights = torch.softmax(torch.mv(self.keys.filled(), query * self.scale), dim=0)
        return torch.mv(self.values.filled().t(), weights)


class TCNLayerStep:
    """`DilatedResidualLayer` on one frame: ``x + W_1 relu(causal conv(x)) + b_1``."""

    def __init__(self, layer: DilatedResidualLayer):
        self.conv = CausalConvStep(layer.conv_dilated)
        self.weight, self.bias = layer.conv_1x1.weight.detach()[:, :, 0], layer.conv_1x1.bias.detach()

    def __call__(self, frame: torch.Tensor) -> torch.Tensor:
        return torch.addmv(frame + self.bias, self.weight, F.relu(self.conv(frame)))


class TCNStageStep:
    """`SingleStageTCN` on one frame: [D] -> logits [K]."""

    def __init__(self, stage: SingleStageTCN):
        self.conv_in, self.conv_out = PointwiseStep(stage.conv_in), PointwiseStep(stage.conv_out)
        self.layers = [TCNLayerStep(layer) for layer in stage.layers]

    def __call__(self, frame: torch.Tensor) -> torch.Tensor:
        out = self.conv_in(frame)
        for layer in self.layers:
            out = layer(out)
        return self.conv_out(out)


class ASFormerBlockStep:
    """`ASFormerBlock` (causal) on one frame: causal conv + ReLU, running instance norm, causal window attention
    (values from ``values`` in a decoder), ``alpha`` times its 1x1 output added, 1x1 conv, residual."""

    def __init__(self, block: ASFormerBlock):
        if not block.causal:
            raise ValueError("only a causal ASFormer block can run frame by frame")
        self.feed_forward = CausalConvStep(block.feed_forward)
        channels = block.feed_forward.out_channels
        self.norm = RunningInstanceNorm(channels, block.feed_forward.weight)
        self.query, self.key, self.value = (PointwiseStep(p) for p in (block.query, block.key, block.value))
        like = block.query.weight
        self.window = CausalWindowStep(block.block, (block.query.out_channels, block.value.out_channels), like)
        self.att_out, self.conv_1x1 = PointwiseStep(block.att_out), PointwiseStep(block.conv_1x1)
        self.alpha = block.alpha

    def __call__(self, frame: torch.Tensor, values: torch.Tensor | None) -> torch.Tensor:
        hidden = F.relu(self.feed_forward(frame))
        normalised = self.norm(hidden)
        value = self.value(normalised if values is None else values)
        att = self.window(self.query(normalised), self.key(normalised), value)
        out = torch.add(hidden, self.att_out(F.relu(att)), alpha=self.alpha)
        return frame + self.conv_1x1(out)


class ASFormerStageStep:
    """`ASFormerStage` (causal) on one frame: [D] (and a decoder's values [C]) -> (logits [K] or None, feature)."""

    def __init__(self, stage: ASFormerStage):
        self.conv_in = PointwiseStep(stage.conv_in)
        self.blocks = [ASFormerBlockStep(block) for block in stage.blocks]
        self.conv_out = PointwiseStep(stage.conv_out) if stage.conv_out is not None else None

    def __call__(
        self, frame: torch.Tensor, values: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        feature = self.conv_in(frame)
        for block in self.blocks:
            feature = block(feature, values)
        return (self.conv_out(feature) if self.conv_out is not None else None), feature
