"""A seeded synthetic clip-classification set written as real MP4 files (dissertation ch. 4 on a CPU), where the
classes come in pairs that no single frame tells apart, so temporal modelling matters:

- direction: ``moves_up`` / ``moves_down`` (a shape crossing the frame vertically);
- speed: ``drifts_slowly`` / ``drifts_fast`` (a shape moving right at 0.2 or 0.7 frame widths per second, wrapping);
- order: ``red_then_blue`` / ``blue_then_red`` (a still shape that changes colour once, at 35-65 % of the clip).

Appearance misleads: every class draws its shape (disc or square), size, colours (the moving shapes take red and
blue too), background grey level and noise at random, so a frame-wise model is at chance within each pair.
A second kind, ``redundancy`` (the SGS experiments, dissertation ch. 6), varies how much of a clip repeats itself:
a shape steps ``up`` / ``down`` / ``left`` / ``right`` through K distinct positions (K from 2 to 12), each held still
for a random stretch of the clip, so the clip has exactly K distinct moments (plus sensor noise); the CSVs then carry
a ``moments`` column with K.

Written in the Kinetics-style CSV layout: ``videos/<class>/<id>.mp4``, ``train.csv``, ``test.csv`` (``path,label``
and for ``redundancy`` ``moments``), ``classes.txt``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from actionline.data.synthetic.features import require_positive, require_settings
from actionline.data.synthetic.video import write_video
from actionline.errors import DataError
from actionline.io import atomic_write_text

CLASSES = ("moves_up", "moves_down", "drifts_slowly", "drifts_fast", "red_then_blue", "blue_then_red")
STEP_CLASSES = ("steps_up", "steps_down", "steps_left", "steps_right")
Kind = Literal["motion", "redundancy"]
RED, BLUE = (220, 40, 40), (40, 70, 220)
PALETTE = (RED, BLUE, (40, 190, 70), (230, 210, 40), (200, 80, 200))


def _shape_mask(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, r: float, square: bool) -> np.ndarray:
    if square:
        return (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r)
    return (xx - cx) ** 2 + (yy - cy) ** 2 < r * r


def render_clip(label: int, frames: int, fps: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Frames [frames, size, size, 3] uint8 of one clip of class ``label``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    grey = rng.uniform(60, 160)
    out = np.clip(grey + rng.normal(0, 8, (frames, size, size, 1)), 0, 255).repeat(3, axis=3).astype(np.uint8)
    r, square = rng.uniform(0.08, 0.16), bool(rng.integers(2))
    colour = PALETTE[rng.integers(len(PALETTE))]
    x0, y0 = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
    switch = rng.uniform(0.35, 0.65) * frames
    t = np.arange(frames) / fps
    duration = frames / fps
    for i in range(frames):
        cx, cy, c = x0, y0, colour
        if label in (0, 1):  # cross the frame vertically over the clip
            progress = t[i] / duration
            cy = 0.9 - 0.8 * progress if label == 0 else 0.1 + 0.8 * progress
        elif label in (2, 3):
            cx = (x0 + (0.2 if label == 2 else 0.7) * t[i]) % 1.0
        else:
            first, second = (RED, BLUE) if label == 4 else (BLUE, RED)
            c = first if i < switch else second
        out[i][_shape_mask(xx, yy, cx, cy, r, square)] = c
    return out


def render_steps(label: int, frames: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Frames [frames, size, size, 3] of a shape stepping in direction ``label`` through K positions, and K."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    k = int(rng.integers(2, min(12, frames) + 1))
    cuts = np.sort(rng.choice(np.arange(1, frames), k - 1, replace=False))
    moment = np.searchsorted(cuts, np.arange(frames), side="right")  # frame -> position 0..K-1
    grey = rng.uniform(60, 160)
    out = np.clip(grey + rng.normal(0, 3, (frames, size, size, 1)), 0, 255).repeat(3, axis=3).astype(np.uint8)
    r, square, colour = rng.uniform(0.08, 0.14), bool(rng.integers(2)), PALETTE[rng.integers(len(PALETTE))]
    fixed = rng.uniform(0.25, 0.75)
    along = np.linspace(0.2, 0.8, k) if label in (1, 3) else np.linspace(0.8, 0.2, k)  # down / right: rising
    for i in range(frames):
        p = along[moment[i]]
        cx, cy = (fixed, p) if label in (0, 1) else (p, fixed)
        out[i][_shape_mask(xx, yy, cx, cy, r, square)] = colour
    return out, k


def synthesize_video_classification(
    out: str | Path,
    *,
    train_per_class: int = 24,
    test_per_class: int = 8,
    frames: int = 32,
    fps: float = 15.0,
    size: int = 64,
    seed: int = 0,
    kind: Kind = "motion",
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the set of ``kind`` into ``out``; returns ``out``."""
    if kind not in ("motion", "redundancy"):
        raise DataError(f"--kind must be motion or redundancy, got {kind!r}")
    require_settings(train_per_class=(train_per_class, 2), test_per_class=(test_per_class, 1))
    require_settings(frames=(frames, 4), size=(size, 32))
    require_positive(fps=fps)
    out = Path(out)
    rng = np.random.default_rng(seed)
    classes = CLASSES if kind == "motion" else STEP_CLASSES
    total = len(classes) * (train_per_class + test_per_class)
    rows: dict[str, list[str]] = {"train": [], "test": []}
    done = 0
    for part, count in (("train", train_per_class), ("test", test_per_class)):
        for i in range(count):
            for label, name in enumerate(classes):
                rel = f"videos/{name}/{part}_{i:03d}.mp4"
                if kind == "motion":
                    write_video(out / rel, render_clip(label, frames, fps, size, rng), fps)
                    rows[part].append(f"{rel},{name}")
                else:
                    video, moments = render_steps(label, frames, size, rng)
                    write_video(out / rel, video, fps)
                    rows[part].append(f"{rel},{name},{moments}")
                done += 1
                if progress is not None:
                    progress(done, total)
    header = "path,label\n" if kind == "motion" else "path,label,moments\n"
    for part, lines in rows.items():
        atomic_write_text(out / f"{part}.csv", header + "\n".join(lines) + "\n")
    atomic_write_text(out / "classes.txt", "\n".join(classes) + "\n")
    return out
