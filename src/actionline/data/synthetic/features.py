"""Seeded synthetic segmentation data written in the MS-TCN layout.

Label sequences come from a small built-in activity grammar (the demo data) or from a real ``groundTruth``
folder (real orders, lengths and class counts: "realistic synthetic" data). Features are conditioned on the
labels and built to exercise what real I3D features make hard:

- per-class prototypes, with some *confusable pairs* that differ only slightly (only context disambiguates);
- a per-video style offset and a slow drift (camera, person, lighting);
- temporally correlated and white noise (over-segmentation pressure);
- blended boundaries (a soft one-hot label smoothed over ``blend`` frames);
- corrupted stretches (occlusions, look-alike moments): spans of 10-120 frames, about ``corrupt_rate`` per 1,000
  frames, whose features lean towards another class's prototype. These persistent local confusions are what make
  frame-wise models over-segment, as real I3D features do.

Every knob scales with one ``difficulty`` number; everything derives from ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d

from actionline.data.layout import (
    DatasetInfo,
    SegmentationData,
    write_features,
    write_info,
    write_labels,
    write_mapping,
    write_split,
)
from actionline.errors import DataError

# --- the built-in grammar ---------------------------------------------------------------------------------
GRAMMAR_CLASSES: tuple[str, ...] = (
    "background",
    "take_cup",
    "pour_coffee",
    "add_sugar",
    "pour_milk",
    "stir",
    "take_bowl",
    "pour_cereals",
    "take_plate",
    "cut_fruit",
    "put_fruit_in_bowl",
    "crack_egg",
    "fry_egg",
    "spread_butter",
    "drink",
)
# Each activity: a list of (step, probability it occurs, maximum repetitions).
ACTIVITIES: dict[str, list[tuple[str, float, int]]] = {
    "coffee": [
        ("take_cup", 1.0, 1),
        ("pour_coffee", 1.0, 1),
        ("add_sugar", 0.5, 1),
        ("pour_milk", 0.6, 1),
        ("stir", 1.0, 1),
        ("drink", 0.4, 1),
    ],
    "cereals": [("take_bowl", 1.0, 1), ("pour_cereals", 1.0, 1), ("pour_milk", 1.0, 1), ("stir", 0.3, 1)],
    "fruit_salad": [("take_bowl", 1.0, 1), ("cut_fruit", 1.0, 3), ("put_fruit_in_bowl", 1.0, 1), ("stir", 0.5, 1)],
    "fried_egg": [("take_plate", 0.7, 1), ("crack_egg", 1.0, 2), ("fry_egg", 1.0, 1), ("spread_butter", 0.3, 1)],
    "toast": [("take_plate", 1.0, 1), ("spread_butter", 1.0, 1), ("cut_fruit", 0.3, 1), ("drink", 0.3, 1)],
}
# Mean step length in frames (log-normal around it); background is shorter.
MEAN_LENGTH = 60.0
BACKGROUND_LENGTH = 25.0
# Pairs whose features differ only slightly: only the surrounding activity tells them apart.
CONFUSABLE: tuple[tuple[str, str], ...] = (
    ("pour_coffee", "pour_milk"),
    ("cut_fruit", "spread_butter"),
    ("take_cup", "take_bowl"),
)


@dataclass(frozen=True)
class FeatureStyle:
    """Knobs of the feature generator; ``scaled(difficulty)`` gives the defaults at a difficulty level."""

    feature_dim: int = 64
    noise: float = 1.6
    correlated_noise: float = 1.0
    style: float = 0.5
    drift: float = 0.5
    confusion: float = 0.35  # distance between confusable prototypes, relative to 1
    blend: int = 9
    corrupt_rate: float = 1.5  # corrupted stretches per 1,000 frames
    corrupt_max_length: int = 120

    @classmethod
    def scaled(cls, feature_dim: int, difficulty: float) -> FeatureStyle:
        if difficulty <= 0:
            raise DataError(f"difficulty must be positive, got {difficulty}")
        d = difficulty
        return cls(
            feature_dim,
            noise=1.6 * d,
            correlated_noise=1.0 * d,
            style=0.5 * d,
            drift=0.5 * d,
            confusion=min(1.0, 0.35 / d),
            blend=max(1, round(9 * d)),
            corrupt_rate=1.5 * d,
        )


def grammar_labels(rng: np.random.Generator, scale: float = 1.0) -> list[str]:
    """One video's frame labels from the built-in activity grammar."""
    activity = ACTIVITIES[rng.choice(sorted(ACTIVITIES))]
    steps: list[str] = ["background"]
    for name, prob, max_rep in activity:
        if rng.random() < prob:
            steps.extend([name] * int(rng.integers(1, max_rep + 1)))
            if rng.random() < 0.15:
                steps.append("background")
    steps.append("background")
    # Repetitions of the same step become separate segments with a short background gap.
    merged: list[str] = []
    for s in steps:
        if merged and merged[-1] == s:
            merged.append("background")
        merged.append(s)
    labels: list[str] = []
    for s in merged:
        mean = BACKGROUND_LENGTH if s == "background" else MEAN_LENGTH
        length = max(4, int(rng.lognormal(np.log(mean * scale), 0.35)))
        labels.extend([s] * length)
    return labels


