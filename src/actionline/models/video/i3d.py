"""I3D: Inception-v1 inflated to 3D (Carreira & Zisserman, CVPR 2017), the RGB and optical-flow streams whose
1024-d features (average pool before the logits) the segmentation benchmarks use.

Written to load the community PyTorch checkpoints (``rgb_imagenet.pt``, ``flow_imagenet.pt`` of the
``pytorch-i3d`` port, saved without ``num_batches_tracked``) unchanged and to compute the same function, checked
against `specs/i3d` (keys, shapes, and outputs under deterministic weights to 1e-4): 3D convolutions without bias
(except the logits), BatchNorm3d eps 1e-3, TensorFlow SAME padding for every conv and max-pool (zeros, the odd
element at the end), temporal stride 8, input scaled to [-1, 1]. The final average pool spans 2 x 7 x 7 with
stride 1, so a window of T frames gives T/8 - 1 vectors; the benchmark convention (one vector per frame from a
21-frame window centred on it) is the extractor's (`engine.extractor`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import torch
from torch import nn
from torch.nn import functional as F

from actionline.models.backbone import Backbone, BackboneInput
from actionline.models.registry import register_backbone
from actionline.nn.networks.same_padding import same_padding

torch.fx.wrap(
    "same_padding"
)  # traced as one call (`nn.networks.inference_form`): its padding depends on the input size

# Inception blocks: name, input channels, (b0, b1a, b1b, b2a, b2b, b3b) output channels
MIXED = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("MaxPool3d_4a_3x3", (3, 3, 3), (2, 2, 2)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("MaxPool3d_5a_2x2", (2, 2, 2), (2, 2, 2)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)


class Unit3D(nn.Module):
    """SAME-padded Conv3d (+ BatchNorm3d + ReLU); the logits unit has a bias and neither."""

    def __init__(self, cin: int, cout: int, kernel: Sequence[int] = (1, 1, 1), stride=(1, 1, 1), head: bool = False):
        super().__init__()
        self.kernel, self.stride, self.head = tuple(kernel), tuple(stride), head
        # at stride 1 with odd kernels SAME is (k - 1) / 2 on each side whatever the size: the conv pads itself
        self.fixed = all(s == 1 and k % 2 == 1 for k, s in zip(self.kernel, self.stride, strict=True))
        padding = tuple(k // 2 for k in self.kernel) if self.fixed else 0
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, self.stride, padding, bias=head)
        if not head:
            self.bn = nn.BatchNorm3d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(x if self.fixed else same_padding(x, self.kernel, self.stride))
        return x if self.head else F.relu(self.bn(x))


class MaxPoolSame(nn.Module):
    def __init__(self, kernel: Sequence[int], stride: Sequence[int]):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(same_padding(x, self.kernel, self.stride), self.kernel, self.stride)


class Inception(nn.Module):
    """Four branches: 1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; 3x3x3 max-pool -> 1x1; concatenated."""

    def __init__(self, cin: int, out: Sequence[int]):
        super().__init__()
        self.b0 = Unit3D(cin, out[0])
        self.b1a, self.b1b = Unit3D(cin, out[1]), Unit3D(out[1], out[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, out[3]), Unit3D(out[3], out[4], (3, 3, 3))
        self.b3a, self.b3b = MaxPoolSame((3, 3, 3), (1, 1, 1)), Unit3D(cin, out[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


class I3D(Backbone):
    """The shared network of both streams; `I3DRGB` and `I3DFlow` fix the input channels."""

    stream: ClassVar[Literal["rgb", "flow"]]
    feature_dim = 1024
    positions = (8, 9)  # temporal stride 8; SAME padding of a multiple of 8 frames centres position p on 8p + 9
    pool_kernel = (2, 7, 7)  # the average pool before the logits (Mixed_5c's map at 224 x 224 is T/8 x 7 x 7)

    def __init__(self, num_classes: int = 400):
        super().__init__()
        cin = 3 if self.stream == "rgb" else 2
        self.logits = Unit3D(1024, num_classes, head=True)  # registered first, as in the port's state dict
        self.Conv3d_1a_7x7 = Unit3D(cin, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        for name, a, b in MIXED:
            self.add_module(name, MaxPoolSame(a, b) if name.startswith("MaxPool") else Inception(a, b))
        self.order = ["Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3"]
        self.order += [name for name, _, _ in MIXED]

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T, H, W] -> the 2x7x7 average pool, [B, 1024, T/8 - 1, 1, 1] at 224 x 224."""
        for name in self.order:
            x = getattr(self, name)(x)
        return F.avg_pool3d(x, self.pool_kernel, stride=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T, H, W] -> [B, 1024, T'] (T' = T/8 - 1 at 224 x 224)."""
        return self.trunk(x).flatten(3).mean(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Kinetics logits per output position [B, num_classes, T'] (eval mode: dropout is the identity)."""
        return self.logits(self.trunk(x)).flatten(3).mean(3)


@register_backbone("i3d_rgb")
class I3DRGB(I3D):
    stream = "rgb"
    input = BackboneInput(frames=21, size=224, short_side=256, scaling="minus_one_one")


@register_backbone("i3d_flow")
class I3DFlow(I3D):
    stream = "flow"
    input = BackboneInput(frames=21, size=224, short_side=256, scaling="minus_one_one", channels=2)
