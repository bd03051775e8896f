"""HATNet (Holistic Appearance and Temporal Network; dissertation Sec. 5.3, Fig. 5.3): a 2D appearance branch and a
3D temporal branch that exchange information after every stage.

- Appearance: a 2D ResNet-18 on every frame (torchvision's blocks), its first max-pool removed.
- Temporal: a 3D ResNet-18 (Hara's units, optionally with STC blocks), without the stem max-pool, so that both
  branches have the same spatial size at every stage (56, 28, 14, 7 for 112-pixel clips; asserted).
- Merge & Reduction after each of the four stages, separately in each branch: concatenate the branch's map with the
  other branch's (aligned in time) and reduce back to the branch's width with a 1x1(x1) convolution and BN.
- Final merge: the pooled features of both branches concatenated (2 x the last width) -> the classifier.

Temporal alignment (the thesis leaves it open; spec C): the 2D maps [B, C, T2, H, W] are average-pooled over time to
the 3D branch's length T3 for the 3D side; the 3D maps are repeated (nearest) to the T2 frames for the 2D side.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from actionline.errors import ConfigError
from actionline.nn.networks.hara_resnet3d import BasicUnit, STCSettings, conv_length
from actionline.nn.networks.resnet2d_blocks import BasicBlock


def _merge(channels: int, dims: int) -> nn.Sequential:
    conv, norm = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (nn.Conv3d, nn.BatchNorm3d)
    return nn.Sequential(conv(2 * channels, channels, 1, bias=False), norm(channels))


class HATNet(nn.Module):
    """HATNet with ResNet-18 branches of base ``width`` for clips of ``frames`` frames; ``stc`` adds STC blocks to
    the temporal branch."""

    def __init__(
        self,
        num_classes: int = 400,
        frames: int = 32,
        width: int = 64,
        stc: STCSettings | None = None,
        max_pool: bool = False,
    ):
        super().__init__()
        planes = [width * m for m in (1, 2, 4, 8)]
        self.conv1_2d = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1_2d = nn.BatchNorm2d(width)
        self.conv1_3d = nn.Conv3d(3, width, (7, 7, 7), (1, 2, 2), (3, 3, 3), bias=False)
        self.bn1_3d = nn.BatchNorm3d(width)
        self.relu = nn.ReLU(inplace=True)
        # max_pool keeps both stems' max-pools (3x3 / 3x3x3, stride 2; time halved too): 3-4x cheaper, not the thesis'
        self.pool_2d = nn.MaxPool2d(3, 2, 1) if max_pool else nn.Identity()
        self.pool_3d = nn.MaxPool3d(3, 2, 1) if max_pool else nn.Identity()
        cin, t = width, conv_length(frames, 3, 2, 1) if max_pool else frames
        self.appearance, self.temporal, self.merge_2d, self.merge_3d = (nn.ModuleList() for _ in range(4))
        for i, p in enumerate(planes):
            stride = 1 if i == 0 else 2
            self.appearance.append(nn.Sequential(BasicBlock(cin, p, stride), BasicBlock(p, p)))
            t = conv_length(t, 3, stride, 1)
            self.temporal.append(nn.Sequential(BasicUnit(cin, p, stride, "B", t, stc), BasicUnit(p, p, 1, "B", t, stc)))
            self.merge_2d.append(_merge(p, 2))
            self.merge_3d.append(_merge(p, 3))
            cin = p
        self.feature_dim = 2 * cin
        self.fc = nn.Linear(self.feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Clips [B, 3, T, H, W] -> [B, 2 x last width]."""
        b, _, t = x.shape[:3]
        a = self.pool_2d(self.relu(self.bn1_2d(self.conv1_2d(x.transpose(1, 2).flatten(0, 1)))))  # [B T, C, H, W]
        m = self.pool_3d(self.relu(self.bn1_3d(self.conv1_3d(x))))  # [B, C, T, H, W]
        for appearance, temporal, merge_2d, merge_3d in zip(
            self.appearance, self.temporal, self.merge_2d, self.merge_3d, strict=True
        ):
            a, m = appearance(a), temporal(m)
            if a.shape[-2:] != m.shape[-2:]:
                raise ConfigError(
                    f"HATNet branches disagree in space: 2D {tuple(a.shape[-2:])}, 3D {tuple(m.shape[-2:])}"
                )
            a5 = a.view(b, t, *a.shape[1:]).transpose(1, 2)  # [B, C, T2, H, W]
            to_3d = F.adaptive_avg_pool3d(a5, m.shape[2:])
            to_2d = F.interpolate(m, size=a5.shape[2:], mode="nearest").transpose(1, 2).flatten(0, 1)
            a, m = merge_2d(torch.cat([a, to_2d], dim=1)), merge_3d(torch.cat([m, to_3d], dim=1))
        pooled_2d = a.mean(dim=(2, 3)).view(b, t, -1).mean(dim=1)
        return torch.cat([pooled_2d, m.mean(dim=(2, 3, 4))], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
