"""The straightforward channels-first MS-TCN, ASFormer and BaFormer networks the optimised time-major ones replace.

``nn.Conv1d`` layers, ``F.instance_norm``, dense window attention from its definition (an explicit [T, T]
visibility matrix) and BaFormer's cross-attention in its textbook form: the oracle for outputs and gradients
(tests/test_encoder_equivalence.py). Parameter names match the library's modules, so one state dict loads into
both. With ``chunked_window_attention`` they compute the models the way the reference code does, which is what
benchmarks/efficiency.py times ours against. ``causal``: left-padded convolutions (``F.pad`` then ``nn.Conv1d``),
windows ending at the query, and every prefix instance-normalised by ``F.instance_norm`` (tests/test_causal.py).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from actionline.models.segmentation.baformer import QuerySelfAttention  # the textbook form already


def dense_window_attention(q, k, v, mask, block, full_window=False, causal=False):
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
    elif causal:
        allowed = (j > t - block) & (j <= t)
    else:
        allowed = (j >= t - half) & (j < t - half + block)
    allowed = allowed[None] & (mask[:, None, :] > 0)
    s = torch.einsum("bct,bcs->bts", q, k) / math.sqrt(C)
    s = s.masked_fill(~allowed, -1e30)
    return torch.einsum("bts,bcs->bct", torch.softmax(s, -1), v)


def chunked_window_attention(q, k, v, mask, block, full_window=True):
    """The reference code's algorithm (specs/reference-implementations-notes.md, section 3), batch 1: queries in
    chunks of ``bl``; each chunk's window (the chunk widened by ``bl // 2`` on both sides) gathered by a Python loop
    and concatenated; the reference's window mask and the padding mask enter as ``log(mask + 1e-6)`` before the
    softmax and as a product after it. Equals the reference window (``full_window``) up to that 1e-6 leakage; the
    timing baseline for the reference's way of computing ASFormer (benchmarks/efficiency.py)."""
    assert full_window and q.shape[0] == 1, "the reference algorithm: reference window, batch 1"
    C, T = q.shape[1], q.shape[2]
    half, chunks = block // 2, -(-T // block)
    pad = chunks * block - T
    q = F.pad(q, (0, pad)).reshape(C, chunks, block).permute(1, 0, 2)  # [chunks, C, bl]
    k, v = F.pad(k, (half, pad + half)), F.pad(v, (half, pad + half))
    keep = F.pad(mask[:, None, :], (half, pad + half))
    width = block + 2 * half
    k = torch.cat([k[:, :, i * block : i * block + width] for i in range(chunks)])
    v = torch.cat([v[:, :, i * block : i * block + width] for i in range(chunks)])
    keep = torch.cat([keep[:, :, i * block : i * block + width] for i in range(chunks)])
    window = torch.zeros(1, block, width)
    for i in range(block):
        window[:, :, i : i + block] = 1
    keep = window * keep  # [chunks, bl, width]
    scores = torch.bmm(q.transpose(1, 2), k) / math.sqrt(C) + torch.log(keep + 1e-6)
    weights = torch.softmax(scores, -1) * keep
    out = torch.bmm(v, weights.transpose(1, 2))  # [chunks, Cv, bl]
    return out.permute(1, 0, 2).reshape(1, -1, chunks * block)[:, :, :T]


class CausalConv1d(nn.Conv1d):
    """Kernel-3 dilated convolution padded by ``2 d`` zeros on the left only (MS-TCN issue #24)."""

    def __init__(self, in_channels, out_channels, dilation):
        super().__init__(in_channels, out_channels, 3, dilation=dilation)

    def forward(self, x):
        return super().forward(F.pad(x, (2 * self.dilation[0], 0)))


def dilated_conv(channels, dilation, causal):
    return (
        CausalConv1d(channels, channels, dilation)
        if causal
        else nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
    )


def prefix_instance_norm(x):
    """Frame ``t`` instance-normalised over frames ``0..t``, one ``F.instance_norm`` per prefix (the first frame
    alone has no variance: it normalises to zero)."""
    first = torch.zeros_like(x[..., 0])
    return torch.stack([first] + [F.instance_norm(x[..., : t + 1])[..., t] for t in range(1, x.shape[-1])], dim=-1)


class DilatedResidualLayer(nn.Module):
    def __init__(self, dilation, channels, dropout=0.0, causal=False):
        super().__init__()
        self.conv_dilated = dilated_conv(channels, dilation, causal)
        self.conv_1x1 = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask):
        out = self.dropout(self.conv_1x1(F.relu(self.conv_dilated(x))))
        return (x + out) * mask


