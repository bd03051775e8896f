"""A seeded synthetic clip-classification set written as real MP4 files (dissertation ch. 4 on a CPU), where the
classes come in pairs that no single frame tells apart, so temporal modelling matters:

- direction: ``moves_up`` / ``moves_down`` (a shape crossing the frame vertically);
- speed: ``drifts_slowly`` / ``drifts_fast`` (a shape moving right at 0.2 or 0.7 frame widths per second, wrapping);
- order: ``red_then_blue`` / ``blue_then_red`` (a still shape that changes colour once, at 35-65 % of the clip).

Appearance misleads: every class draws its shape (disc or square), size, colours (the moving shapes take red and
blue too), background grey level and noise at random, so a frame-wise model is at chance within each pair.
Written in the Kinetics-style CSV layout: ``videos/<class>/<id>.mp4``, ``train.csv``, ``test.csv`` (``path,label``),
``classes.txt``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from actionline.data.synthetic import require_positive, require_settings
from actionline.data.synthetic_video import write_video
from actionline.io import atomic_write_text

CLASSES = ("moves_up", "moves_down", "drifts_slowly", "drifts_fast", "red_then_blue", "blue_then_red")
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


def synthesize_video_classification(
    out: str | Path,
    *,
    train_per_class: int = 24,
    test_per_class: int = 8,
    frames: int = 32,
    fps: float = 15.0,
    size: int = 64,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the set into ``out``; returns ``out``."""
    require_settings(train_per_class=(train_per_class, 2), test_per_class=(test_per_class, 1))
    require_settings(frames=(frames, 4), size=(size, 32))
    require_positive(fps=fps)
    out = Path(out)
    rng = np.random.default_rng(seed)
    total = len(CLASSES) * (train_per_class + test_per_class)
    rows: dict[str, list[str]] = {"train": [], "test": []}
    done = 0
    for part, count in (("train", train_per_class), ("test", test_per_class)):
        for i in range(count):
            for label, name in enumerate(CLASSES):
                rel = f"videos/{name}/{part}_{i:03d}.mp4"
                write_video(out / rel, render_clip(label, frames, fps, size, rng), fps)
                rows[part].append(f"{rel},{name}")
                done += 1
                if progress is not None:
                    progress(done, total)
    for part, lines in rows.items():
        atomic_write_text(out / f"{part}.csv", "path,label\n" + "\n".join(lines) + "\n")
    atomic_write_text(out / "classes.txt", "\n".join(CLASSES) + "\n")
    return out
