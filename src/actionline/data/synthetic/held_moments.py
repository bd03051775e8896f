"""Clips whose redundancy varies (dissertation ch. 6 on a CPU; issue 39): a shape visits K distinct positions on a
straight path, holding each for a random number of frames (a random split of the T frames into K runs), so a clip
has K distinct moments and redundancy 1 - K / T; K is drawn per clip from 2..T.

Two label sets:
- ``content`` (what Similarity Guided Sampling should keep: it merges similar moments and orders them by similarity,
  not time): the shape (disc, square) x the path's axis (horizontal, vertical), 4 classes; the direction along the
  path is random, so time order carries no label;
- ``order`` (the declared control, which order loss must break): the direction of a horizontal path (left to right,
  right to left), 2 classes; a time-reversed clip has the other label.

Every frame has its own noise, so held frames are alike but not identical. `retimed` gives the same moments with
other hold lengths (for the invariance to frame duplication).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from actionline.data.synthetic.features import require_settings
from actionline.errors import DataError

Task = Literal["content", "order"]
CLASSES = {"content": ("disc_horizontal", "disc_vertical", "square_horizontal", "square_vertical"),
           "order": ("left_to_right", "right_to_left")}  # fmt: skip


@dataclass
class HeldMoments:
    """Clips [N, T, S, S, 3] uint8, labels [N], distinct moments K [N] and each frame's moment [N, T]."""

    clips: np.ndarray
    labels: np.ndarray
    moments: np.ndarray
    moment_of_frame: np.ndarray

    @property
    def redundancy(self) -> np.ndarray:
        return 1 - self.moments / self.clips.shape[1]


def hold_lengths(frames: int, moments: int, rng: np.random.Generator) -> np.ndarray:
    """A random split of ``frames`` into ``moments`` runs of at least one frame: each frame's moment [frames]."""
    cuts = np.sort(rng.choice(np.arange(1, frames), size=moments - 1, replace=False))
    return np.searchsorted(cuts, np.arange(frames), side="right")


def held_moments(n: int, *, task: Task = "content", frames: int = 32, size: int = 24, seed: int = 0) -> HeldMoments:
    """``n`` clips of ``task``'s classes (balanced in expectation), seeded."""
    require_settings(n=(n, 1), frames=(frames, 2), size=(size, 16))
    if task not in CLASSES:
        raise DataError(f"task must be one of {', '.join(CLASSES)}, got {task!r}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    clips = np.empty((n, frames, size, size, 3), dtype=np.uint8)
    labels = rng.integers(0, len(CLASSES[task]), n)
    moments = rng.integers(2, frames + 1, n)
    moment_of_frame = np.empty((n, frames), dtype=np.int64)
    for i in range(n):
        if task == "content":
            square, vertical, forward = labels[i] >= 2, labels[i] % 2 == 1, rng.random() < 0.5
        else:
            square, vertical, forward = rng.random() < 0.5, False, labels[i] == 0
        moment_of_frame[i] = hold_lengths(frames, int(moments[i]), rng)
        along = np.linspace(0.2, 0.8, moments[i])[moment_of_frame[i]]
        along = along if forward else 1 - along
        across = np.full(frames, rng.uniform(0.3, 0.7))
        cx, cy = (across, along) if vertical else (along, across)
        dx, dy = xx[None] - cx[:, None, None], yy[None] - cy[:, None, None]
        r = rng.uniform(0.12, 0.17)
        shape = (np.abs(dx) < r * 0.85) & (np.abs(dy) < r * 0.85) if square else dx**2 + dy**2 < r * r
        img = np.full((frames, size, size, 3), rng.uniform(40, 160), dtype=np.float32)
        img += rng.normal(0, 6, img.shape).astype(np.float32)
        img[shape] = rng.uniform(170, 255, 3)
        clips[i] = np.clip(img, 0, 255).astype(np.uint8)
    return HeldMoments(clips, labels, moments, moment_of_frame)


def retimed(data: HeldMoments, seed: int) -> np.ndarray:
    """The clips with the same moments in the same order, each held for new random lengths (a frame of a moment
    repeated or dropped): [N, T, S, S, 3]."""
    rng = np.random.default_rng(seed)
    n, frames = data.moment_of_frame.shape
    out = np.empty_like(data.clips)
    for i in range(n):
        first = np.searchsorted(data.moment_of_frame[i], np.arange(data.moments[i]))  # each moment's first frame
        out[i] = data.clips[i][first[hold_lengths(frames, int(data.moments[i]), rng)]]
    return out
