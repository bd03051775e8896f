"""I3D on every window of a run of consecutive frames (the per-frame convention: one window per frame), exactly,
with the work the windows share computed once.

Window ``t`` of a chunk covers frames ``t ... t + W - 1``. Inside it, a layer's output position whose temporal
receptive field does not reach the window's zero (SAME) padding is the same function of the same frames for every
window that contains those frames: the layer run once over the whole chunk at temporal stride 1 (with its kernel
dilated by the product of the strides before it, so that the positions of every window interleave) gives those
positions for all windows at once. Only the positions that touch the padding (the *edges*) are computed per window,
from the window's own positions below them with the padding the window would see. A temporal convolution (its
BatchNorm folded: linear up to the ReLU) whose window has fewer edge inputs than edge outputs is instead split into
its temporal taps: each tap's product with every distinct input position (shared, or a window's edge) is computed
once, and every output, shared or edge, is the sum of the products it reads (an edge's padding adds nothing).
Sharing continues layer by layer while a window still has at least two shared positions (below that the shared
pass costs as much as it saves); from there the remaining layers run on each window's assembled positions as in
`I3D.trunk`.

For I3D's 21-frame window this shares the stem (Conv3d_1a: 7 of 11 positions, all 11 by taps; Conv3d_2b: 7;
Conv3d_2c: 5, by taps) and Mixed_3b (3 of 11): 38.8 -> 23.7 GMACs per frame at 224 x 224 for long batches
(`macs_per_window` counts them for any batch; 16 windows: 25.6, 64: 24.2). The function is the network's
(BatchNorm folded into the convolutions, as in `nn.networks.inference_form`); only the order of the floating-point
sums differs (tests: 1e-5 relative). Memory: the products are made one tap at a time, a map per input position.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.fusion import fuse_conv_bn_weights

from actionline.models.video.i3d import I3D, Inception, MaxPoolSame, Unit3D
from actionline.nn.networks.same_padding import same_padding

Padding = tuple[int, int]


@dataclass(frozen=True)
class SharedStep:
    """One layer run on the shared sequence. Window positions ``a ... b`` of the layer's output are shared; the
    front edges ``0 ... a - 1`` read input positions ``0 ... front_end``, the back edges ``b + 1 ... length - 1``
    read input positions from ``back_start`` on, with ``back_pad`` zeros after the window (SAME padding).
    ``by_taps``: a convolution whose edges are sums of per-tap products shared across windows (`_by_taps`)."""

    name: str
    kernel: int
    stride: int
    pad_front: int
    a: int
    b: int
    length: int
    front_end: int
    back_start: int
    back_pad: int
    by_taps: bool


def temporal_geometry(module: nn.Module) -> tuple[int, int]:
    """A layer's temporal kernel and stride (an Inception block: the 3-frame convolutions and pool, stride 1)."""
    if isinstance(module, Inception):
        return 3, 1
    return module.kernel[0], module.stride[0]


def same_pads(length: int, kernel: int, stride: int) -> Padding:
    total = max(kernel - stride, 0) if length % stride == 0 else max(kernel - length % stride, 0)
    return total // 2, total - total // 2


