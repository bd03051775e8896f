"""3D ResNets and ResNeXt in the layout of the widely used Kinetics models of Hara et al. (CVPR 2018,
"3D-ResNets-PyTorch"), so that their checkpoints load by key name, with the STC block of the dissertation
(Sec. 4.2, Table 4.1) optionally inside every residual unit.

Layout (key names): ``conv1`` (3 -> w, kernel t x 7 x 7, stride (t_stride, 2, 2)), ``bn1``, ``maxpool`` (3x3x3,
stride 2), ``layer1..4`` of basic blocks (10 / 18 / 34: ``conv1 bn1 conv2 bn2``), bottlenecks (50 / 101:
``conv1 bn1 conv2 bn2 conv3 bn3``, expansion 4) or ResNeXt bottlenecks (cardinality 32, grouped 3x3x3, planes
2w..16w, expansion 2), ``downsample.0/1`` (shortcut B: 1x1x1 conv + BN; shortcut A: strided identity padded with
zero channels, no weights), ``avgpool``, ``fc``. Stages 2-4 stride 2 in time and space. ``width`` scales every
channel count (64 = the published networks) for small experiments; ``stc`` adds ``<block>.stc`` after the last BN
of each unit (out = STC(conv stack(x)); y = relu(out + shortcut(x))).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from actionline.errors import ConfigError
from actionline.nn.networks.stc import STCBlock
from actionline.nn.sampling.sgs import Kernel, Similarity, SimilarityGuidedSampling

Shortcut = Literal["A", "B"]
DEPTHS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    10: ("basic", (1, 1, 1, 1)),
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


@dataclass(frozen=True)
class SGSSettings:
    """Similarity Guided Sampling after stage ``after`` (1-4; ch. 6: after the second stage of the backbone)."""

    after: int = 1
    bins: int = 32
    embedding: int = 8
    kernel: Kernel = "linear"
    similarity: Similarity = "mean_distance"
    similarity_grad: float = 1.0


@dataclass(frozen=True)
class STCSettings:
    """Where STC blocks go and how they reduce: r (``reduction``), branches on or off."""

    reduction: int = 16
    tcb: bool = True
    scb: bool = True


def masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return x if mask is None else x * mask[:, None, :, None, None]


def conv_length(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


class ZeroPadShortcut(nn.Module):
    """Shortcut A: the input subsampled by ``stride`` with zero channels appended up to ``cout`` (no weights)."""

    def __init__(self, cout: int, stride: int):
        super().__init__()
        self.cout, self.stride = cout, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.avg_pool3d(x, kernel_size=1, stride=self.stride)
        return F.pad(out, (0, 0, 0, 0, 0, 0, 0, self.cout - out.shape[1]))


def shortcut(cin: int, cout: int, stride: int, kind: Shortcut) -> nn.Module | None:
    if stride == 1 and cin == cout:
        return None
    if kind == "A":
        return ZeroPadShortcut(cout, stride)
    return nn.Sequential(nn.Conv3d(cin, cout, 1, stride, bias=False), nn.BatchNorm3d(cout))


class Unit(nn.Module):
    """A residual unit; subclasses build ``convs`` (the conv stack as named layers) and set ``expansion``."""

    expansion = 1

    def attach(self, cin: int, cout: int, stride: int, kind: Shortcut, frames: int, stc: STCSettings | None) -> None:
        self.stride = stride
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(cin, cout, stride, kind)
        self.stc = STCBlock(cout, frames, stc.reduction, stc.tcb, stc.scb) if stc is not None else None

    def residual(self, x: torch.Tensor, mask_in: torch.Tensor | None, mask_out: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, x: torch.Tensor, mask_in: torch.Tensor | None = None, mask_out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``mask_in`` / ``mask_out`` [B, T] (after SGS): padded time steps are zeroed after every activation, so
        they reach no real step (a clip padded in a batch gives what it gives alone)."""
        out = self.residual(x, mask_in, mask_out)
        if self.stc is not None:
            out = self.stc(out)
        return masked(self.relu(out + (self.downsample(x) if self.downsample is not None else x)), mask_out)


class BasicUnit(Unit):
    def __init__(self, cin: int, planes: int, stride: int, kind: Shortcut, frames: int, stc, cardinality: int = 1):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.attach(cin, planes, stride, kind, frames, stc)

    def residual(self, x, mask_in, mask_out) -> torch.Tensor:
        return self.bn2(self.conv2(masked(self.relu(self.bn1(self.conv1(x))), mask_out)))


