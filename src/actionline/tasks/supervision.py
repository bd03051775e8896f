"""Which labels a model may learn from: ``full`` (dense frame labels), ``transcript`` (ordered segment labels,
MuCon), ``set`` (the distinct labels, SCT) or ``mixed:P`` (transcripts for all, dense labels for P% of the training
videos, chosen deterministically; dissertation Sec. 9.4.6).

Weak labels come from ``<data>/transcripts`` / ``<data>/sets`` files when present, otherwise they are derived from
the ground truth; either way a weakly labelled video's dense labels are hidden from the model (replaced by the
ignore index), so no loss can see them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from actionline.data.layout import SegmentationData
from actionline.data.weak_labels import action_set_of, read_weak_labels, transcript_of
from actionline.errors import ConfigError
from actionline.nn.losses.segmentation import IGNORE_INDEX

MODES = ("full", "transcript", "set", "mixed")


@dataclass
class Supervision:
    mode: str = "full"
    fraction: float = 0.0  # mixed: share of fully labelled training videos
    full_videos: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, spec: str) -> Supervision:
        """``full``, ``transcript``, ``set`` or ``mixed:P`` (P in percent)."""
        mode, _, arg = spec.partition(":")
        if mode not in MODES or (mode == "mixed") != bool(arg):
            raise ConfigError(f"--supervision must be one of full, transcript, set, mixed:P, got {spec!r}")
        fraction = 0.0
        if mode == "mixed":
            try:
                fraction = float(arg) / 100.0
            except ValueError:
                raise ConfigError(f"--supervision mixed:P needs a percentage, got {arg!r}") from None
            if not 0 <= fraction <= 1:
                raise ConfigError(f"--supervision mixed:P needs 0 <= P <= 100, got {arg}")
        return cls(mode, fraction)

    @property
    def weak(self) -> bool:
        return self.mode != "full"

    def choose_full(self, videos: Sequence[str], seed: int) -> None:
        """Mixed mode: flag round(P · N) (at least one when P > 0) videos as fully labelled, by a seeded hash."""
        if self.mode != "mixed":
            return
        n = round(self.fraction * len(videos))
        n = max(1, n) if self.fraction > 0 else 0
        order = sorted(videos, key=lambda v: hashlib.sha256(f"{seed}:{v}".encode()).hexdigest())
        self.full_videos = set(order[:n])

    def weak_targets(self, data: SegmentationData, video: str, labels: torch.Tensor) -> dict:
        """Extra batch items for ``video``; replaces ``labels`` by the ignore index unless the video is fully
        labelled."""
        dense = labels.numpy()
        out: dict = {}
        if self.mode in ("transcript", "mixed", "full"):  # a set-supervised model never sees the order
            out["transcript"] = torch.from_numpy(self._weak(data, "transcripts", video, dense, transcript_of))
        if self.mode in ("set", "full"):
            out["set"] = torch.from_numpy(self._weak(data, "sets", video, dense, action_set_of))
        full = self.mode == "full" or video in self.full_videos
        out["full"] = full
        if not full:
            out["labels"] = torch.full_like(labels, IGNORE_INDEX)
        return out

    @staticmethod
    def _weak(data: SegmentationData, kind: str, video: str, dense: np.ndarray, derive) -> np.ndarray:
        if (data.root / kind / f"{video}.txt").is_file():
            return read_weak_labels(data, kind, video)
        return derive(dense).astype(np.int64)
