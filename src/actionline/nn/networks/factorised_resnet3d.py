"""The modified 3D ResNet-18 of dissertation Table 6.12 (the network of the SGS bins ablation, Sec. 6.4): a
SlowOnly-style ResNet whose bottlenecks factorise time and space, without temporal downsampling, so the time axis
keeps its length until SGS (after res2) shortens it.

    conv1   5x7x7, 8, stride (1, 2, 2);  pool1 1x3x3, stride (1, 2, 2)
    res2    [3x1x1, 8;   1x3x3, 8;   1x1x1, 32]   x 2
    res3    [1x1x1, 64;  1x3x3, 64;  1x1x1, 256]  x 2, spatial stride 2
    res4    [1x1x1, 128; 1x3x3, 128; 1x1x1, 512]  x 2, spatial stride 2
    res5    [3x1x1, 256; 1x3x3, 256; 1x1x1, 1024] x 2, spatial stride 2
    global average pool, fc

The table's 32 x 224 x 224 input gives res2 outputs [N, 32, 32, 56, 56], where SGS (B = 32) goes. The table does
not state res4 / res5's spatial strides; stride 2 at the first unit of res3-res5 (the usual ResNet schedule, ending at
7 x 7 for 224 pixels) is assumed. ``width`` scales every channel count (8 = the table).
"""

from __future__ import annotations

import torch
from torch import nn

from actionline.nn.networks.hara_resnet3d import SGSSettings, StagedVideoNet, Unit, masked

STAGES = ((3, 8, 32, 1), (1, 64, 256, 2), (1, 128, 512, 2), (3, 256, 1024, 2))  # kt, mid, out, spatial stride


class FactorisedBottleneck(Unit):
    """[kt x 1 x 1] -> [1 x 3 x 3, spatial stride] -> [1 x 1 x 1]; shortcut 1x1x1 conv + BN where the shape
    changes. No temporal stride, so the time mask passes through unchanged."""

    def __init__(self, cin: int, mid: int, cout: int, kt: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, mid, (kt, 1, 1), 1, (kt // 2, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(cout)
        self.stride, self.stc, self.relu = 1, None, nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv3d(cin, cout, 1, (1, stride, stride), bias=False), nn.BatchNorm3d(cout)
            )

    def residual(self, x, mask_in, mask_out) -> torch.Tensor:
        out = masked(self.relu(self.bn1(self.conv1(x))), mask_in)
        out = masked(self.relu(self.bn2(self.conv2(out))), mask_out)
        return self.bn3(self.conv3(out))


class FactorisedResNet3D(StagedVideoNet):
    """Table 6.12's network for ``num_classes`` classes, SGS after stage ``sgs.after`` (1 = res2) when given."""

    def __init__(self, num_classes: int = 400, width: int = 8, sgs: SGSSettings | None = None):
        super().__init__()
        self.conv1 = nn.Conv3d(3, width, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        cin, outs = width, []
        for i, (kt, mid, out, stride) in enumerate(STAGES):
            mid, out = mid * width // 8, out * width // 8
            units = [
                FactorisedBottleneck(cin if b == 0 else out, mid, out, kt, stride if b == 0 else 1) for b in range(2)
            ]
            self.add_module(f"layer{i + 1}", nn.Sequential(*units))
            cin = out
            outs.append(out)
        self.feature_dim = cin
        self.build_sgs(sgs, outs)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(cin, num_classes)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))