class SingleStageTCN(nn.Module):
    def __init__(self, num_layers, channels, input_dim, num_classes, dropout=0.0, causal=False):
        super().__init__()
        self.conv_in = nn.Conv1d(input_dim, channels, 1)
        self.layers = nn.ModuleList(DilatedResidualLayer(2**i, channels, dropout, causal) for i in range(num_layers))
        self.conv_out = nn.Conv1d(channels, num_classes, 1)

    def forward(self, x, mask):
        out = self.conv_in(x)
        for layer in self.layers:
            out = layer(out, mask)
        return self.conv_out(out) * mask


class MSTCN(nn.Module):
    def __init__(self, num_stages, num_layers, channels, input_dim, num_classes, dropout=0.0, causal=False):
        super().__init__()
        self.stages = nn.ModuleList(
            [SingleStageTCN(num_layers, channels, input_dim, num_classes, dropout, causal)]
            + [
                SingleStageTCN(num_layers, channels, num_classes, num_classes, dropout, causal)
                for _ in range(num_stages - 1)
            ]
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
    def __init__(self, layer, channels, att_channels, alpha, full_window, attention, dropout, causal=False):
        super().__init__()
        self.block, self.alpha, self.full_window, self.attention = 2**layer, alpha, full_window, attention
        self.causal = causal
        self.dropout = nn.Dropout(dropout)
        self.feed_forward = dilated_conv(channels, 2**layer, causal)
        self.query = nn.Conv1d(channels, att_channels, 1)
        self.key = nn.Conv1d(channels, att_channels, 1)
        self.value = nn.Conv1d(channels, att_channels, 1)
        self.att_out = nn.Conv1d(att_channels, channels, 1)
        self.conv_1x1 = nn.Conv1d(channels, channels, 1)

    def forward(self, x, mask, values=None):
        out = F.relu(self.feed_forward(x))
        normed = prefix_instance_norm(out) if self.causal else F.instance_norm(out)
        v = self.value(normed if values is None else values)
        window = {"causal": True} if self.causal else {}
        att = self.attention(self.query(normed), self.key(normed), v, mask, self.block, self.full_window, **window)
        out = self.alpha * self.att_out(F.relu(att)) * mask[:, None, :] + out
        return (x + self.dropout(self.conv_1x1(out))) * mask[:, None, :]


class ASFormerStage(nn.Module):
    def __init__(
        self,
        input_dim,
        num_layers,
        channels,
        att_channels,
        alpha,
        full_window,
        num_classes,
        attention,
        drop,
        causal=False,
    ):
        super().__init__()
        self.conv_in = nn.Conv1d(input_dim, channels, 1)
        self.blocks = nn.ModuleList(
            ASFormerBlock(i, channels, att_channels, alpha, full_window, attention, drop, causal)
            for i in range(num_layers)
        )
        self.conv_out = nn.Conv1d(channels, num_classes, 1) if num_classes is not None else None

    def forward(self, x, mask, values=None):
        """-> (logits or None, the last block's output, every block's output)."""
        feature = self.conv_in(x)
        levels = []
        for block in self.blocks:
            feature = block(feature, mask, values)
            levels.append(feature)
        logits = self.conv_out(feature) * mask[:, None, :] if self.conv_out is not None else None
        return logits, feature, levels


class ASFormer(nn.Module):
    def __init__(
        self,
        input_dim,
        num_classes,
        num_layers,
        num_decoders=3,
        full_window=False,
        attention=dense_window_attention,
        dropout=0.0,
        channel_dropout=0.0,
        causal=False,
    ):
        super().__init__()
        self.channel_dropout = nn.Dropout2d(channel_dropout)
        self.encoder = ASFormerStage(
            input_dim, num_layers, 64, 32, 1.0, full_window, num_classes, attention, dropout, causal
        )
        self.decoders = nn.ModuleList(
            ASFormerStage(
                num_classes, num_layers, 64, 32, math.exp(-3 * s), full_window, num_classes, attention, dropout, causal
            )
            for s in range(num_decoders)
        )

    def forward(self, x, mask):
        out, feature, _ = self.encoder(self.channel_dropout(x[..., None])[..., 0], mask)
        logits = [out]
        for decoder in self.decoders:
            out, feature, _ = decoder(F.softmax(out, dim=1) * mask[:, None, :], mask, values=feature * mask[:, None, :])
            logits.append(out)
        return torch.stack(logits)


class MaskedCrossAttention(nn.Module):
    """BaFormer's soft mask attention in its textbook form (specs section 4): keys and values projected from every
    frame, logits times the previous layer's mask probabilities, softmax over the frames."""

    def __init__(self, dim, heads, head_dim, dropout):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, heads * head_dim)
        self.to_k = nn.Conv1d(dim, heads * head_dim, 1)
        self.to_v = nn.Conv1d(dim, heads * head_dim, 1)
        self.to_out = nn.Linear(heads * head_dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, frames, mask_prob, valid):
        B, M, _ = x.shape
        H, D, T = self.heads, self.head_dim, frames.shape[-1]
        q = self.to_q(self.norm(x)).view(B, M, H, D).transpose(1, 2) * D**-0.5
        k, v = (proj(frames).view(B, H, D, T) for proj in (self.to_k, self.to_v))
        logits = (q @ k * mask_prob[:, None]).masked_fill(~valid[:, None, None], torch.finfo(q.dtype).min)
        out = self.dropout(torch.softmax(logits, -1)) @ v.transpose(-1, -2)  # [B, H, M, D]
        return x + self.to_out(out.transpose(1, 2).reshape(B, M, H * D))