class BottleneckUnit(Unit):
    """1x1x1 -> 3x3x3 (stride, ``cardinality`` groups) -> 1x1x1; ResNeXt's middle width is
    ``cardinality * (planes // 32)`` (Hara's resnext.py), a ResNet's is ``planes``."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int, kind: Shortcut, frames: int, stc, cardinality: int = 1):
        super().__init__()
        mid = planes if cardinality == 1 else cardinality * (planes // 32)
        cout = planes * self.expansion
        self.conv1 = nn.Conv3d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, 3, stride, 1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(cout)
        self.attach(cin, cout, stride, kind, frames, stc)

    def residual(self, x, mask_in, mask_out) -> torch.Tensor:
        out = masked(self.relu(self.bn1(self.conv1(x))), mask_in)
        out = masked(self.relu(self.bn2(self.conv2(out))), mask_out)
        return self.bn3(self.conv3(out))


class ResNeXtUnit(BottleneckUnit):
    expansion = 2


class StagedVideoNet(nn.Module):
    """A stem, ``layer1..4`` of `Unit`s, optionally SGS (``self.sgs``) after stage ``self.sgs_after``, a pooled
    feature and ``fc``. Subclasses build the layers and define `stem`."""

    sgs_after: int = 0

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def stages(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """The outputs of ``layer1..4`` for clips [B, 3, T, H, W], and after SGS the mask [B, T'] of real time
        steps (a stride-2 unit keeps every other step's mask)."""
        x = self.stem(x)
        outs, mask = [], None
        for i in range(1, 5):
            for unit in getattr(self, f"layer{i}"):
                mask_out = None if mask is None else mask[:, :: unit.stride]
                x = unit(x, mask, mask_out)
                mask = mask_out
            if i == self.sgs_after:
                x, mask = self.sgs(x)
            outs.append(x)
        return outs, mask

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled [B, feature_dim]: the mean over real time steps (every step without SGS)."""
        outs, mask = self.stages(x)
        if mask is None:
            return self.avgpool(outs[-1]).flatten(1)
        return (outs[-1].mean(dim=(3, 4)) * mask[:, None, :]).sum(2) / mask.sum(1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def build_sgs(self, sgs: SGSSettings | None, stage_channels: list[int]) -> None:
        """SGS after stage ``sgs.after`` (1-4) of channels ``stage_channels[after - 1]``."""
        if sgs is None:
            return
        if not 1 <= sgs.after <= 4:
            raise ConfigError(f"SGS goes after stage 1-4, got {sgs.after}")
        self.sgs_after = sgs.after
        channels = stage_channels[sgs.after - 1]
        self.sgs = SimilarityGuidedSampling(
            channels, sgs.bins, sgs.embedding, sgs.kernel, sgs.similarity, sgs.similarity_grad
        )


class ResNet3D(StagedVideoNet):
    """A 3D ResNet (``cardinality`` 1) or ResNeXt (``cardinality`` 32) of ``depth`` for clips of ``frames`` x
    ``size`` x ``size``; ``features`` gives the pooled [B, feature_dim] vector, ``forward`` the class logits."""

    def __init__(
        self,
        depth: int = 18,
        num_classes: int = 400,
        frames: int = 16,
        width: int = 64,
        cardinality: int = 1,
        shortcut: Shortcut = "B",
        conv1_t_size: int = 7,
        conv1_t_stride: int = 1,
        stc: STCSettings | None = None,
        sgs: SGSSettings | None = None,
    ):
        super().__init__()
        if sgs is not None and (stc is not None and stc.scb) and sgs.after < 4:
            raise ConfigError("STC's spatial branch needs a fixed T after its stage; SGS makes T vary per clip")
        if depth not in DEPTHS:
            raise ConfigError(f"3D ResNet depth must be one of {', '.join(map(str, DEPTHS))}, got {depth}")
        kind, layers = DEPTHS[depth]
        if cardinality > 1:
            if kind != "bottleneck" or width * 2 // 32 < 1:
                raise ConfigError("ResNeXt needs a bottleneck depth (50 / 101 / 152) and width >= 16")
            unit, planes = ResNeXtUnit, [2 * width * m for m in (1, 2, 4, 8)]
        else:
            unit, planes = (BasicUnit if kind == "basic" else BottleneckUnit), [width * m for m in (1, 2, 4, 8)]
        t_pad = conv1_t_size // 2
        self.conv1 = nn.Conv3d(3, width, (conv1_t_size, 7, 7), (conv1_t_stride, 2, 2), (t_pad, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(3, 2, 1)
        t = conv_length(conv_length(frames, conv1_t_size, conv1_t_stride, t_pad), 3, 2, 1)
        self.stage_frames: list[int] = []
        cin = width
        for i, (p, n) in enumerate(zip(planes, layers, strict=True)):
            stride = 1 if i == 0 else 2
            t = conv_length(t, 3, stride, 1)
            self.stage_frames.append(t)
            blocks = []
            for b in range(n):
                blocks.append(unit(cin, p, stride if b == 0 else 1, shortcut, t, stc, cardinality))
                cin = p * unit.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.feature_dim = cin
        self.build_sgs(sgs, [p * unit.expansion for p in planes])
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():  # Hara's initialisation
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))
