"""2D -> 3D knowledge transfer by image-clip correspondence (dissertation Sec. 4.3, Fig. 4.3), without labels.

A frozen 2D ImageNet network (the teacher) sees the T frames of a moment one by one; its features are averaged and
projected (a trainable projection, 1024-d). The student, a randomly initialised 3D network (any clip classifier of
this package: 3D ResNet, STC-ResNet, ...), sees a clip and is projected to 1024-d as well. The head decides whether
frames and clip come from the same moment of the same video (positive) or from different videos (negative, 1:1):
concat 2048 -> fc 512 -> fc 128 -> 2, cross-entropy. Only the student, the projections and the head train; the
teacher stays bit-identical (no gradient, and batch-norm statistics frozen: it is always in eval mode). Afterwards
the student (``student.*``) starts a fine-tuning run: ``train --set model.init=<this run>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from actionline.errors import ConfigError
from actionline.models.backbone import scale_pixels
from actionline.models.base import ModelConfig, TemporalModel
from actionline.models.registry import backbone_class, build_model, register
from actionline.nn.weights.state_dict import read_weights
from actionline.timeline import Segment, Timeline


@dataclass
class TransferConfig(ModelConfig):
    """The student (a registered clip classifier and its settings), the teacher (a registered 2D backbone; its
    weights: None = the packaged ImageNet weights, else a file), the widths of Fig. 4.3."""

    input_dim: int = 3
    num_classes: int = 2
    student: str = "stc_resnet3d_18"
    frames: int = 16  # the student's clip (and the teacher's frames: the same moment)
    size: int = 112
    width: int = 64
    student_settings: dict[str, Any] = field(default_factory=dict)  # any other student setting
    teacher: str = "efficientnet_lite0"
    teacher_weights: str | None = None
    teacher_width: int | None = None  # torchvision-layout ResNet teachers narrower than 64 (small experiments)
    embedding: int = 1024
    head: tuple[int, int] = (512, 128)

    def validate(self) -> None:
        super().validate()
        if self.num_classes != 2:
            raise ConfigError("correspondence pre-training is a two-way task (num_classes 2)")


@register("transfer")
class CorrespondenceModel(TemporalModel):
    task: ClassVar[str] = "transfer"
    Config = TransferConfig

    def __init__(self, config: TransferConfig):
        super().__init__(config)
        clip = {"frames": config.frames, "size": config.size, "width": config.width}
        student = build_model(config.student, {**config.student_settings, **clip, "num_classes": 2})
        if student.task != "classification":
            raise ConfigError(f"model.student must be a clip classifier, got {config.student!r} ({student.task})")
        self.student_config = student.config
        self.student = student.net
        self.student.fc = nn.Identity()  # replaced by the projection; a fine-tuning run gets a new classifier
        self.teacher, teacher_dim = self._teacher(config)
        self.teacher_proj = nn.Linear(teacher_dim, config.embedding)
        self.student_proj = nn.Linear(self.student.feature_dim, config.embedding)
        h1, h2 = config.head
        self.head = nn.Sequential(
            nn.Linear(2 * config.embedding, h1),
            nn.ReLU(inplace=True),
            nn.Linear(h1, h2),
            nn.ReLU(inplace=True),
            nn.Linear(h2, 2),
        )

    @staticmethod
    def _teacher(c: TransferConfig) -> tuple[nn.Module, int]:
        cls = backbone_class(c.teacher)
        if cls.input.frames != 1:
            raise ConfigError(f"the teacher must be a 2D (per-frame) network, {c.teacher} takes clips")
        state = read_weights(c.teacher_weights) if c.teacher_weights else None
        options = {"width": c.teacher_width} if c.teacher_width else {}
        if state is not None and "fc.weight" in state:
            options["num_classes"] = int(state["fc.weight"].shape[0])  # the teacher keeps its own (unused) classifier
        teacher = cls(**options)
        if state is not None:
            teacher.load_state(state, c.teacher_weights)
        elif (packaged := teacher.default_weights()) is not None:
            teacher.load_weights(packaged)
        else:
            raise ConfigError(f"teacher {c.teacher} has no packaged weights: set model.teacher_weights")
        teacher.requires_grad_(False)
        return teacher.eval(), getattr(teacher, "width_dim", cls.feature_dim)

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()  # frozen, batch-norm statistics included
        return self

    def example_inputs(self, length: int):
        s = self.student_config
        return torch.randn(1, 3, s.frames, s.size, s.size), torch.ones(1)

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The student's 1024-d projection of clips [B, 3, T, S, S]."""
        return {"student": self.student_proj(self.student.features(features))}

    @torch.no_grad()
    def teacher_embedding(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames [B, F, 3, S, S] one by one through the teacher (scaled as it expects), features averaged."""
        b, f = frames.shape[:2]
        x = scale_pixels(frames.flatten(0, 1), self.teacher.input.scaling)
        return self.teacher.features(x).view(b, f, -1).mean(dim=1)

    def logits(self, outputs: dict[str, torch.Tensor], frames: torch.Tensor) -> torch.Tensor:
        teacher = self.teacher_proj(self.teacher_embedding(frames))
        return self.head(torch.cat([teacher, outputs["student"]], dim=1))

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        ce = F.cross_entropy(self.logits(outputs, targets["frames"]), targets["labels"])
        return {"ce": ce, "total": ce}

    def decode_video(self, outputs, b, n, video, classes, targets) -> Timeline:
        """Whether pair ``b`` corresponds (needs the teacher frames in ``targets``)."""
        if targets is None or "frames" not in targets:
            raise ConfigError("decoding a correspondence needs the teacher frames (targets['frames'])")
        probs = torch.softmax(self.logits(outputs, targets["frames"]), dim=1)[b]
        return Timeline(video, 1, [Segment(0, 1, classes[int(probs.argmax())], float(probs.max()))])
