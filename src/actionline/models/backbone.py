"""The video backbone contract: a frozen network that turns decoded frames into feature vectors.

A backbone declares its input (frames per window, the shorter-side resize, the crop, how pixels are scaled) and its
feature size, and loads the checkpoint layouts people already hold (`load_weights`, strict, naming missing /
unexpected / mis-shaped keys). Backbones are registered by name (`actionline.models.registry.BACKBONES`), like
models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch
from torch import nn

from actionline.errors import CheckpointError
from actionline.nn.weights.state_dict import fit_problems, read_weights

Scaling = Literal["imagenet", "kinetics", "minus_one_one", "unit"]
MEAN_STD = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "kinetics": ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)),  # torchvision's video models
}


@dataclass(frozen=True)
class BackboneInput:
    """What a backbone expects: ``frames`` per window (1: a 2D network applied frame by frame), frames whose
    shorter side is resized to ``short_side`` and centre-cropped to ``size``, pixels scaled by ``scaling``
    (``imagenet`` / ``kinetics``: mean/std normalisation of [0, 1] values; ``minus_one_one``: [-1, 1]; ``unit``:
    [0, 1])."""

    frames: int
    size: int
    short_side: int
    scaling: Scaling
    channels: int = 3


def scale_pixels(frames: torch.Tensor, scaling: Scaling, out: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 frames [B, C, H, W] or [B, C, T, H, W] -> float32 as the backbone expects (channels on axis 1), written
    into ``out`` when given (float32 of the frames' shape, any layout: no new memory). One conversion, then the
    scaling in place: the same operations in the same order as out of place, so the same values bit for bit."""
    x = frames.to(torch.float32, copy=True) if out is None else out.copy_(frames)
    x.div_(255.0)
    if scaling == "minus_one_one":
        return x.mul_(2).sub_(1)
    if scaling in MEAN_STD:
        shape = (1, 3) + (1,) * (x.ndim - 2)
        mean, std = (torch.tensor(v, dtype=x.dtype, device=x.device).view(shape) for v in MEAN_STD[scaling])
        return x.sub_(mean).div_(std)
    return x


class Backbone(nn.Module):
    """Base of feature extractors. ``features(x)`` maps a batch of scaled inputs to [B, feature_dim]:
    [B, C, H, W] for per-frame networks (``input.frames == 1``), [B, C, T, H, W] for clip networks."""

    name: ClassVar[str]
    input: ClassVar[BackboneInput]
    feature_dim: ClassVar[int]
    pretrained: ClassVar[str | None] = None  # a description of weights that ship with a package, if any
    # a clip backbone whose ``features`` keep output positions [B, D, T']: (frames between positions, the frame at
    # the centre of position 0's receptive field) for inputs of a multiple of that many frames; None: pooled output
    positions: ClassVar[tuple[int, int] | None] = None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def default_weights(self) -> Path | None:
        """Weights available without a download (a packaged checkpoint), else None."""
        return None

    def remap(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Rename a foreign checkpoint's keys to this module's (default: unchanged)."""
        return state

    def load_weights(self, path: str | Path) -> None:
        """Load a weights file strictly (`nn.weights.state_dict.read_weights`: torch files with ``weights_only=True`` or
        safetensors); missing, unexpected and mis-shaped keys are named in the error."""
        self.load_state(read_weights(path), path)

    def load_state(self, state: dict[str, torch.Tensor], where: str | Path) -> None:
        """Load a state dict already read (its keys renamed by `remap`), strictly."""
        state = self.remap(state)
        problems = fit_problems(self.state_dict(), state)
        if problems:
            raise CheckpointError(f"{where}: weights do not fit backbone {self.name!r}: {'; '.join(problems)}")
        self.load_state_dict(state, strict=False)  # num_batches_tracked may be absent (PyTorch 0.3 checkpoints)
