"""Video ResNets in torchvision's layout (Tran et al., CVPR 2018): R3D-18 (3x3x3 convolutions), MC3-18 (3D in the
first stage, 2D after) and R(2+1)D-18 (each 3x3x3 factorised into a 1x3x3 spatial and a 3x1x1 temporal conv with
the intermediate width that keeps the parameter count), so that Kinetics checkpoints trained with torchvision load
without it. Checked against `specs/torchvision`. As backbones: 512-d clip features, 16 frames at 112 x 112 after a
128-pixel shorter side, Kinetics normalisation (torchvision's video transforms).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from actionline.models.backbone import Backbone, BackboneInput
from actionline.models.registry import register_backbone


def conv3d_simple(cin: int, cout: int, mid: int, stride: int) -> nn.Module:
    return nn.Conv3d(cin, cout, 3, stride, 1, bias=False)


def conv3d_no_temporal(cin: int, cout: int, mid: int, stride: int) -> nn.Module:
    return nn.Conv3d(cin, cout, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False)


def conv2plus1d(cin: int, cout: int, mid: int, stride: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv3d(cin, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, cout, (3, 1, 1), (stride, 1, 1), (1, 0, 0), bias=False),
    )


class VideoBasicBlock(nn.Module):
    def __init__(self, cin: int, planes: int, conv, stride: int = 1):
        super().__init__()
        mid = (cin * planes * 27) // (cin * 9 + 3 * planes)  # (2+1)D width: one value for both convs, as torchvision
        self.conv1 = nn.Sequential(conv(cin, planes, mid, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv(planes, planes, mid, 1), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != planes:
            spatial_only = conv is conv3d_no_temporal
            step = (1, stride, stride) if spatial_only else (stride, stride, stride)
            self.downsample = nn.Sequential(nn.Conv3d(cin, planes, 1, step, bias=False), nn.BatchNorm3d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class VideoResNet(Backbone):
    """Stem, four stages of two basic blocks, global average pool, ``fc`` (400 Kinetics classes)."""

    input = BackboneInput(frames=16, size=112, short_side=128, scaling="kinetics")
    feature_dim = 512
    convs: ClassVar[tuple]
    factorised_stem: ClassVar[bool] = False

    def __init__(self, num_classes: int = 400):
        super().__init__()
        if self.factorised_stem:
            self.stem = nn.Sequential(
                nn.Conv3d(3, 45, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
                nn.BatchNorm3d(45),
                nn.ReLU(inplace=True),
                nn.Conv3d(45, 64, (3, 1, 1), 1, (1, 0, 0), bias=False),
                nn.BatchNorm3d(64),
                nn.ReLU(inplace=True),
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False), nn.BatchNorm3d(64), nn.ReLU(inplace=True)
            )
        cin = 64
        for i, (planes, conv) in enumerate(zip((64, 128, 256, 512), self.convs, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = (VideoBasicBlock(cin, planes, conv, stride), VideoBasicBlock(planes, planes, conv))
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            cin = planes
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(512, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, H, W] -> [B, 512]."""
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.avgpool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_backbone("r3d_18")
class R3D18(VideoResNet):
    convs = (conv3d_simple,) * 4


@register_backbone("mc3_18")
class MC3_18(VideoResNet):
    convs = (conv3d_simple, conv3d_no_temporal, conv3d_no_temporal, conv3d_no_temporal)


@register_backbone("r2plus1d_18")
class R2Plus1D18(VideoResNet):
    convs = (conv2plus1d,) * 4
    factorised_stem = True
