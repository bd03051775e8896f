"""An in-memory clip task for the STC ablations (dissertation Sec. 4.2, Tables 4.3 and 4.5), sized for a CPU: a red
target disc moves in one of eight directions (the class: 0 = rightward, counter-clockwise in 45 degree steps) among
distractor discs of near colours (orange, magenta) that move in random directions, on grey with sensor noise.

No single frame tells the class (the direction needs two frames), and the distractors differ from the target only in
colour channels, so the network has to keep the target's channels apart from the distractors' over time: the
channel dependencies the TCB and SCB gates model. ``noise`` and the training-set size set how hard the task is."""

from __future__ import annotations

import numpy as np

from actionline.data.synthetic.features import require_positive, require_settings

DIRECTIONS = 8
TARGET = (220.0, 50.0, 40.0)
DISTRACTORS = ((230.0, 130.0, 30.0), (200.0, 50.0, 150.0))
CHUNK = 256  # clips rendered at once (bounds the [chunk, T, S, S] distance arrays)


def draw_discs(canvas: np.ndarray, centres: np.ndarray, radius: np.ndarray, colour: np.ndarray) -> None:
    """Paint discs into ``canvas`` [n, T, S, S, 3] in place: ``centres`` [n, T, 2] (x, y in [0, 1]), ``radius``
    [n], ``colour`` [n, 3]."""
    size = canvas.shape[2]
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    dx = grid[None, None, None, :] - centres[:, :, 0, None, None]
    dy = grid[None, None, :, None] - centres[:, :, 1, None, None]
    inside = dx * dx + dy * dy < (radius * radius)[:, None, None, None]
    np.copyto(canvas, colour[:, None, None, None, :], where=inside[..., None])


def straight_paths(angle: np.ndarray, travel: float, frames: int, margin: float, rng: np.random.Generator):
    """Centres [n, frames, 2] of paths of length ``travel`` in direction ``angle`` (radians, y pointing up in the
    picture), starting where the whole path stays within ``margin`` of the borders."""
    step = np.stack([np.cos(angle), -np.sin(angle)], axis=1) * travel  # image y grows downwards
    low = margin - np.minimum(step, 0)
    high = 1 - margin - np.maximum(step, 0)
    start = low + rng.random(low.shape) * (high - low)
    progress = np.linspace(0.0, 1.0, frames)
    return (start[:, None, :] + progress[None, :, None] * step[:, None, :]).astype(np.float32)


def distractor_clips(
    n: int,
    *,
    frames: int = 8,
    size: int = 32,
    distractors: int = 2,
    noise: float = 75.0,
    travel: float = 0.4,
    radius: float = 0.12,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clips uint8 [n, frames, size, size, 3] and their directions [n] (balanced: clip i has class i mod 8);
    disc radii (frame widths) uniform within 15 % of ``radius``, paths ``travel`` frame widths long."""
    require_settings(n=(n, 1), frames=(frames, 2), size=(size, 8), distractors=(distractors, 0))
    require_positive(noise=noise, travel=travel, radius=radius)
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % DIRECTIONS
    out = np.empty((n, frames, size, size, 3), np.uint8)
    palette = np.array(DISTRACTORS, np.float32)
    for lo in range(0, n, CHUNK):
        m = min(CHUNK, n - lo)
        grey = rng.uniform(70, 150, (m, 1, 1, 1, 1)).astype(np.float32)
        canvas = np.broadcast_to(grey, (m, frames, size, size, 3)).copy()
        for _ in range(distractors):  # distractors first, so the target is drawn on top
            angle = rng.uniform(0, 2 * np.pi, m)
            colour = palette[rng.integers(len(palette), size=m)]
            path = straight_paths(angle, travel, frames, 0.1, rng)
            draw_discs(canvas, path, rng.uniform(0.85, 1.15, m) * radius, colour)
        angle = labels[lo : lo + m] * (2 * np.pi / DIRECTIONS)
        target = np.broadcast_to(np.array(TARGET, np.float32), (m, 3))
        path = straight_paths(angle, travel, frames, 0.1, rng)
        draw_discs(canvas, path, rng.uniform(0.85, 1.15, m) * radius, target)
        canvas += rng.normal(0, noise, canvas.shape).astype(np.float32)
        out[lo : lo + m] = np.clip(canvas, 0, 255).round().astype(np.uint8)
    return out, labels