class FeedForward(nn.Module):
    def __init__(self, dim, dropout):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim)
        )

    def forward(self, x):
        return x + self.net(x)


class DecoderLayer(nn.Module):
    def __init__(self, dim, heads, head_dim, dropout):
        super().__init__()
        self.cross = MaskedCrossAttention(dim, heads, head_dim, dropout)
        self.self_attn = QuerySelfAttention(dim, heads, head_dim, dropout)
        self.ffn = FeedForward(dim, dropout)

    def forward(self, q, frames, mask_prob, valid):
        return self.ffn(self.self_attn(self.cross(q, frames, mask_prob, valid)))


def _mlp(dim):
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))


class BaFormer(nn.Module):
    """BaFormer as the reference code computes it (specs section 4): the channels-first ASFormer encoder with all
    block outputs kept, ``nn.Conv1d`` level projections and mask features, the textbook decoder layers and the
    heads on every prediction set. Same parameter names as the library's model and the same output dict, so the
    library's loss and decoding apply (the weighted global query, multi-level features)."""

    def __init__(
        self,
        input_dim,
        num_classes,
        num_queries=100,
        num_layers=10,
        full_window=False,
        attention=dense_window_attention,
        dropout=0.0,
        channel_dropout=0.0,
        attn_dropout=0.0,
        heads=3,
        head_dim=64,
        dim=64,
    ):
        super().__init__()
        self.channel_dropout = nn.Dropout2d(channel_dropout)
        self.encoder = ASFormerStage(input_dim, num_layers, dim, 32, 1.0, full_window, None, attention, dropout)
        self.mask_features = nn.Conv1d(dim, dim, 3, padding=1)
        self.level_proj = nn.ModuleList(nn.Conv1d(dim, dim, 3, padding=1) for _ in range(num_layers))
        self.queries = nn.Parameter(torch.randn(num_queries, dim))
        pos = torch.arange(num_queries, dtype=torch.float32)[:, None]
        freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
        self.register_buffer(
            "query_pos", torch.stack([torch.sin(pos * freq), torch.cos(pos * freq)], -1).flatten(1), persistent=False
        )
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, head_dim, attn_dropout) for _ in range(num_layers))
        self.decoder_norm = nn.LayerNorm(dim)
        self.class_head = nn.Linear(dim, num_classes + 1)
        self.mask_mlp, self.boundary_mlp = _mlp(dim), _mlp(dim)
        self.query_pool = nn.Linear(num_queries, 1)

    def heads(self, q, mask_features):
        normed = self.decoder_norm(q)
        boundary_query = self.query_pool(self.boundary_mlp(q).transpose(1, 2)).squeeze(-1)
        return {
            "mask": self.mask_mlp(normed) @ mask_features,
            "class": self.class_head(normed),
            "boundary": torch.einsum("bc,bct->bt", boundary_query, mask_features),
        }

    def forward(self, x, mask):
        m = mask[:, None, :]
        _, feature, levels = self.encoder(self.channel_dropout(x[..., None])[..., 0], mask)
        mask_features = self.mask_features(feature) * m
        frames = [proj(level) for proj, level in zip(self.level_proj, levels, strict=True)]
        q = (self.queries + self.query_pos)[None].expand(x.shape[0], -1, -1)
        sets = [self.heads(q, mask_features)]
        for layer, level in zip(self.layers, frames, strict=True):
            q = layer(q, level, torch.sigmoid(sets[-1]["mask"]), mask > 0)
            sets.append(self.heads(q, mask_features))
        kept = sets if self.training else sets[-1:]
        return {
            "class_logits": torch.stack([s["class"] for s in kept]),
            "mask_logits": torch.stack([s["mask"] for s in kept]),
            "boundary_logits": torch.stack([s["boundary"] for s in kept]),
        }
