"""A seeded "HVU-lite" (dissertation ch. 5 on a CPU): MP4 clips with tags in all six HVU categories, written in
the HVU format (`data/hvu.py`):

- scene (the background): ``indoor`` (flat grey), ``outdoor`` (sky over grass), ``night`` (dark);
- object (the shapes present, one to three): ``disc``, ``square``, ``bar``;
- action (what the main shape does): ``rise``, ``fall``, ``slide``, ``rest``;
- event (a composition of actions): ``bounce`` (rises or falls, then comes back), ``pass`` (crosses the frame
  without turning);
- attribute (of the main shape): ``red`` / ``blue`` / ``green`` and ``big`` / ``small``;
- concept (a combination): ``night_motion`` (a night scene with a moving shape), ``still_life`` (indoors, nothing
  moves).

Multi-label throughout (several objects, colour and size together). For 20 % of the clips one random category's
tags are left out, as HVU's clips lack labels in some categories.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from actionline.data.synthetic.features import require_positive, require_settings
from actionline.data.synthetic.video import write_video
from actionline.io import atomic_write_text

TAGS = {
    "scene": ("indoor", "outdoor", "night"),
    "object": ("disc", "square", "bar"),
    "action": ("rise", "fall", "slide", "rest"),
    "event": ("bounce", "pass"),
    "attribute": ("red", "blue", "green", "big", "small"),
    "concept": ("night_motion", "still_life"),
}
COLOURS = {"red": (220, 40, 40), "blue": (40, 70, 220), "green": (40, 190, 70)}


def shape_mask(shape: str, xx, yy, cx: float, cy: float, r: float) -> np.ndarray:
    if shape == "disc":
        return (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
    if shape == "square":
        return (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r)
    return (np.abs(xx - cx) < r * 1.6) & (np.abs(yy - cy) < r * 0.4)


def render_tagged(frames: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, list[str]]]:
    """One clip [frames, size, size, 3] and its tags by category."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    scene = str(rng.choice(TAGS["scene"]))
    base = np.zeros((size, size, 3), dtype=np.float32)
    if scene == "indoor":
        base[:] = rng.uniform(110, 150)
    elif scene == "outdoor":
        base[yy < 0.5] = (120, 170, 230)
        base[yy >= 0.5] = (70, 150, 60)
    else:
        base[:] = rng.uniform(15, 35)
    shapes = list(rng.choice(TAGS["object"], size=int(rng.integers(1, 4)), replace=False))
    main = shapes[0]
    colour, big = str(rng.choice(list(COLOURS))), bool(rng.integers(2))
    action = str(rng.choice(TAGS["action"]))
    event = "bounce" if action in ("rise", "fall") and rng.random() < 0.5 else None
    if event is None and action in ("rise", "fall", "slide"):
        event = "pass"
    r = 0.14 if big else 0.07
    others = [(s, rng.uniform(0.15, 0.85, 2), tuple(int(v) for v in rng.integers(60, 255, 3))) for s in shapes[1:]]
    x0, y0 = rng.uniform(0.25, 0.75, 2)
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    for i in range(frames):
        p = i / max(frames - 1, 1)
        q = 1 - abs(2 * p - 1) if event == "bounce" else p  # there and back
        cx, cy = x0, y0
        if action == "rise":
            cy = 0.85 - 0.7 * q
        elif action == "fall":
            cy = 0.15 + 0.7 * q
        elif action == "slide":
            cx = 0.15 + 0.7 * p
        img = base + rng.normal(0, 4, base.shape)
        for shape, (ox, oy), c in others:
            img[shape_mask(shape, xx, yy, ox, oy, 0.08)] = c
        img[shape_mask(main, xx, yy, cx, cy, r)] = COLOURS[colour]
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    concept = []
    if scene == "night" and action != "rest":
        concept.append("night_motion")
    if scene == "indoor" and action == "rest":
        concept.append("still_life")
    tags = {
        "scene": [scene],
        "object": [str(s) for s in shapes],
        "action": [action],
        "event": [event] if event else [],
        "attribute": [colour, "big" if big else "small"],
        "concept": concept,
    }
    return out, tags


def synthesize_hvu(
    out: str | Path,
    *,
    train: int = 160,
    val: int = 60,
    frames: int = 16,
    fps: float = 8.0,
    size: int = 64,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the HVU-format files and ``videos/<id>_000000_<end:06d>.mp4`` into ``out``; returns ``out``."""
    require_settings(train=(train, 2), val=(val, 1), frames=(frames, 4), size=(size, 32))
    require_positive(fps=fps)
    out = Path(out)
    rng = np.random.default_rng(seed)
    end = int(np.ceil(frames / fps))
    rows: dict[str, list[str]] = {"train": [], "val": []}
    for k in range(train + val):
        part = "train" if k < train else "val"
        video, tags = render_tagged(frames, size, rng)
        vid = f"hvulite{k:05d}"
        write_video(out / "videos" / f"{vid}_000000_{end:06d}.mp4", video, fps)
        if rng.random() < 0.2:  # a category without labels for this clip
            tags[str(rng.choice(list(TAGS)))] = []
        flat = [t for category in TAGS for t in tags[category]]
        rows[part].append(f"{'|'.join(flat)},{vid},0,{end}")
        if progress is not None:
            progress(k + 1, train + val)
    atomic_write_text(
        out / "HVU_Tags_Categories_V1.0.csv",
        "Tag,Category\n" + "".join(f"{t},{c}\n" for c, ts in TAGS.items() for t in ts),
    )
    for part, name in (("train", "HVU_Train_V1.0.csv"), ("val", "HVU_Val_V1.0.csv")):
        atomic_write_text(out / name, "Tags,youtube_id,time_start,time_end\n" + "\n".join(rows[part]) + "\n")
    return out
