"""Clip classifiers (dissertation ch. 4): 3D ResNets / ResNeXt in Hara et al.'s layout, their STC versions
(Sec. 4.2, Table 4.1), and torchvision's video ResNets, as models of the ``classification`` task.

A model takes clips [B, 3, T, S, S] (Kinetics-normalised) and gives class logits [B, K]; the loss is cross-entropy
on the clip's label. ``init`` (applied when training starts, `engine.initial_weights`) starts from weights instead of
the random initialisation: a checkpoint of the network's own layout (Hara's or torchvision's keys; its classifier is
dropped when the classes differ: fine-tuning with a new classifier), a correspondence pre-training run (`actionline
pretrain --method transfer`, Sec. 4.3), or ``inflate:<2D ResNet weights>`` (the inflation baseline: each 2D kernel
repeated over time and divided by its temporal size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from actionline.errors import ConfigError
from actionline.models.base import ClassificationModel, ClipModelConfig
from actionline.models.registry import backbone_class, register
from actionline.nn.networks.factorised_resnet3d import FactorisedResNet3D
from actionline.nn.networks.hara_resnet3d import ResNet3D, SGSSettings, STCSettings
from actionline.nn.networks.hatnet import HATNet
from actionline.nn.sampling.sgs import Kernel, Similarity


@dataclass
class ClipConfig(ClipModelConfig):
    """Network width (64 = the published networks), STC reduction r (Table 4.1: 16) and branches (Table 4.5: both, or
    the TCB or the SCB alone), the shortcut kind of Hara's checkpoints (B; A for their 2018 ResNet-18 / 34)."""

    width: int = 64
    reduction: int = 16
    stc_branches: Literal["both", "tcb", "scb"] = "both"
    shortcut: Literal["A", "B"] = "B"

    def validate(self) -> None:
        super().validate()
        if self.width < 1 or self.reduction < 1:
            raise ConfigError("model.width >= 1 and model.reduction >= 1 required")


@dataclass
class SGSClipConfig(ClipConfig):
    """A clip network that can resample time with Similarity Guided Sampling after a stage (ch. 6)."""

    sgs_after: int = 0  # Similarity Guided Sampling after this stage (1-4; ch. 6); 0 = none
    sgs_bins: int = 32  # B
    sgs_embedding: int = 8  # L (Table 6.3)
    sgs_kernel: Kernel = "linear"
    sgs_similarity: Similarity = "mean_distance"
    sgs_similarity_grad: float = 1.0  # scale of the gradient through Δ (Eq. 6.8; released code GRAD_SCALE_VAL)

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.sgs_after <= 4:
            raise ConfigError(f"model.sgs_after must be 0 (none) or a stage 1-4, got {self.sgs_after}")
        if self.sgs_bins < 1 or self.sgs_embedding < 1:  # checked with or without SGS: never silently ignored
            raise ConfigError(
                f"model.sgs_bins and model.sgs_embedding must be >= 1, got {self.sgs_bins}, {self.sgs_embedding}"
            )
        if self.sgs_similarity_grad < 0:
            raise ConfigError(f"model.sgs_similarity_grad must be >= 0, got {self.sgs_similarity_grad}")


class ClipClassifier(ClassificationModel):
    """Base of the convolutional clip classifiers: ``build_network`` gives a module with ``features`` and ``fc``."""

    Config = ClipConfig

    def __init__(self, config: ClipConfig):
        super().__init__(config)
        self.net = self.build_network(config)
        self.dropout = nn.Dropout(config.dropout)

    def build_network(self, c: ClipConfig) -> nn.Module:
        raise NotImplementedError

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        self.check_clips(features)
        embedding = self.net.features(features)
        return {"logits": self.net.fc(self.dropout(embedding)), "embedding": embedding}


class SGSClipClassifier(ClipClassifier):
    """A convolutional clip classifier with optional SGS: its cost varies per clip when SGS is on."""

    Config = SGSClipConfig
    inference_settings: ClassVar[frozenset[str]] = frozenset({"sgs_bins"})  # SGS's test-time B trade-off (Sec. 6.4)

    @property
    def adaptive(self) -> bool:
        return self.config.sgs_after > 0

    def plain_settings(self) -> dict[str, Any]:
        return {"sgs_after": 0}


