"""MuCon: weakly supervised action segmentation from transcripts by mutual consistency (Souri, Fayyaz, Minciullo,
Francesca & Gall; dissertation Ch. 9; implementation notes in specs/weak-supervision-sct-mucon.md §2).

Read top to bottom:

1. **Temporal backbone** f_t (§2.1): Conv1x1 D -> 128, 11 TCBs (dilation 2^i), max-pool after layers 1, 2, 4, 8,
   then ReLU, Conv1x1, GroupNorm(32), ReLU, Dropout -> Z at T/16.
2. **Frame classification branch** f_c (§2.2): Z nearest-upsampled to T, Conv1x1 -> frame logits Y [N, T].
3. **Segment generation branch** f_s (§2.3): a BiLSTM encoder over Z and an LSTM decoder with additive attention
   emitting, per step, the next action (N + 1 outputs, EOS included) and its relative log-length; teacher forcing
   on the training transcript (SOS, a_1..a_M) -> M + 1 steps, the EOS step's length dropped.
4. **Mask generation** (§2.4): lengths ``T softmax(l)`` -> one template mask per segment
   (`actionline.nn.temporal.sampling`, box by default).
5. **Losses** (§2.5, `actionline.nn.losses.weak`): mutual consistency L_mu + transcript L_t + 0.1 length
   regulariser + 0.1 MS-TCN smoothing; fully labelled videos add frame-wise CE and the MSE between predicted and
   true relative lengths (fully supervised and mixed modes).
6. **Inference** (§2.7, ``inference``): ``y`` = argmax of Y (MuCon-Y); ``s`` = greedy decoding, frames from the
   predicted lengths (MuCon-S); ``full`` = the predicted transcript re-aligned to Y by Viterbi with a Poisson
   length model whose rate per class is the mean predicted length of that class (MuCon-full); ``align`` = the same
   Viterbi on the given (ground-truth) transcript with teacher-forced lengths (the alignment task).

The decoder runs in `loss` and `decode` (it needs the transcript during training); `forward` returns the frame
logits and the backbone output Z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from actionline.errors import ConfigError
from actionline.models.base import ModelConfig, SegmentationModel
from actionline.models.registry import register
from actionline.nn.decoding.viterbi import covering_max_length, viterbi_align
from actionline.nn.losses.segmentation import IGNORE_INDEX, smoothing_loss
from actionline.nn.losses.weak import length_regulariser, mutual_consistency_loss, transcript_loss
from actionline.nn.temporal.sampling import Template, absolute_lengths, template_masks
from actionline.nn.temporal.tcb import TemporalBackbone
from actionline.timeline import Timeline, transcript_of


@dataclass
class MuConConfig(ModelConfig):
    input_dim: int = 2048
    num_classes: int = 48
    channels: int = 128
    layers: int = 11
    pool_after: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    dropout: float = 0.25
    template: Template = "box"
    overlap: float = 0.0
    length_weight: float = 0.1
    smooth_weight: float = 0.1
    length_bound: float = 2.0
    inference: Literal["y", "s", "full", "align"] = "full"
    max_steps: int = 31  # greedy decoding (Breakfast)
    viterbi_step: int = 30
    max_segment: int = 2000

    def validate(self) -> None:
        super().validate()
        if self.channels % 32:
            raise ConfigError("model.channels must be a multiple of 32 (GroupNorm with 32 groups)")


class SegmentDecoder(nn.Module):
    """f_s: BiLSTM encoder + attentive LSTM decoder producing (action logits, relative log-length) per step."""

    def __init__(self, channels: int, num_classes: int, dropout: float):
        super().__init__()
        n = num_classes
        self.eos, self.sos = n, n + 1
        self.encoder = nn.LSTM(channels, channels, batch_first=True, bidirectional=True)
        self.init_h = nn.Linear(2 * channels, channels)
        self.init_c = nn.Linear(2 * channels, channels)
        self.key = nn.Parameter(torch.randn(2 * channels, channels) / math.sqrt(2 * channels))
        self.query = nn.Linear(channels, channels)
        self.score = nn.Parameter(torch.randn(channels) / math.sqrt(channels))
        self.embedding = nn.Embedding(n + 2, channels)
        self.dropout = nn.Dropout(dropout)
        self.combine = nn.Linear(channels + 2 * channels, channels)
        self.cell = nn.LSTMCell(channels, channels)
        self.action = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(), nn.Linear(channels, n + 1))
        self.length = nn.Sequential(nn.ReLU(), nn.Linear(channels + n + 1, 64), nn.ReLU(), nn.Linear(64, 1))

    def encode(self, z: torch.Tensor):
        """z [C, T'] -> (H_enc [T', 2C], keys [T', C], initial state)."""
        h_enc, (h, c) = self.encoder(z.T[None])
        h_enc = h_enc[0]
        final = torch.cat([h[0, 0], h[1, 0]])[None]
        final_c = torch.cat([c[0, 0], c[1, 0]])[None]
        return h_enc, h_enc @ self.key, (self.init_h(final), self.init_c(final_c))

    def step(self, token: torch.Tensor, state, h_enc: torch.Tensor, keys: torch.Tensor):
        e = self.dropout(F.relu(self.embedding(token)))  # [1, C]
        alpha = torch.softmax(torch.tanh(keys + self.query(state[0])) @ self.score, dim=0)  # [T']
        context = (alpha @ h_enc)[None]
        u = F.relu(self.combine(torch.cat([e, context], dim=1)))
        h, c = self.cell(u, state)
        z = self.action(h)
        length = self.length(torch.cat([u, z], dim=1))
        return z[0], length[0, 0], (h, c)

    def teacher_forced(self, z: torch.Tensor, transcript: torch.Tensor):
        """Step logits [M+1, N+1] and relative log-lengths [M] for the given transcript [M]."""
        h_enc, keys, state = self.encode(z)
        inputs = torch.cat([torch.tensor([self.sos], device=z.device), transcript])
        logits, lengths = [], []
        for token in inputs:
            out, length, state = self.step(token[None], state, h_enc, keys)
            logits.append(out)
            lengths.append(length)
        return torch.stack(logits), torch.stack(lengths[:-1])

    def greedy(self, z: torch.Tensor, max_steps: int) -> tuple[list[int], torch.Tensor]:
        """Decode without teacher forcing until EOS (or ``max_steps``): transcript and relative log-lengths."""
        h_enc, keys, state = self.encode(z)
        token = torch.tensor([self.sos], device=z.device)
        actions, lengths = [], []
        for _ in range(max_steps):
            out, length, state = self.step(token, state, h_enc, keys)
            best = int(out.argmax())
            if best == self.eos:
                break
            actions.append(best)
            lengths.append(length)
            token = torch.tensor([best], device=z.device)
        return actions, torch.stack(lengths) if lengths else torch.zeros(0, device=z.device)


@register("mucon")
class MuCon(SegmentationModel):
    Config = MuConConfig
    supervisions = ("transcript", "full", "mixed")
    inference_settings = frozenset({"inference", "max_steps", "viterbi_step", "max_segment"})

    def __init__(self, config: MuConConfig):
        super().__init__(config)
        c = config
        self.backbone = TemporalBackbone(c.input_dim, c.channels, c.layers, c.pool_after, 0.0, c.dropout)
        self.post = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(c.channels, c.channels, 1),
            nn.GroupNorm(32, c.channels),
            nn.ReLU(),
            nn.Dropout(c.dropout),
        )
        self.frame_head = nn.Conv1d(c.channels, c.num_classes, 1)
        self.decoder = SegmentDecoder(c.channels, c.num_classes, c.dropout)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        z, _ = self.backbone(features)
        z = self.post(z)
        up = F.interpolate(z, size=features.shape[-1], mode="nearest")
        logits = self.frame_head(up) * mask[:, None, :].to(z.dtype)
        return {"logits": logits[None], "z": z}

    def _z(self, outputs: dict[str, torch.Tensor], b: int, length: int) -> torch.Tensor:
        keep = max(1, math.ceil(length * outputs["z"].shape[-1] / outputs["logits"].shape[-1]))
        return outputs["z"][b, :, :keep]

    # --- training -------------------------------------------------------------------------------------------
    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c = self.config
        mask = targets["mask"]
        sums: dict[str, torch.Tensor] = {}
        B = mask.shape[0]
        for b in range(B):
            n = int(mask[b].sum())
            y = outputs["logits"][-1, b, :, :n]  # [N, T]
            transcript = targets["transcript"][b]
            transcript = transcript[transcript >= 0]
            step_logits, rel = self.decoder.teacher_forced(self._z(outputs, b, n), transcript)
            lengths = absolute_lengths(rel, n)
            masks = template_masks(rel, n, c.template, c.overlap)
            eos = torch.tensor([c.num_classes], device=transcript.device)
            terms = {
                "mu": mutual_consistency_loss(y.T, masks, lengths, transcript),
                "transcript": transcript_loss(step_logits, torch.cat([transcript, eos])),
                "length": length_regulariser(rel, c.length_bound),
                "smooth": smoothing_loss(y[None], mask[b : b + 1, :n]),
            }
            if bool(targets.get("full", torch.zeros(B, dtype=torch.bool))[b]):
                labels = targets["labels"][b, :n]
                terms["frame_ce"] = F.cross_entropy(y.T, labels, ignore_index=IGNORE_INDEX)
                change = torch.nonzero(labels[1:] != labels[:-1]).flatten() + 1
                edges = torch.cat(
                    [torch.tensor([0], device=labels.device), change, torch.tensor([n], device=labels.device)]
                )
                true_rel = torch.diff(edges).to(y.dtype) / n
                if len(true_rel) == len(rel):
                    terms["frame_lengths"] = F.mse_loss(torch.softmax(rel, 0), true_rel)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v / B
        total = sums["mu"] + sums["transcript"] + c.length_weight * sums["length"] + c.smooth_weight * sums["smooth"]
        total = total + sums.get("frame_ce", 0.0) + sums.get("frame_lengths", 0.0)
        return {**sums, "total": total}

    # --- inference ------------------------------------------------------------------------------------------
    def _viterbi(self, y: torch.Tensor, transcript: list[int], lengths: np.ndarray) -> np.ndarray:
        """Align ``transcript`` to frame logits y [N, T] with per-class Poisson rates = mean predicted lengths.

        The maximum segment length is widened to ``ceil(T / M)`` when a predicted transcript is too short to cover
        the video otherwise (e.g. one segment over a long video), so every prediction gets an alignment."""
        c = self.config
        n = y.shape[1]
        transcript = transcript[: max(1, n // max(c.viterbi_step, 1))]
        lengths = lengths[: len(transcript)]
        rates = np.array([lengths[[i for i, a in enumerate(transcript) if a == cls]].mean() for cls in transcript])
        log_probs = torch.log_softmax(y.float(), dim=0).T.cpu().numpy()
        longest = covering_max_length(c.max_segment, n, len(transcript), c.viterbi_step)
        return viterbi_align(log_probs, np.array(transcript), rates, c.viterbi_step, longest)

    @torch.no_grad()
    def segment_labels(
        self, outputs: dict[str, torch.Tensor], b: int, n: int, given: np.ndarray | None = None
    ) -> np.ndarray:
        """Frame labels [n] of video ``b`` with the configured inference variant."""
        c = self.config
        y = outputs["logits"][-1, b, :, :n]
        if c.inference == "y":
            return y.argmax(dim=0).cpu().numpy()
        z = self._z(outputs, b, n)
        if c.inference == "align":
            if given is None:
                raise ConfigError("model.inference=align needs the video's transcript (ground truth)")
            _, rel = self.decoder.teacher_forced(z, torch.as_tensor(given, device=z.device))
            transcript = [int(a) for a in given]
        else:
            transcript, rel = self.decoder.greedy(z, c.max_steps)
        if not transcript:
            return y.argmax(dim=0).cpu().numpy()
        lengths = absolute_lengths(rel, n).cpu().numpy()
        if c.inference in ("full", "align"):
            return self._viterbi(y, transcript, lengths)
        counts = np.round(lengths).astype(np.int64)
        labels = np.repeat(transcript, np.maximum(counts, 0))
        if len(labels) == 0:
            return y.argmax(dim=0).cpu().numpy()
        return labels[np.minimum((np.arange(n) * len(labels)) // n, len(labels) - 1)]  # nearest resize to n

    def decode_video(self, outputs, b, n, video, classes, targets) -> Timeline:
        """The configured inference variant; ``align`` takes the transcript from ``targets["labels"]``."""
        given = None
        if targets is not None and "labels" in targets:
            labels = targets["labels"][b, :n].cpu().numpy()
            given = transcript_of(labels[labels != IGNORE_INDEX]) if (labels != IGNORE_INDEX).any() else None
        return Timeline.from_labels(video, self.segment_labels(outputs, b, n, given), classes)
