"""S3D (Xie et al., ECCV 2018): Inception-v1 with temporally separable 3D convolutions (a 1xkxk spatial conv then a
kx1x1 temporal conv, each with BatchNorm eps 1e-3 and ReLU), in torchvision's layout so that its Kinetics-400
checkpoint loads without torchvision; checked against `specs/torchvision/s3d.json`. As a backbone: 1024-d clip
features (the 2x7x7 average pool before the classifier), 16 frames at 224 x 224, Kinetics normalisation.
"""

from __future__ import annotations

import torch
from torch import nn

from actionline.models.backbone import Backbone, BackboneInput
from actionline.models.registry import register_backbone

# input channels, (b0, b1 mid, b1 out, b2 mid, b2 out, b3) per separable Inception block; "pool" = a max-pool
LAYOUT = (
    (192, (64, 96, 128, 16, 32, 32)),
    (256, (128, 128, 192, 32, 96, 64)),
    ("pool", ((3, 3, 3), (2, 2, 2), (1, 1, 1))),
    (480, (192, 96, 208, 16, 48, 64)),
    (512, (160, 112, 224, 24, 64, 64)),
    (512, (128, 128, 256, 24, 64, 64)),
    (512, (112, 144, 288, 32, 64, 64)),
    (528, (256, 160, 320, 32, 128, 128)),
    ("pool", ((2, 2, 2), (2, 2, 2), (0, 0, 0))),
    (832, (256, 160, 320, 32, 128, 128)),
    (832, (384, 192, 384, 48, 128, 128)),
)


def conv_bn_relu(cin: int, cout: int, kernel=1, stride=1, padding=0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, kernel, stride, padding, bias=False),
        nn.BatchNorm3d(cout, eps=1e-3, momentum=1e-3),
        nn.ReLU(inplace=True),
    )


def separable(cin: int, cout: int, k: int, stride: int, padding: int) -> nn.Sequential:
    """1 x k x k spatial then k x 1 x 1 temporal convolution."""
    return nn.Sequential(
        conv_bn_relu(cin, cout, (1, k, k), (1, stride, stride), (0, padding, padding)),
        conv_bn_relu(cout, cout, (k, 1, 1), (stride, 1, 1), (padding, 0, 0)),
    )


class SepInception(nn.Module):
    def __init__(self, cin: int, out: tuple[int, ...]):
        super().__init__()
        b0, b1m, b1, b2m, b2, b3 = out
        self.branch0 = conv_bn_relu(cin, b0)
        self.branch1 = nn.Sequential(conv_bn_relu(cin, b1m), separable(b1m, b1, 3, 1, 1))
        self.branch2 = nn.Sequential(conv_bn_relu(cin, b2m), separable(b2m, b2, 3, 1, 1))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, 1, 1), conv_bn_relu(cin, b3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], dim=1)


@register_backbone("s3d")
class S3D(Backbone):
    input = BackboneInput(frames=16, size=224, short_side=256, scaling="kinetics")
    feature_dim = 1024

    def __init__(self, num_classes: int = 400):
        super().__init__()
        layers: list[nn.Module] = [
            separable(3, 64, 7, 2, 3),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            conv_bn_relu(64, 64),
            separable(64, 192, 3, 1, 1),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        ]
        for cin, spec in LAYOUT:
            layers.append(nn.MaxPool3d(*spec) if cin == "pool" else SepInception(cin, spec))
        self.features_ = nn.Sequential(*layers)
        self.avgpool = nn.AvgPool3d((2, 7, 7), stride=1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Conv3d(1024, num_classes, 1, bias=True))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, 224, 224] -> [B, 1024] (mean over the pooled positions)."""
        return self.avgpool(self.features_(x)).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features_(x))).mean(dim=(2, 3, 4))

    def remap(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """torchvision names the trunk ``features``, which is this class's method: stored as ``features_``."""
        return {("features_" + k[len("features") :] if k.startswith("features.") else k): v for k, v in state.items()}