def stc_settings(c: ClipConfig) -> STCSettings:
    return STCSettings(c.reduction, tcb=c.stc_branches != "scb", scb=c.stc_branches != "tcb")


def sgs_settings(c: SGSClipConfig) -> SGSSettings | None:
    return (
        SGSSettings(c.sgs_after, c.sgs_bins, c.sgs_embedding, c.sgs_kernel, c.sgs_similarity, c.sgs_similarity_grad)
        if c.sgs_after
        else None
    )


class HaraResNet(SGSClipClassifier):
    depth: ClassVar[int]
    cardinality: ClassVar[int] = 1
    stc: ClassVar[bool] = False

    def build_network(self, c: SGSClipConfig) -> nn.Module:
        return ResNet3D(
            self.depth,
            c.num_classes,
            c.frames,
            c.width,
            self.cardinality,
            c.shortcut,
            stc=stc_settings(c) if self.stc else None,
            sgs=sgs_settings(c),
        )


def _hara(name: str, depth: int, cardinality: int = 1, stc: bool = False) -> type[HaraResNet]:
    kind = ("STC-" if stc else "3D ") + ("ResNeXt" if cardinality > 1 else "ResNet")
    cls = type(
        name,
        (HaraResNet,),
        {"depth": depth, "cardinality": cardinality, "stc": stc, "__doc__": f"{kind}-{depth} (Table 4.1 layout)."},
    )
    return register(name)(cls)


for _depth in (10, 18, 34, 50, 101):
    _hara(f"resnet3d_{_depth}", _depth)
for _depth in (18, 50, 101):
    _hara(f"stc_resnet3d_{_depth}", _depth, stc=True)
_hara("resnext3d_101", 101, 32)
_hara("stc_resnext3d_101", 101, 32, stc=True)


@dataclass
class ATFRConfig(SGSClipConfig):
    """Table 6.12's defaults: 32 x 224 x 224 clips, width 8, SGS after res2 (stage 1) with B = 32 bins; without SGS:
    ``model.sgs_after=0``."""

    frames: int = 32
    size: int = 224
    width: int = 8
    sgs_after: int = 1


@register("atfr_resnet3d_18")
class ATFRResNet18(SGSClipClassifier):
    """The modified 3D ResNet-18 of Table 6.12 (`nn.networks.factorised_resnet3d`) with Similarity Guided Sampling."""

    Config = ATFRConfig

    def build_network(self, c: ATFRConfig) -> nn.Module:
        return FactorisedResNet3D(c.num_classes, c.width, sgs_settings(c))


@dataclass
class HATNetConfig(ClipConfig):
    """HATNet's view: 32 x 112 x 112 clips (the budget the thesis reports, 45.8 GFLOPs per view); ``stc`` puts STC
    blocks in the temporal branch."""

    frames: int = 32
    stc: bool = False
    max_pool: bool = False  # keep the stems' max-pools in both branches (cheaper; the thesis removes the 2D one)


@register("hatnet")
class HATNetClassifier(ClipClassifier):
    """HATNet (Sec. 5.3): 2D appearance and 3D temporal ResNet-18 branches with Merge & Reduction after every
    stage (`nn/networks/hatnet.py`)."""

    Config = HATNetConfig

    def build_network(self, c: HATNetConfig) -> nn.Module:
        return HATNet(c.num_classes, c.frames, c.width, stc_settings(c) if c.stc else None, c.max_pool)


class TorchvisionVideoResNet(ClipClassifier):
    """torchvision's video ResNets (R3D-18, MC3-18, R(2+1)D-18: ``stem``, ``layer1..4``, ``fc`` keys); fixed
    width 64."""

    network: ClassVar[str]  # the backbone of the same layout (`models/video/resnet3d.py`), by registered name

    def build_network(self, c: ClipConfig) -> nn.Module:
        if c.width != 64:
            raise ConfigError(f"{self.name} has torchvision's fixed width 64, got model.width {c.width}")
        return backbone_class(self.network)(c.num_classes)


for _net in ("r3d_18", "mc3_18", "r2plus1d_18"):
    register(f"tv_{_net}")(type(f"tv_{_net}", (TorchvisionVideoResNet,), {"network": _net, "__doc__": _net}))
