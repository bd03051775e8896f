"""The straightforward channels-first MS-TCN and ASFormer encoders the optimised time-major ones replace.

``nn.Conv1d`` layers, ``F.instance_norm`` and dense window attention from its definition (an explicit [T, T]
visibility matrix): the oracle for outputs and gradients (tests/test_encoder_equivalence.py). Parameter names
match the library's modules, so one state dict loads into both.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def dense_window_attention(q, k, v, mask, block, full_window=False):
    """q, k [B, Cq, T], v [B, Cv, T], mask [B, T]: softmax over each query's visible keys, by definition."""
    _, C, T = q.shape
    half = block // 2
    t = torch.arange(T)[:, None]
    j = torch.arange(T)[None]
    if full_window:  # the reference's window mask, built as its code builds it: rows x (bl + 2 half) columns
        width = block + 2 * half
        window = torch.zeros(block, width, dtype=torch.bool)
        for i in range(block):
            window[:, i : i + block] = True  # the union leaves the last column at zero when bl is even
        column = j - (t // block * block - half)
        inside = (column >= 0) & (column < width)
        allowed = inside & window[t % block, column.clamp(0, width - 1)]
    else:
        allowed = (j >= t - half) & (j < t - half + block)
    allowed = allowed[None] & (mask[:, None, :] > 0)
    s = torch.einsum("bct,bcs->bts", q, k) / math.sqrt(C)
    s = s.masked_fill(~allowed, -1e30)
    return torch.einsum("bts,bcs->bct", torch.softmax(s, -1), v)


class DilatedResidualLayer(nn.Module):
    def __init__(self, dilation, channels, dropout=0.0):
        super().__init__()
        self.conv_dilated = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv_1x1 = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask):
        out = self.dropout(self.conv_1x1(F.relu(self.conv_dilated(x))))
        return (x + out) * mask


class SingleStageTCN(nn.Module):
    def __init__(self, num_layers, channels, input_dim, num_classes, dropout=0.0):
        super().__init__()
        self.conv_in = nn.Conv1d(input_dim, channels, 1)
        self.layers = nn.ModuleList(DilatedResidualLayer(2**i, channels, dropout) for i in range(num_layers))
        self.conv_out = nn.Conv1d(channels, num_classes, 1)

    def forward(self, x, mask):
        out = self.conv_in(x)
        for layer in self.layers:
            out = layer(out, mask)
        return self.conv_out(out) * mask


class MSTCN(nn.Module):
    def __init__(self, num_stages, num_layers, channels, input_dim, num_classes):
        super().__init__()
        self.stages = nn.ModuleList(
            [SingleStageTCN(num_layers, channels, input_dim, num_classes)]
            + [SingleStageTCN(num_layers, channels, num_classes, num_classes) for _ in range(num_stages - 1)]
        )

    def forward(self, x, mask):
        m = mask[:, None, :]
        out = self.stages[0](x, m)
        logits = [out]
        for stage in self.stages[1:]:
            out = stage(F.softmax(out, dim=1) * m, m)
            logits.append(out)
        return torch.stack(logits)


class ASFormerBlock(nn.Module):
    def __init__(self, layer, channels, att_channels, alpha, full_window=False):
        super().__init__()
        self.block, self.alpha, self.full_window = 2**layer, alpha, full_window
        self.feed_forward = nn.Conv1d(channels, channels, 3, padding=2**layer, dilation=2**layer)
        self.query = nn.Conv1d(channels, att_channels, 1)
        self.key = nn.Conv1d(channels, att_channels, 1)
        self.value = nn.Conv1d(channels, att_channels, 1)
        self.att_out = nn.Conv1d(att_channels, channels, 1)
        self.conv_1x1 = nn.Conv1d(channels, channels, 1)

    def forward(self, x, mask, values=None):
        out = F.relu(self.feed_forward(x))
        normed = F.instance_norm(out)
        v = self.value(normed if values is None else values)
        att = dense_window_attention(self.query(normed), self.key(normed), v, mask, self.block, self.full_window)
        out = self.alpha * self.att_out(F.relu(att)) * mask[:, None, :] + out
        return (x + self.conv_1x1(out)) * mask[:, None, :]


class ASFormerStage(nn.Module):
    def __init__(self, input_dim, num_layers, channels, att_channels, alpha, full_window=False, num_classes=None):
        super().__init__()
        self.conv_in = nn.Conv1d(input_dim, channels, 1)
        self.blocks = nn.ModuleList(
            ASFormerBlock(i, channels, att_channels, alpha, full_window) for i in range(num_layers)
        )
        self.conv_out = nn.Conv1d(channels, num_classes, 1) if num_classes is not None else None

    def forward(self, x, mask, values=None):
        feature = self.conv_in(x)
        for block in self.blocks:
            feature = block(feature, mask, values)
        logits = self.conv_out(feature) * mask[:, None, :] if self.conv_out is not None else None
        return logits, feature


class ASFormer(nn.Module):
    def __init__(self, input_dim, num_classes, num_layers, num_decoders=3, full_window=False):
        super().__init__()
        self.encoder = ASFormerStage(input_dim, num_layers, 64, 32, 1.0, full_window, num_classes)
        self.decoders = nn.ModuleList(
            ASFormerStage(num_classes, num_layers, 64, 32, math.exp(-3 * s), full_window, num_classes)
            for s in range(num_decoders)
        )

    def forward(self, x, mask):
        out, feature = self.encoder(x, mask)
        logits = [out]
        for decoder in self.decoders:
            out, feature = decoder(F.softmax(out, dim=1) * mask[:, None, :], mask, values=feature * mask[:, None, :])
            logits.append(out)
        return torch.stack(logits)
