"""Feature extraction one frame at a time, for live streams: the features `extract` writes with ``causal`` (each
clip window ends at its frame, the first frame repeated before the video), computed as each frame arrives.

A per-frame backbone (EfficientNet-Lite0, torchvision ResNets) embeds the frame itself; a clip backbone (I3D, 3D
ResNets) embeds the window of the last ``window`` frames (`CausalWindow`), so its
features never wait for a later frame.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from actionline.engine.extractor import FeatureNetwork
from actionline.engine.run_record import ExtractionSettings
from actionline.models.backbone import Backbone


class CausalWindow:
    """The stack [window, H, W, 3] ending at each frame pushed; the first frame is repeated before the video."""

    def __init__(self, window: int):
        self.frames: deque[np.ndarray] = deque(maxlen=window)

    def push(self, frame: np.ndarray) -> np.ndarray:
        if not self.frames:
            self.frames.extend([frame] * (self.frames.maxlen - 1))
        self.frames.append(frame)
        return np.stack(self.frames)


class LiveFeatures:
    """``features(frame)``: the feature vector [D] of the next frame [H, W, 3] (resized and cropped as the backbone
    expects), equal to row ``t`` of `extract`'s causal features of the same frames."""

    def __init__(self, backbone: Backbone, settings: ExtractionSettings, device: torch.device):
        self.network = FeatureNetwork(backbone.eval(), device)  # the inference form `extract` runs
        self.window = CausalWindow(settings.window) if self.network.clip else None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if self.window is None:
            return self.network.frames(frame[None])[0]
        return self.network.windows(self.window.push(frame)[None])[0]
