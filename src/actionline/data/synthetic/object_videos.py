"""In-memory videos for the 2D -> 3D transfer experiment (dissertation Sec. 4.3, Fig. 4.2, Table 4.7), sized for a
CPU: one object of four identities (disc or cross, red or blue: neither shape nor colour alone names it) moves
rightward or leftward over a textured background (two coloured gratings of random frequency and phase).

- `object_frames`: single frames labelled with the identity (the 2D teacher's frame task);
- `unlabelled_videos`: videos in groups that share one background, each group's videos showing distinct
  identities, so that a negative pair drawn from the same group (`negative_partners`) matches in background and
  differs in content: the correspondence pretext task cannot be solved from the background;
- `labelled_videos`: videos whose class is identity x motion (8 classes), so a label needs both what the teacher
  knows (identity) and what only a clip shows (the direction of motion)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actionline.data.synthetic.distractor_clips import CHUNK
from actionline.data.synthetic.features import require_settings
from actionline.errors import DataError

IDENTITIES = ("red_disc", "blue_disc", "red_cross", "blue_cross")
MOTIONS = ("rightward", "leftward")
COLOURS = {"red": (225.0, 35.0, 35.0), "blue": (35.0, 60.0, 225.0)}
RADIUS = 0.14
TRAVEL = 0.45  # the distance (frame widths) an object moves over a video


@dataclass
class ObjectVideos:
    """Videos uint8 [n, T, S, S, 3] and per video its background index, identity and motion."""

    videos: np.ndarray
    background: np.ndarray
    identity: np.ndarray
    motion: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        """The class identity x motion: ``identity * len(MOTIONS) + motion``."""
        return self.identity * len(MOTIONS) + self.motion


def backgrounds(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` textured backgrounds float32 [n, S, S, 3]: a mid-grey base and two coloured sinusoidal gratings."""
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    out = np.broadcast_to(rng.uniform(90, 160, (n, 1, 1, 3)).astype(np.float32), (n, size, size, 3)).copy()
    for _ in range(2):
        freq = rng.uniform(1, 4, (n, 2)) * rng.choice([-1, 1], (n, 2))
        phase = rng.uniform(0, 2 * np.pi, n)
        wave = np.sin(
            2 * np.pi * (freq[:, 0, None, None] * grid[None, None, :] + freq[:, 1, None, None] * grid[None, :, None])
            + phase[:, None, None]
        )
        out += (wave[..., None] * rng.uniform(-35, 35, (n, 1, 1, 3))).astype(np.float32)
    return out


def paint_objects(canvas: np.ndarray, identity: np.ndarray, centres: np.ndarray) -> None:
    """Paint object ``identity`` [n] at ``centres`` [n, T, 2] (x, y in [0, 1]) into ``canvas`` [n, T, S, S, 3]."""
    size = canvas.shape[2]
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    dx = np.abs(grid[None, None, None, :] - centres[:, :, 0, None, None])
    dy = np.abs(grid[None, None, :, None] - centres[:, :, 1, None, None])
    cross = (identity >= 2)[:, None, None, None]
    arm = RADIUS / 3
    plus = ((dx < RADIUS) & (dy < arm)) | ((dx < arm) & (dy < RADIUS))
    inside = np.where(cross, plus, dx * dx + dy * dy < RADIUS * RADIUS)
    colour = np.array([COLOURS["red"], COLOURS["blue"]], np.float32)[identity % 2]
    np.copyto(canvas, colour[:, None, None, None, :], where=inside[..., None])


