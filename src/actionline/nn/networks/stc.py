"""The Spatio-Temporal Channel Correlation block (dissertation Sec. 4.2, Fig. 4.2): an SE-like channel gate with
two branches over a residual unit's output x [B, C, T, H, W].

- Temporal correlation branch (TCB): pool over T, H, W -> [B, C]; FC C -> C/r, ReLU, FC C/r -> C, sigmoid.
- Spatial correlation branch (SCB): pool over H, W only -> [B, C, T], flattened to [B, T*C]; FC T*C -> T*C/r, ReLU,
  FC T*C/r -> C, sigmoid. It is tied to the stage's temporal length T and rejects another.
- Output: 0.5 (s_tcb + s_scb) * x, one scale per channel broadcast over T, H, W.

The text writes no ReLU between the FCs; the SE convention (ReLU, biases) is used. Weights per block
(`stc_parameters`): TCB 2C²/r + C/r + C, SCB T·C²·(T+1)/r + T·C/r + C (the spec's closed forms plus the biases).
"""

from __future__ import annotations

import torch
from torch import nn

from actionline.errors import ConfigError


def _gate(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, cout), nn.Sigmoid())


def reduced(width: int, reduction: int) -> int:
    """The bottleneck width ``width / r`` (at least 1)."""
    return max(1, width // reduction)


def stc_parameters(channels: int, frames: int, reduction: int) -> tuple[int, int]:
    """(TCB, SCB) parameter counts of one block, weights and biases (the closed forms above)."""
    c, t = channels, frames
    hidden_t, hidden_s = reduced(c, reduction), reduced(t * c, reduction)
    return 2 * c * hidden_t + hidden_t + c, t * c * hidden_s + hidden_s * c + hidden_s + c


class STCBlock(nn.Module):
    """Channel gate 0.5 (s_tcb + s_scb) for ``channels`` channels at temporal length ``frames``; either branch can
    be switched off (Table 4.3's TCB-only / SCB-only ablations), the other then gates alone."""

    def __init__(self, channels: int, frames: int, reduction: int = 16, tcb: bool = True, scb: bool = True):
        super().__init__()
        if not (tcb or scb):
            raise ConfigError("an STC block needs at least one of its two branches")
        self.frames = frames
        self.tcb = _gate(channels, reduced(channels, reduction), channels) if tcb else None
        self.scb = _gate(frames * channels, reduced(frames * channels, reduction), channels) if scb else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape[:3]
        gates = []
        if self.tcb is not None:
            gates.append(self.tcb(x.mean(dim=(2, 3, 4))))
        if self.scb is not None:
            if t != self.frames:
                raise ConfigError(
                    f"this STC block's spatial branch was built for T = {self.frames} at its stage, got T = {t}: "
                    "build the model for the clip length it is given (model.frames)"
                )
            gates.append(self.scb(x.mean(dim=(3, 4)).transpose(1, 2).reshape(b, t * c)))
        scale = gates[0] if len(gates) == 1 else 0.5 * (gates[0] + gates[1])
        return x * scale.view(b, c, 1, 1, 1)