def class_prototypes(rng: np.random.Generator, classes: Sequence[str], style: FeatureStyle) -> np.ndarray:
    """[C, D] unit-variance prototypes; confusable pairs share most of their direction."""
    protos = rng.standard_normal((len(classes), style.feature_dim)).astype(np.float32)
    index = {c: i for i, c in enumerate(classes)}
    pairs = [(index[a], index[b]) for a, b in CONFUSABLE if a in index and b in index]
    if not pairs:  # real label sets: pair up a quarter of the classes at random
        order = rng.permutation(len(classes))
        pairs = [(int(order[2 * k]), int(order[2 * k + 1])) for k in range(len(classes) // 8)]
    for a, b in pairs:
        protos[b] = protos[a] + style.confusion * rng.standard_normal(style.feature_dim).astype(np.float32)
    return protos


def video_features(rng: np.random.Generator, labels: np.ndarray, protos: np.ndarray, style: FeatureStyle) -> np.ndarray:
    """Features [D, T] for dense class indices ``labels`` [T], vectorised over frames."""
    T, (C, D) = len(labels), protos.shape
    onehot = np.zeros((T, C), dtype=np.float32)
    onehot[np.arange(T), labels] = 1.0
    soft = uniform_filter1d(onehot, size=style.blend, axis=0, mode="nearest") if style.blend > 1 else onehot
    signal = soft @ protos
    x = signal + style.style * rng.standard_normal(D).astype(np.float32)
    drift = np.cumsum(rng.standard_normal((T, D)).astype(np.float32), axis=0) / np.sqrt(max(T, 1))
    x += style.drift * drift
    smooth = uniform_filter1d(rng.standard_normal((T, D)).astype(np.float32), size=15, axis=0) * np.sqrt(15)
    x += style.correlated_noise * smooth + style.noise * rng.standard_normal((T, D)).astype(np.float32)
    for _ in range(int(rng.poisson(style.corrupt_rate * T / 1000.0))):
        length = int(rng.integers(10, max(11, min(style.corrupt_max_length, T // 3))))
        start = int(rng.integers(0, max(1, T - length)))
        other = protos[int(rng.integers(0, C))]
        # the class signal of the stretch leans 70% towards another class; noise and style stay
        x[start : start + length] += 0.7 * (other - signal[start : start + length])
    return np.ascontiguousarray(x.T, dtype=np.float32)


def _kfold(videos: list[str], k: int, rng: np.random.Generator) -> list[list[str]]:
    order = [videos[i] for i in rng.permutation(len(videos))]
    return [sorted(order[i::k]) for i in range(k)]


def require_settings(**values: tuple[int, int]) -> None:
    """Each ``name=(value, minimum)``: an integer of at least ``minimum``, else a `DataError` naming the option."""
    for name, (value, minimum) in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise DataError(f"--{name.replace('_', '-')} must be an integer >= {minimum}, got {value!r}")


def require_positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and value > 0 and np.isfinite(value)):
            raise DataError(f"--{name.replace('_', '-')} must be a positive number, got {value!r}")


def synthesize_segmentation(
    out: str | Path,
    *,
    num_videos: int = 40,
    feature_dim: int = 64,
    difficulty: float = 1.0,
    seed: int = 0,
    num_splits: int = 4,
    labels_from: str | Path | None = None,
    max_videos: int | None = None,
    length_scale: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write a synthetic dataset in the MS-TCN layout to ``out`` and return its path.

    With ``labels_from`` (a real MS-TCN-layout folder) the real ground truth, mapping and splits are reused
    unchanged (optionally only ``max_videos`` of them, chosen deterministically) and only features are made.
    """
    require_settings(num_videos=(num_videos, 2), feature_dim=(feature_dim, 1), splits=(num_splits, 2))
    require_positive(difficulty=difficulty, length_scale=length_scale)
    if max_videos is not None and max_videos < 2:
        raise DataError(f"--max-videos must be at least 2, got {max_videos}")
    out = Path(out)
    rng = np.random.default_rng(seed)
    style = FeatureStyle.scaled(feature_dim, difficulty)
    if labels_from is not None:
        source = SegmentationData(labels_from)
        classes = list(source.classes)
        splits = {}
        for s in range(1, source.info.num_splits + 1):
            splits[s] = (source.split("train", s), source.split("test", s))
        videos = sorted({v for tr, te in splits.values() for v in tr + te})
        if max_videos is not None and max_videos < len(videos):
            videos = sorted(videos[i] for i in rng.choice(len(videos), size=max_videos, replace=False))
        keep = set(videos)
        splits = {s: ([v for v in tr if v in keep], [v for v in te if v in keep]) for s, (tr, te) in splits.items()}
        label_seqs = {v: source.label_names(v) for v in videos}
        base = source.info
        info = DatasetInfo(
            f"synthetic-{base.name}", base.sample_rate, base.num_splits, base.background, len(classes), base.fps
        )
    else:
        if num_videos < 2 * num_splits:
            raise DataError(f"need at least {2 * num_splits} videos for {num_splits} splits, got {num_videos}")
        classes = list(GRAMMAR_CLASSES)
        videos = [f"video_{i:04d}" for i in range(num_videos)]
        label_seqs = {v: grammar_labels(rng, length_scale) for v in videos}
        folds = _kfold(videos, num_splits, rng)
        splits = {
            s + 1: (sorted(v for k, f in enumerate(folds) if k != s for v in f), folds[s]) for s in range(num_splits)
        }
        info = DatasetInfo("synthetic-grammar", 1, num_splits, ("background",), len(classes), 15.0)

    protos = class_prototypes(rng, classes, style)
    index = {c: i for i, c in enumerate(classes)}
    (out / "features").mkdir(parents=True, exist_ok=True)
    (out / "groundTruth").mkdir(parents=True, exist_ok=True)
    for i, video in enumerate(videos):
        names = label_seqs[video]
        labels = np.fromiter((index[n] for n in names), dtype=np.int64, count=len(names))
        video_rng = np.random.default_rng([seed, i])
        write_features(out / "features" / f"{video}.npy", video_features(video_rng, labels, protos, style))
        write_labels(out / "groundTruth" / f"{video}.txt", names)
        if progress:
            progress(i + 1, len(videos))
    write_mapping(out, classes)
    for s, (train, test) in splits.items():
        write_split(out, "train", s, train)
        write_split(out, "test", s, test)
    write_info(out, info)
    return out


__all__ = ["GRAMMAR_CLASSES", "FeatureStyle", "synthesize_segmentation"]


# --- detection ----------------------------------------------------------------------------------------------------
def _generated_annotations(rng: np.random.Generator, num_videos: int, num_classes: int):
    """Durations 60-240 s, ~Poisson(4) instances of 2-30 s per video, 75% training / 25% validation."""
    from actionline.timeline import Instance

    classes = [f"action_{k:02d}" for k in range(num_classes)]
    durations, subsets, instances = {}, {}, []
    for i in range(num_videos):
        video = f"video_{i:05d}"
        duration = float(rng.uniform(60, 240))
        durations[video] = round(duration, 2)
        subsets[video] = "training" if i % 4 else "validation"
        for _ in range(max(1, int(rng.poisson(4)))):
            length = float(np.clip(rng.lognormal(np.log(8.0), 0.6), 2.0, 30.0))
            start = float(rng.uniform(0, max(0.1, duration - length)))
            instances.append(
                Instance(
                    video,
                    round(start, 2),
                    round(min(duration, start + length), 2),
                    classes[int(rng.integers(num_classes))],
                )
            )
    return durations, subsets, instances


def synthesize_detection(
    out: str | Path,
    *,
    annotations_from: str | Path | None = None,
    subset: str | None = None,
    max_videos: int | None = None,
    num_videos: int = 80,
    num_classes: int = 10,
    feature_dim: int = 64,
    difficulty: float = 1.0,
    fps: float = 30.0,
    stride: int = 16,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write a detection dataset: ``annotations.json`` (ActivityNet-style, seconds), ``features/<video>.npy``
    [T, D] at one feature per ``stride`` frames, and ``features/<video>.json`` with the `FeatureTiming`.

    Instances come from a generator or from a real annotation file (real durations, instance timings, class
    frequencies and densities; ``subset``/``max_videos`` pick videos deterministically). Features: class prototypes
    inside instances, a background prototype elsewhere, with the segmentation generator's noise, drift, blurred
    boundaries and corrupted stretches.
    """
    import json

    from actionline.data.instances import FeatureTiming, read_annotations
    from actionline.io import atomic_write_text

    require_settings(num_videos=(num_videos, 2), num_classes=(num_classes, 2), feature_dim=(feature_dim, 1))
    require_settings(stride=(stride, 1), max_videos=(max_videos if max_videos is not None else 2, 2))
    require_positive(fps=fps, difficulty=difficulty)
    out = Path(out)
    rng = np.random.default_rng(seed)
    if annotations_from is not None:
        ann = read_annotations(annotations_from).select(subset)
        durations, subsets, instances = ann.durations, ann.subsets, ann.instances
        videos = sorted(durations)
        if max_videos is not None and max_videos < len(videos):
            videos = sorted(videos[i] for i in rng.choice(len(videos), size=max_videos, replace=False))
    else:
        durations, subsets, instances = _generated_annotations(rng, num_videos, num_classes)
        videos = sorted(durations)
    keep = set(videos)
    instances = [i for i in instances if i.video in keep and i.end > i.start]
    classes = ["background", *sorted({i.label for i in instances})]
    index = {c: k for k, c in enumerate(classes)}
    style = FeatureStyle.scaled(feature_dim, difficulty)
    protos = class_prototypes(rng, classes, style)
    timing = FeatureTiming(fps=fps, stride=stride, window=stride)
    by_video: dict[str, list] = {v: [] for v in videos}
    for inst in instances:
        by_video[inst.video].append(inst)
    (out / "features").mkdir(parents=True, exist_ok=True)
    for n, video in enumerate(videos):
        T = max(2, round(durations[video] * fps / stride))
        centers = timing.center(np.arange(T))
        labels = np.zeros(T, dtype=np.int64)
        for inst in sorted(by_video[video], key=lambda i: i.end - i.start, reverse=True):  # short ones on top
            labels[(centers >= inst.start) & (centers < inst.end)] = index[inst.label]
        feats = video_features(np.random.default_rng([seed, n]), labels, protos, style).T  # [T, D]
        write_features(out / "features" / f"{video}.npy", np.ascontiguousarray(feats))
        atomic_write_text(out / "features" / f"{video}.json", json.dumps(timing.__dict__))
        if progress:
            progress(n + 1, len(videos))
    database = {
        v: {
            "subset": subsets.get(v, ""),
            "duration": durations[v],
            "annotations": [{"segment": [i.start, i.end], "label": i.label} for i in by_video[v]],
        }
        for v in videos
    }
    atomic_write_text(out / "annotations.json", json.dumps({"version": "actionline-synthetic", "database": database}))
    return out