def render(scenes: np.ndarray, identity: np.ndarray, motion: np.ndarray, frames: int, rng, noise: float):
    """Videos uint8 [n, frames, S, S, 3]: the object moving on background ``scenes`` [n, S, S, 3]."""
    n, size = len(identity), scenes.shape[1]
    margin = RADIUS + 0.02
    direction = np.where(motion == 0, 1.0, -1.0)
    x0 = rng.uniform(margin, 1 - margin - TRAVEL, n) + np.where(direction > 0, 0.0, TRAVEL)
    y = rng.uniform(margin, 1 - margin, n)
    progress = np.linspace(0.0, TRAVEL, frames) if frames > 1 else np.zeros(1)
    x = x0[:, None] + direction[:, None] * progress[None, :]
    centres = np.stack([x, np.broadcast_to(y[:, None], x.shape)], axis=2).astype(np.float32)
    canvas = np.broadcast_to(scenes[:, None], (n, frames, size, size, 3)).copy()
    paint_objects(canvas, identity, centres)
    canvas += rng.normal(0, noise, canvas.shape).astype(np.float32)
    return np.clip(canvas, 0, 255).round().astype(np.uint8)


def _videos(scene_of: np.ndarray, identity: np.ndarray, motion: np.ndarray, frames, size, noise, rng) -> np.ndarray:
    scenes_all = backgrounds(int(scene_of.max()) + 1, size, rng)
    out = np.empty((len(identity), frames, size, size, 3), np.uint8)
    for lo in range(0, len(identity), CHUNK):
        sl = slice(lo, lo + CHUNK)
        out[sl] = render(scenes_all[scene_of[sl]], identity[sl], motion[sl], frames, rng, noise)
    return out


def object_frames(n: int, *, size: int = 32, noise: float = 10.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` single frames uint8 [n, S, S, 3] (each on its own background, the object anywhere) and identities."""
    require_settings(n=(n, 1), size=(size, 8))
    rng = np.random.default_rng(seed)
    identity = np.arange(n) % len(IDENTITIES)
    videos = _videos(np.arange(n), identity, rng.integers(0, len(MOTIONS), n), 1, size, noise, rng)
    return videos[:, 0], identity


def unlabelled_videos(
    groups: int, per_group: int = 3, *, frames: int = 16, size: int = 32, noise: float = 10.0, seed: int = 0
) -> ObjectVideos:
    """``groups`` backgrounds with ``per_group`` videos each, of distinct identities within a group, random motion."""
    require_settings(groups=(groups, 1), per_group=(per_group, 2), frames=(frames, 2), size=(size, 8))
    if per_group > len(IDENTITIES):
        raise DataError(f"--per-group must be at most {len(IDENTITIES)} (distinct identities per background)")
    rng = np.random.default_rng(seed)
    identity = np.argsort(rng.random((groups, len(IDENTITIES))), axis=1)[:, :per_group].reshape(-1)
    scene_of = np.repeat(np.arange(groups), per_group)
    motion = rng.integers(0, len(MOTIONS), groups * per_group)
    return ObjectVideos(_videos(scene_of, identity, motion, frames, size, noise, rng), scene_of, identity, motion)


def negative_partners(videos: ObjectVideos, rng: np.random.Generator) -> np.ndarray:
    """For each video another one on the same background (hence another identity): the negatives' clips."""
    partner = np.empty(len(videos.background), np.int64)
    for group in np.unique(videos.background):
        members = np.flatnonzero(videos.background == group)
        shift = rng.integers(1, len(members), len(members))  # never 0: never the video itself
        partner[members] = members[(np.arange(len(members)) + shift) % len(members)]
    return partner


def labelled_videos(
    per_class: int, *, frames: int = 16, size: int = 32, noise: float = 10.0, seed: int = 0
) -> ObjectVideos:
    """``per_class`` videos of each identity x motion class, each on its own background."""
    require_settings(per_class=(per_class, 1), frames=(frames, 2), size=(size, 8))
    rng = np.random.default_rng(seed)
    classes = np.arange(per_class * len(IDENTITIES) * len(MOTIONS)) % (len(IDENTITIES) * len(MOTIONS))
    identity, motion = classes // len(MOTIONS), classes % len(MOTIONS)
    scene_of = np.arange(len(classes))
    return ObjectVideos(_videos(scene_of, identity, motion, frames, size, noise, rng), scene_of, identity, motion)
