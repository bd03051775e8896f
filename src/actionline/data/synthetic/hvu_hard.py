"""A harder HVU-lite held in memory (issue 39): the tags of `data.synthetic.hvu` (six categories, multi-label), but
every cue overlaps between its tags, so no category can saturate, and a set fraction of the clips lacks the labels
of one category (as HVU's clips lack some categories).

Where `data.synthetic.hvu` gives each tag a fixed, separable look, here each clip draws its look around the tag's
centre, with a spread that grows with ``overlap`` (0: fixed looks; 1: neighbouring looks overlap widely):
- scene: the background colour scatters around the scene's colour (indoor grey, outdoor green-grey, night
  blue-dark; centres 27-60 apart per RGB distance, spread 35 x overlap per channel);
- attribute: the main shape's colour scatters around muted red / blue / green (86-107 apart, spread 45 x overlap),
  its radius around big / small;
- action: the main shape moves by a random amount (``rest`` drifts a little, the others travel 0.2-0.7 of the frame);
- object, event and concept as in `data.synthetic.hvu` (object: 1-3 shapes; event from the action; concept from
  scene and action, so it inherits their overlap).

Tags are returned in HVU's category order (`data.hvu.CATEGORIES`), as the tagging models take them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actionline.data.hvu import CATEGORIES
from actionline.data.synthetic.features import require_settings
from actionline.data.synthetic.hvu import TAGS, shape_mask
from actionline.errors import DataError

SCENE_COLOURS = {"indoor": (120.0, 120.0, 120.0), "outdoor": (100.0, 135.0, 130.0), "night": (85.0, 85.0, 100.0)}
SHAPE_COLOURS = {"red": (170.0, 100.0, 90.0), "blue": (100.0, 110.0, 170.0), "green": (105.0, 160.0, 100.0)}
TAG_ORDER = [t for c in CATEGORIES for t in TAGS[c]]
TAG_CATEGORY = [i for i, c in enumerate(CATEGORIES) for _ in TAGS[c]]


@dataclass
class HardHVU:
    """Clips [N, T, S, S, 3] uint8, tags [N, tags] bool (in `TAG_ORDER`), ``labelled`` [N, categories] bool (False
    where the clip has no label of that category: left out, or none applies, as an HVU reader sees it)."""

    clips: np.ndarray
    targets: np.ndarray
    labelled: np.ndarray


def _scatter(centre, spread: float, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(centre, dtype=np.float32) + rng.normal(0, spread, 3).astype(np.float32)


def render_hard(
    frames: int, size: int, overlap: float, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, list[str]]]:
    """One clip [frames, size, size, 3] uint8 and its tags by category."""
    t = np.linspace(0, 1, frames, dtype=np.float32)[:, None, None]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)[:, None] / size  # each [1, S, S]
    scene = str(rng.choice(TAGS["scene"]))
    background = _scatter(SCENE_COLOURS[scene], 35.0 * overlap, rng)  # centres 27-60 apart
    shapes = [str(s) for s in rng.choice(TAGS["object"], size=int(rng.integers(1, 4)), replace=False)]
    colour, big = str(rng.choice(list(SHAPE_COLOURS))), bool(rng.integers(2))
    action = str(rng.choice(TAGS["action"]))
    event = "bounce" if action in ("rise", "fall") and rng.random() < 0.5 else None
    if event is None and action in ("rise", "fall", "slide"):
        event = "pass"
    radius = 0.105 + (0.035 if big else -0.035) * (1 + overlap * rng.standard_normal())
    travel = rng.uniform(0.2, 0.7) if action != "rest" else abs(rng.normal(0, 0.05 * overlap))
    q = 1 - np.abs(2 * t - 1) if event == "bounce" else t
    x0, y0 = rng.uniform(0.3, 0.7, 2)
    cx = x0 + np.zeros_like(t)
    cy = y0 + np.zeros_like(t)
    if action == "rise":
        cy = 0.5 + travel / 2 - travel * q
    elif action == "fall":
        cy = 0.5 - travel / 2 + travel * q
    elif action == "slide":
        cx = 0.5 - travel / 2 + travel * t
    else:
        cx = x0 + travel * (t - 0.5)
    img = np.broadcast_to(background, (frames, size, size, 3)).copy()
    img += rng.normal(0, 12, img.shape).astype(np.float32)
    for shape in shapes[1:]:
        ox, oy = rng.uniform(0.15, 0.85, 2)
        img[np.broadcast_to(shape_mask(shape, xx, yy, ox, oy, 0.08), img.shape[:3])] = rng.integers(60, 255, 3)
    img[shape_mask(shapes[0], xx, yy, cx, cy, max(radius, 0.03))] = _scatter(
        SHAPE_COLOURS[colour], 45.0 * overlap, rng
    )  # 86-107 apart
    concept = []
    if scene == "night" and action != "rest":
        concept.append("night_motion")
    if scene == "indoor" and action == "rest":
        concept.append("still_life")
    tags = {
        "scene": [scene],
        "object": shapes,
        "action": [action],
        "event": [event] if event else [],
        "attribute": [colour, "big" if big else "small"],
        "concept": concept,
    }
    return np.clip(img, 0, 255).astype(np.uint8), tags


def hard_hvu(
    n: int, *, frames: int = 8, size: int = 32, overlap: float = 0.6, missing: float = 0.3, seed: int = 0
) -> HardHVU:
    """``n`` clips; ``missing`` is the fraction of clips whose labels of one random category are left out."""
    require_settings(n=(n, 1), frames=(frames, 2), size=(size, 16))
    if not (0 <= overlap <= 2 and 0 <= missing <= 1):
        raise DataError(f"overlap must lie in [0, 2] and missing in [0, 1], got {overlap!r}, {missing!r}")
    rng = np.random.default_rng(seed)
    clips = np.empty((n, frames, size, size, 3), dtype=np.uint8)
    targets = np.zeros((n, len(TAG_ORDER)), dtype=bool)
    labelled = np.ones((n, len(CATEGORIES)), dtype=bool)
    index = {tag: i for i, tag in enumerate(TAG_ORDER)}
    for k in range(n):
        clips[k], tags = render_hard(frames, size, overlap, rng)
        if rng.random() < missing:
            tags[str(rng.choice(CATEGORIES))] = []
        for c, category in enumerate(CATEGORIES):
            targets[k, [index[tag] for tag in tags[category]]] = True
            labelled[k, c] = bool(tags[category])
    return HardHVU(clips, targets, labelled)
