"""Local window attention of ASFormer (Yi et al., BMVC 2021, Sec. 3.1), vectorised and with correct windows.

Block ``i`` uses block length ``bl = 2**i``: every query ``t`` attends to the ``bl`` keys
``[t - bl//2, t - bl//2 + bl)`` (a window centred on it), restricted to valid (unpadded) frames.

The reference implementation splits queries into chunks of ``bl``, gives each chunk the keys of the chunk
widened by ``bl//2`` on both sides, and *intends* a band mask selecting each query's own ``bl`` keys; its mask
is the union of the bands (specs §3), so every query of a chunk sees the widened window but its last key
(``2*bl - 1`` keys for even ``bl``). Here the band is applied, and ``full_window=True`` reproduces the reference
mask exactly (the reference adds ``log(1e-6)`` where this adds a large negative number).

Speed (see docs/performance.md): frames are time-major ([B, T, C]). The queries are cut into chunks of 16
(``bl`` <= 128) or 32; each chunk needs only ``chunk + bl - 1`` keys (rounded up to a multiple of 16: softmax
rows of that length run faster), read through an overlapping strided view (no copy). For large blocks that is
about half the work of the reference's ``2*bl`` windows. Chunks are processed a cache-sized tile at a time, one
batched product per tile, with a hand-written backward. Masks enter as an additive bias: the band only on the
window columns some query does not see, padded keys only in the chunks whose windows contain one. Block length 1
(one key per query) is computed elementwise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch.nn import functional as F

from actionline.nn.attention.workspace import Workspace

QUERY_CHUNK = 16
TILE_SCORES = 2**19  # scores per tile (2 MiB in fp32): a tile's scores and weights stay in the L2/L3 caches
MAX_BLOCKWISE_ADDS = 9  # `_Geometry.add_windows`: up to this many blocks per window, one dense add per block


def _neg(dtype: torch.dtype) -> float:
    # Two biases may add up: a quarter of the most negative value cannot overflow and still vanishes in softmax.
    return torch.finfo(dtype).min / 4


def _window_bias(chunk: int, width: int, block: int, full_window: bool, like: torch.Tensor) -> torch.Tensor:
    """[chunk, width] additive bias: 0 where query ``i`` of a chunk may see window position ``j``.

    Own band ``i <= j < i + block``; with ``full_window`` the reference's union of bands, ``j < 2 block - 1``.
    """
    q = torch.arange(chunk, device=like.device)[:, None]
    k = torch.arange(width, device=like.device)[None, :]
    seen = (k < 2 * block - 1).expand(chunk, width) if full_window else (k >= q) & (k < q + block)
    return torch.zeros(chunk, width, dtype=like.dtype, device=like.device).masked_fill_(~seen, _neg(like.dtype))


class _Geometry(NamedTuple):
    """How one video's queries are cut into chunks and which padded key rows each chunk's window covers."""

    length: int  # T
    chunk: int  # queries per chunk
    width: int  # keys per window
    left: int  # zero rows before the keys (bl // 2)
    chunks: int
    tile: int  # chunks per tile
    masked_columns: tuple[tuple[int, int], ...]  # [start, stop) of window columns some query does not see

    @property
    def padded(self) -> int:
        """Padded key rows, a multiple of ``chunk`` so that overlapping windows can be added back block-wise."""
        return (self.chunks - 1 + math.ceil(self.width / self.chunk)) * self.chunk

    def pad_keys(self, x: torch.Tensor) -> torch.Tensor:
        """Time-major [T, C] -> [padded, C] with ``left`` zero rows before it and zeros after."""
        return F.pad(x, (0, 0, self.left, self.padded - self.left - self.length))

    def windows(self, padded: torch.Tensor) -> torch.Tensor:
        """[padded, C] -> [chunks, width, C]: window ``n`` is rows ``[n chunk, n chunk + width)`` (a view)."""
        C = padded.shape[1]
        return padded.as_strided((self.chunks, self.width, C), (self.chunk * C, C, 1))

    def transposed_windows(self, padded_t: torch.Tensor) -> torch.Tensor:
        """Channels-first [C, padded] -> [chunks, C, width] (a view): row-major windows, with which a batched
        product of queries runs on both threads (with the transposed time-major view it ran on one)."""
        return padded_t.as_strided((self.chunks, padded_t.shape[0], self.width), (self.chunk, self.padded, 1))

    def pad_keys_transposed(self, x: torch.Tensor) -> torch.Tensor:
        """Time-major [T, C] -> channels-first [C, padded], zero-padded like `pad_keys`."""
        padded = x.new_zeros(x.shape[1], self.padded)
        padded[:, self.left : self.left + self.length] = x.t()
        return padded

    def queries(self, x: torch.Tensor) -> torch.Tensor:
        """Time-major [T, C] -> [chunks, chunk, C] (zero rows after the last query); always a new tensor."""
        padded = F.pad(x, (0, 0, 0, self.chunks * self.chunk - self.length))
        return padded.view(self.chunks, self.chunk, -1)

    def key_blocks(self, like: torch.Tensor, channels: int) -> torch.Tensor:
        """Zeroed padded key rows as [padded / chunk, chunk, C], for `add_windows`."""
        return like.new_zeros(self.padded // self.chunk, self.chunk, channels)

    def add_windows(self, blocks: torch.Tensor, windows: torch.Tensor, first: int) -> None:
        """The adjoint of `windows`: add [n, width, C] (windows ``first ..``) into the key ``blocks`` they cover
        (overlapping rows accumulate). A window is ``width / chunk`` whole blocks: with few of them, each block
        offset is one dense add (a quarter to a half of ``index_add_``'s time); with many (long windows) the
        small adds cost more than one ``index_add_`` of the windows' rows."""
        n, per_window = windows.shape[0], self.width // self.chunk
        if self.width % self.chunk == 0 and per_window <= MAX_BLOCKWISE_ADDS:
            for j, part in enumerate(windows.view(n, per_window, self.chunk, -1).unbind(1)):
                blocks[first + j : first + j + n].add_(part)
            return
        starts = torch.arange(first, first + n, device=blocks.device) * self.chunk
        rows = starts[:, None] + torch.arange(self.width, device=blocks.device)
        blocks.view(-1, blocks.shape[-1]).index_add_(0, rows.view(-1), windows.reshape(-1, windows.shape[-1]))

    def unpad_keys(self, blocks: torch.Tensor) -> torch.Tensor:
        """Key ``blocks`` -> the [T, C] rows of the video."""
        return blocks.view(-1, blocks.shape[-1])[self.left : self.left + self.length]

    def tiles(self):
        """Slices of ``tile`` chunks covering all chunks."""
        return (slice(start, min(start + self.tile, self.chunks)) for start in range(0, self.chunks, self.tile))


def _attend(qc, k, v, window_bias, key_bias, partial, g: _Geometry, saved=None) -> torch.Tensor:
    """One video's window attention: chunked queries ``qc`` [chunks, chunk, Cq], keys and values [T, C] ->
    [T, Cv] (`_attend_windows` after laying out the keys and values)."""
    kw = g.transposed_windows(g.pad_keys_transposed(k))
    return _attend_windows(qc, kw, g.windows(g.pad_keys(v)), window_bias, key_bias, partial, g, saved)


def _attend_windows(qc, kw, vw, window_bias, key_bias, partial, g: _Geometry, saved=None, work=None) -> torch.Tensor:
    """The attention of laid-out windows, tile by tile (the scores of a tile stay in cache): ``kw`` [chunks, Cq,
    width], ``vw`` [chunks, width, Cv]. ``saved`` collects each tile's attention weights (for the backward);
    without it two tile buffers are reused for scores and weights."""
    scratch = Workspace() if work is None else work
    scores_buffer = scratch.get("scores", (g.tile, g.chunk, g.width), qc)
    attn_buffer = scratch.get("attn", (g.tile, g.chunk, g.width), qc) if saved is None else None
    rows = (g.chunks * g.chunk, vw.shape[-1])
    out = qc.new_empty(rows) if work is None else work.get("attended", rows, qc)
    out_chunks = out.view(g.chunks, g.chunk, -1)
    for part in g.tiles():
        n = part.stop - part.start
        scores = torch.bmm(qc[part], kw[part], out=scores_buffer[:n])
        for start, stop in g.masked_columns:
            scores[..., start:stop].add_(window_bias[:, start:stop])
        if any(partial[part]):
            scores.add_(key_bias[part, None, :])
        if saved is not None:
            saved.append(torch.softmax(scores, dim=-1))
            attn = saved[-1]
        else:
            attn = torch.ops.aten._softmax.out(scores, -1, False, out=attn_buffer[:n])
        torch.bmm(attn, vw[part], out=out_chunks[part])
    return out[: g.length]


class _LocalAttention(torch.autograd.Function):
    """One video's window attention, forward and backward tile by tile (the scores of a tile stay in cache).

    Autograd through the overlapping strided windows would zero a copy of every window and scatter into it (most
    of a training step); here each tile's key and value gradients are added back with one ``index_add_`` into the
    padded keys (`_Geometry.add_windows`). Tested against the dense definition's gradients.
    """

    @staticmethod
    def forward(ctx, q, k, v, window_bias, key_bias, partial: list[bool], geometry: _Geometry, scale: float):
        qc = geometry.queries(q).mul_(scale)  # chunked and scaled: saved as is for the backward
        saved: list[torch.Tensor] = []
        out = _attend(qc, k, v, window_bias, key_bias, partial, geometry, saved)
        ctx.geometry, ctx.scale = geometry, scale
        ctx.save_for_backward(qc, k, v, *saved)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        qc, k, v, *attn = ctx.saved_tensors
        g = ctx.geometry
        gc = g.queries(grad_out)
        kw, vw = g.windows(g.pad_keys(k)), g.transposed_windows(g.pad_keys_transposed(v))
        dk, dv = g.key_blocks(k, k.shape[1]), g.key_blocks(v, v.shape[1])
        dq = qc.new_empty(qc.shape)
        # per-tile temporaries in reused buffers (fresh ones would be written to memory the cache has not seen)
        work = Workspace()
        tile_scores, tile_keys = (g.tile, g.chunk, g.width), (g.tile, g.width, k.shape[1])
        for part, a in zip(g.tiles(), attn, strict=True):
            n = part.stop - part.start
            d_attn = torch.bmm(gc[part], vw[part], out=work.get("d_attn", tile_scores, a)[:n])
            d_scores = torch.ops.aten._softmax_backward_data.out(
                d_attn, a, -1, a.dtype, grad_input=work.get("d_scores", tile_scores, a)[:n]
            )
            torch.bmm(d_scores, kw[part], out=dq[part])
            d_keys = work.get("d_keys", tile_keys, a)[:n]
            g.add_windows(dk, torch.bmm(d_scores.transpose(1, 2), qc[part], out=d_keys), part.start)
            d_values = work.get("d_values", (g.tile, g.width, v.shape[1]), a)[:n]
            g.add_windows(dv, torch.bmm(a.transpose(1, 2), gc[part], out=d_values), part.start)
        dq = dq.view(-1, qc.shape[-1])[: g.length].mul_(ctx.scale)
        return dq, g.unpad_keys(dk), g.unpad_keys(dv), None, None, None, None, None


@functools.lru_cache(maxsize=64)
def _layout(length: int, block: int, full_window: bool, dtype: torch.dtype, device: torch.device):
    """(geometry, window bias) of one video length and block length; cached, since every stage repeats them."""
    half = block // 2
    if full_window:  # reference layout: chunks of bl, each sees its chunk widened by bl//2 on both sides
        chunk, width = block, block + 2 * half
    else:
        chunk = QUERY_CHUNK if block <= 128 else 2 * QUERY_CHUNK
        width = -(-(chunk + block - 1) // 16) * 16  # chunk + bl - 1 keys, rounded up to a multiple of 16
    chunks = math.ceil(length / chunk)
    bias = _window_bias(chunk, width, block, full_window, torch.empty(0, dtype=dtype, device=device))
    # the band's edges: the first chunk - 1 and the columns from bl on (all of it for short windows)
    masked = (bias != 0).any(0).tolist()
    runs = [(j, j + 1) for j, m in enumerate(masked) if m]
    merged: list[list[int]] = []
    for start, stop in runs:
        if merged and merged[-1][1] == start:
            merged[-1][1] = stop
        else:
            merged.append([start, stop])
    columns = tuple((a, b) for a, b in merged)
    tile = max(1, TILE_SCORES // (chunk * width))
    return _Geometry(length, chunk, width, half, chunks, tile, columns), bias


def _key_bias(valid: torch.Tensor, geometry: _Geometry) -> tuple[torch.Tensor, list[bool]]:
    """Per chunk, the bias of its window's keys (padding and invalid frames) [chunks, width], and which chunks
    have any (only those pay for adding it)."""
    g = geometry
    ok = F.pad(valid, (g.left, g.padded - g.left - g.length)).unfold(-1, g.width, g.chunk)
    bias = (1.0 - ok) * _neg(valid.dtype)
    return bias, (ok < 1).any(-1).tolist()


@functools.lru_cache(maxsize=64)
def _edge_key_bias(geometry: _Geometry, dtype: torch.dtype, device: torch.device):
    """`_key_bias` of a video whose frames are all valid (only the chunks at its ends see padding); cached."""
    return _key_bias(torch.ones(geometry.length, dtype=dtype, device=device), geometry)


def window_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    block: int,
    full_window: bool = False,
) -> torch.Tensor:
    """Attention of time-major ``q`` [B, T, Cq] over ``k`` [B, T, Cq] / ``v`` [B, T, Cv] in local windows.

    ``mask`` [B, T] (1 = valid frame), ``None`` when every frame is valid. Scores are scaled by ``1/sqrt(Cq)``.
    Returns [B, T, Cv].
    """
    if block == 1:  # one key per query (its own frame): the softmax is exactly 1 whatever the mask; computed
        # elementwise so the query and key projections stay in the graph (zero gradient, as in the reference)
        return torch.softmax((q * k).sum(-1, keepdim=True), dim=-1) * v
    B, T, Cq = q.shape
    geometry, window_bias = _layout(T, block, full_window, q.dtype, q.device)
    scale = 1.0 / math.sqrt(Cq)
    outputs = []
    for b in range(B):  # a loop over videos
        if mask is None:
            key_bias, partial = _edge_key_bias(geometry, q.dtype, q.device)
        else:
            key_bias, partial = _key_bias(mask[b].to(q.dtype), geometry)
        outputs.append(_LocalAttention.apply(q[b], k[b], v[b], window_bias, key_bias, partial, geometry, scale))
    return torch.stack(outputs) if B > 1 else outputs[0][None]


Projection = Callable[[torch.Tensor], object]


def projected_window_attention(
    like: torch.Tensor,
    length: int,
    channels: tuple[int, int],
    block: int,
    full_window: bool,
    project_queries: Projection,
    project_keys_t: Projection,
    project_values: Projection,
    work: Workspace,
) -> torch.Tensor:
    """`window_attention` of one unpadded video without gradients, whose projections write straight into the
    attention's buffers: ``project_queries(out [T, Cq])`` (already scaled by ``1/sqrt(Cq)``),
    ``project_keys_t(out [Cq, T])`` (channels-first) and ``project_values(out [T, Cv])`` each fill ``out``, so the
    queries, keys and values are never copied into place. ``like`` gives dtype and device. Returns [1, T, Cv],
    living in ``work`` until the next call."""
    cq, cv = channels
    if block == 1:  # one key per query: the softmax is exactly 1, the output is the values
        out = work.get("values_only", (length, cv), like)
        project_values(out)
        return out[None]
    g, window_bias = _layout(length, block, full_window, like.dtype, like.device)
    key_bias, partial = _edge_key_bias(g, like.dtype, like.device)
    queries = work.get("queries", (g.chunks * g.chunk, cq), like)
    project_queries(queries[:length])
    queries[length:].zero_()
    keys_t = work.get("keys_t", (cq, g.padded), like)
    keys_t[:, : g.left].zero_()
    keys_t[:, g.left + length :].zero_()
    project_keys_t(keys_t[:, g.left : g.left + length])
    values = work.get("keys", (g.padded, cv), like)
    values[: g.left].zero_()
    values[g.left + length :].zero_()
    project_values(values[g.left : g.left + length])
    qc = queries.view(g.chunks, g.chunk, cq)
    return _attend_windows(
        qc, g.transposed_windows(keys_t), g.windows(values), window_bias, key_bias, partial, g, work=work
    )[None]