def plan(backbone: I3D, window: int) -> list[SharedStep]:
    """The shared layers of a ``window``-frame window, the first ones of `I3D.order`."""
    steps, a, b, length = [], 0, window - 1, window
    for name in backbone.order:
        module = getattr(backbone, name)
        k, s = temporal_geometry(module)
        front, _ = same_pads(length, k, s)
        out = -(-length // s)
        a2, b2 = -(-(a + front) // s), (b + front - k + 1) // s
        if b2 - a2 + 1 < 2:
            break
        back_pad = s * (out - 1) - front + k - 1 - (length - 1)
        # per tap, each edge input costs one output's MACs: worth it where a window has fewer edge inputs than outputs
        by_taps = isinstance(module, Unit3D) and k > 1 and a + length - 1 - b < a2 + out - 1 - b2
        front_end, back_start = s * (a2 - 1) - front + k - 1, s * (b2 + 1) - front
        steps.append(SharedStep(name, k, s, front, a2, b2, out, front_end, back_start, back_pad, by_taps))
        a, b, length = a2, b2, out
    return steps


@dataclass
class Positions:
    """Every window's positions at one layer: ``0 ... a - 1`` in ``front`` [n, C, a, h, w] (None: none),
    ``a ... b`` shared (window t's position j is ``shared[0, :, t + dilation * j + offset]``), ``b + 1 ... length
    - 1`` in ``back``."""

    shared: torch.Tensor
    dilation: int
    offset: int
    a: int
    b: int
    length: int
    front: torch.Tensor | None
    back: torch.Tensor | None
    n: int

    def like(self, front: torch.Tensor | None, shared: torch.Tensor, back: torch.Tensor | None) -> Positions:
        """The same positions of other maps (computed position by position from these)."""
        return Positions(shared, self.dilation, self.offset, self.a, self.b, self.length, front, back, self.n)

    def gather(self, first: int, last: int) -> torch.Tensor | None:
        """Shared positions ``first ... last`` of every window [n, C, last - first + 1, h, w], channels-last (None:
        none)."""
        if last < first:
            return None
        channels_last = [self.at(p).permute(0, 2, 3, 1) for p in range(first, last + 1)]  # [n, h, w, C] views
        return torch.stack(channels_last, 1).permute(0, 4, 1, 2, 3)

    def at(self, p: int) -> torch.Tensor:
        """Shared position ``p`` of every window [n, C, h, w] (a view: the windows' positions are consecutive)."""
        start = self.dilation * p + self.offset
        return self.shared[0, :, start : start + self.n].transpose(0, 1)

    def position(self, p: int) -> torch.Tensor:
        """Position ``p`` of every window [n, C, h, w]."""
        if p < self.a:
            return self.front[:, :, p]
        if p > self.b:
            return self.back[:, :, p - self.b - 1]
        return self.at(p)

    def windows(self) -> torch.Tensor:
        """Every window's positions [n, C, length, h, w]."""
        return joined(self.front, self.gather(self.a, self.b), self.back)


def joined(*parts: torch.Tensor | None) -> torch.Tensor:
    """Positions of every window concatenated in time (None: no positions)."""
    return torch.cat([p for p in parts if p is not None], 2)


class SharedWindowsI3D:
    """Features of every window of consecutive frames: [n + W - 1 frames] -> [n windows, 1024] (the mean of each
    window's output positions, as the extractor's one-window-per-call path), computed as the module docstring says.
    Holds the BatchNorm-folded weights (``backbone`` is left unchanged); the plan is made once per window length."""

    def __init__(self, backbone: I3D, device: torch.device | str = "cpu"):
        if backbone.training:
            raise ValueError("SharedWindowsI3D folds BatchNorm statistics: give a backbone in eval mode")
        self.backbone = backbone
        self.weights: dict[Unit3D, tuple[torch.Tensor, torch.Tensor]] = {}
        for unit in backbone.modules():
            if isinstance(unit, Unit3D) and not unit.head:
                conv, bn = unit.conv3d, unit.bn
                w, b = fuse_conv_bn_weights(
                    conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
                )
                w = w.detach().to(device).contiguous(memory_format=torch.channels_last_3d)
                self.weights[unit] = (w, b.detach().to(device))
        self.plans: dict[int, list[SharedStep]] = {}
        self.macs = 0  # multiply-accumulates of the convolutions run so far (`macs_per_window`)

    # --- the layers, with the temporal stride, dilation and zero padding given (space: SAME, as the network) ---

    def convolve(
        self,
        unit: Unit3D,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: int = 1,
        dilation: int = 1,
        pads: Padding = (0, 0),
    ) -> torch.Tensor:
        spatial = [
            p
            for size, k, s in zip(x.shape[-2:], unit.kernel[1:], unit.stride[1:], strict=True)
            for p in same_pads(size, k, s)
        ]
        symmetric = spatial[0] == spatial[1] and spatial[2] == spatial[3]
        if not symmetric:
            x = F.pad(x, (spatial[2], spatial[3], spatial[0], spatial[1]))
        if any(pads):
            x = F.pad(x, (0, 0, 0, 0, *pads))
        padding = (0, spatial[0], spatial[2]) if symmetric else 0
        out = F.conv3d(x, weight, bias, (stride, *unit.stride[1:]), padding, (dilation, 1, 1))
        self.macs += out.numel() * weight[0].numel()
        return out

    def unit(self, unit: Unit3D, x: torch.Tensor, stride: int = 1, dilation: int = 1, pads: Padding = (0, 0)):
        return F.relu_(self.convolve(unit, x, *self.weights[unit], stride, dilation, pads))

    @staticmethod
    def pool(pool: MaxPoolSame, x: torch.Tensor, stride: int = 1, dilation: int = 1, pads: Padding = (0, 0)):
        x = same_padding(x, pool.kernel[1:], pool.stride[1:])
        if any(pads):
            x = F.pad(x, (0, 0, 0, 0, *pads))
        return F.max_pool3d(x, pool.kernel, (stride, *pool.stride[1:]), 0, (dilation, 1, 1))

    def inception(self, block: Inception, x: torch.Tensor, dilation: int = 1, pads: Padding = (0, 0)):
        length = x.shape[2] + sum(pads) - 2 * dilation
        centre = x[:, :, dilation - pads[0] : dilation - pads[0] + length]  # what the 1x1 branches see
        return torch.cat(
            [
                self.unit(block.b0, centre),
                self.unit(block.b1b, self.unit(block.b1a, x), 1, dilation, pads),
                self.unit(block.b2b, self.unit(block.b2a, x), 1, dilation, pads),
                self.unit(block.b3b, self.pool(block.b3a, x, 1, dilation, pads)),
            ],
            dim=1,
        )

    def layer(self, name: str, x: torch.Tensor, stride: int, dilation: int, pads: Padding) -> torch.Tensor:
        module = getattr(self.backbone, name)
        if isinstance(module, Inception):
            return self.inception(module, x, dilation, pads)
        if isinstance(module, MaxPoolSame):
            return self.pool(module, x, stride, dilation, pads)
        return self.unit(module, x, stride, dilation, pads)

    # --- one shared layer ---

    def _shared_range(self, x: Positions, step: SharedStep) -> tuple[int, int]:
        """The shared input index window 0's first shared output reads first, and the number of shared outputs."""
        first = x.dilation * (step.stride * step.a - step.pad_front) + x.offset
        return first, x.n + x.dilation * step.stride * (step.b - step.a)

    def _by_edges(self, x: Positions, step: SharedStep) -> Positions:
        """The layer run once on the shared positions (dilated) and on each window's edges with its padding."""
        k, s, d = step.kernel, step.stride, x.dilation
        front = back = None
        if step.a:  # the front edges, from the window's positions 0 ... front_end with its padding before them
            below = None if x.front is None else x.front[:, :, : step.front_end + 1]
            front = self.layer(step.name, joined(below, x.gather(x.a, step.front_end)), s, 1, (step.pad_front, 0))
        if step.b < step.length - 1:  # the back edges, from back_start on with the padding after the window
            above = None if x.back is None else x.back[:, :, max(step.back_start - x.b - 1, 0) :]
            back = self.layer(step.name, joined(x.gather(step.back_start, x.b), above), s, 1, (0, step.back_pad))
        first, count = self._shared_range(x, step)
        shared = self.layer(step.name, x.shared[:, :, first : first + count + d * (k - 1)], 1, d, (0, 0))
        return Positions(shared, d * s, -d * s * step.a, step.a, step.b, step.length, front, back, x.n)

    def _by_taps(self, x: Positions, step: SharedStep) -> Positions:
        """A convolution as the sum over its temporal taps of single-tap products: tap i of every distinct input
        position (shared or edge) is computed once, and each output, shared or edge, adds the taps it reads (an
        edge those inside its window only: the padding's zeros add nothing). Exact up to the order of the sums."""
        unit = getattr(self.backbone, step.name)
        weight, bias = self.weights[unit]
        d, s = x.dilation, step.stride
        first, count = self._shared_range(x, step)
        edges = [*range(step.a), *range(step.b + 1, step.length)]
        sums: dict[int, torch.Tensor] = {}  # output position (-1: the shared ones) -> its sum so far
        for i in range(step.kernel):
            tap = weight[:, :, i : i + 1].contiguous(memory_format=torch.channels_last_3d)
            products = x.like(
                *(None if t is None else self.convolve(unit, t, tap, None) for t in (x.front, x.shared, x.back))
            )
            terms = [(-1, products.shared[:, :, first + d * i : first + d * i + count])]
            terms += [(j, products.position(p)) for j in edges if 0 <= (p := s * j - step.pad_front + i) < x.length]
            for j, term in terms:
                sums[j] = sums[j].add_(term) if j in sums else term.clone()
        shared = F.relu_(sums.pop(-1).add_(bias.view(-1, 1, 1, 1)))
        stacked = {j: F.relu_(value.add_(bias.view(-1, 1, 1))) for j, value in sums.items()}  # [n, C, h, w] each
        front = torch.stack([stacked[j] for j in range(step.a)], 2) if step.a else None
        back = (
            torch.stack([stacked[j] for j in range(step.b + 1, step.length)], 2) if step.b < step.length - 1 else None
        )
        return Positions(shared, d * s, -d * s * step.a, step.a, step.b, step.length, front, back, x.n)

    # --- the windows ---

    @torch.inference_mode()
    def maps(self, frames: torch.Tensor, window: int) -> torch.Tensor:
        """Scaled frames [1, C, n + window - 1, H, W] -> each window's last map (Mixed_5c) [n, 1024, T', h, w]."""
        if window not in self.plans:
            self.plans[window] = plan(self.backbone, window)
        steps = self.plans[window]
        n = frames.shape[2] - window + 1
        if n < 1:
            raise ValueError(f"{frames.shape[2]} frames hold no {window}-frame window")
        x = Positions(frames, 1, 0, 0, window - 1, window, None, None, n)  # window t: frames t ... t + window - 1
        for step in steps:
            x = self._by_taps(x, step) if step.by_taps else self._by_edges(x, step)
        maps = x.windows()
        for name in self.backbone.order[len(steps) :]:
            k, s = temporal_geometry(getattr(self.backbone, name))
            maps = self.layer(name, maps, s, 1, same_pads(maps.shape[2], k, s))
        return maps

    @torch.inference_mode()
    def features(self, frames: torch.Tensor, window: int) -> torch.Tensor:
        """Scaled frames [1, C, n + window - 1, H, W] -> [n, 1024]: each window's output positions (`I3D.trunk`'s
        average pool) averaged."""
        pooled = F.avg_pool3d(self.maps(frames, window), self.backbone.pool_kernel, stride=1)
        return pooled.flatten(3).mean(3).mean(2)

    def macs_per_window(self, window: int, windows: int, size: tuple[int, int] = (224, 224)) -> float:
        """Convolution MACs per window when ``windows`` windows are computed together (shapes only: on the meta
        device)."""
        counter = copy.copy(self)
        counter.weights = {u: (w.to("meta"), b.to("meta")) for u, (w, b) in self.weights.items()}
        counter.macs = 0
        channels = self.weights[self.backbone.Conv3d_1a_7x7][0].shape[1]
        counter.maps(torch.empty(1, channels, windows + window - 1, *size, device="meta"), window)
        return counter.macs / windows
