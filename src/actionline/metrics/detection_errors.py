"""Where a detector goes wrong: the false-positive profile of Alwassel et al. ("Diagnosing Error in Temporal Action
Detectors", ECCV 2018) and its sensitivity analyses (pure numpy).

False positives among the top-ranked G x ``top_factor`` detections (G ground-truth instances; the paper's top-10G),
taken in score order at tIoU α (0.5), each given the first type that applies:

1. double detection: tIoU >= α with a ground truth of its label that an earlier detection already matched;
2. wrong label: tIoU >= α with a ground truth of another label;
3. localisation error: 0.1 <= tIoU < α with a ground truth of its label;
4. confusion: 0.1 <= tIoU < α with a ground truth of another label;
5. background: tIoU < 0.1 with every ground truth.

A detection with tIoU >= α with an unmatched ground truth of its label is a true positive and matches it.
Sensitivity: AP at α of the ground truth in one bin (instance length in seconds, or instances per video), with
detections whose best match (tIoU >= 0.1, any label) lies in another bin left out (the paper's protocol, un-normalised).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from actionline.metrics.detection import average_precision, segment_iou
from actionline.timeline import Instance, canonical_video_id

FP_TYPES = ("double detection", "wrong label", "localization", "confusion", "background")
LENGTH_BINS = ((0, 3, "XS"), (3, 6, "S"), (6, 12, "M"), (12, 18, "L"), (18, float("inf"), "XL"))  # seconds
COUNT_BINS = ((0, 1, "1"), (1, 4, "2-4"), (4, 8, "5-8"), (8, float("inf"), ">= 9"))  # instances per video


def _by_video(gts: Sequence[Instance]) -> dict[str, list[int]]:
    index: dict[str, list[int]] = defaultdict(list)
    for k, g in enumerate(gts):
        index[canonical_video_id(g.video)].append(k)
    return index


def false_positive_profile(
    gts: Sequence[Instance], preds: Sequence[Instance], alpha: float = 0.5, top_factor: int = 10
) -> dict[str, int]:
    """Counts of true positives and of each false-positive type among the top G x ``top_factor`` detections."""
    index = _by_video(gts)
    bounds = np.array([[g.start, g.end] for g in gts], dtype=np.float64).reshape(-1, 2)
    labels = np.array([g.label for g in gts], dtype=object)
    matched = np.zeros(len(gts), dtype=bool)
    counts = dict.fromkeys(("true positive", *FP_TYPES), 0)
    for p in sorted(preds, key=lambda q: -q.score)[: top_factor * len(gts)]:
        cand = np.asarray(index.get(canonical_video_id(p.video), []), dtype=np.int64)
        iou = segment_iou(np.array([p.start, p.end]), bounds[cand]) if len(cand) else np.zeros(0)
        same = labels[cand] == p.label if len(cand) else np.zeros(0, dtype=bool)
        hit = same & (iou >= alpha) & ~matched[cand] if len(cand) else same
        if hit.any():
            matched[cand[np.flatnonzero(hit)[np.argmax(iou[hit])]]] = True
            counts["true positive"] += 1
            continue
        best_same = iou[same].max(initial=0.0)
        best_other = iou[~same].max(initial=0.0)
        kind = (
            "double detection" if best_same >= alpha
            else "wrong label" if best_other >= alpha
            else "localization" if best_same >= 0.1
            else "confusion" if best_other >= 0.1
            else "background"
        )  # fmt: skip
        counts[kind] += 1
    return counts


def sensitivity(
    gts: Sequence[Instance], preds: Sequence[Instance], key: str, alpha: float = 0.5
) -> list[tuple[str, int, float]]:
    """(bin, ground-truth instances, mAP % at α) per bin of instance length (``key="length"``) or of instances per
    video (``key="count"``)."""
    per_video = defaultdict(int)
    for g in gts:
        per_video[canonical_video_id(g.video)] += 1
    value: Callable[[Instance], float] = (
        (lambda g: g.end - g.start) if key == "length" else (lambda g: per_video[canonical_video_id(g.video)])
    )
    bins = LENGTH_BINS if key == "length" else COUNT_BINS
    bin_of = [next(name for lo, hi, name in bins if lo < value(g) <= hi) for g in gts]  # every bin is (lo, hi]
    index = _by_video(gts)
    bounds = np.array([[g.start, g.end] for g in gts], dtype=np.float64).reshape(-1, 2)
    owner = []  # the bin of each detection's best-overlapping ground truth (None: no overlap >= 0.1)
    for p in preds:
        cand = np.asarray(index.get(canonical_video_id(p.video), []), dtype=np.int64)
        iou = segment_iou(np.array([p.start, p.end]), bounds[cand]) if len(cand) else np.zeros(0)
        owner.append(bin_of[cand[int(np.argmax(iou))]] if len(iou) and iou.max() >= 0.1 else None)
    out = []
    for _, _, name in bins:
        chosen = [g for g, b in zip(gts, bin_of, strict=True) if b == name]
        if not chosen:
            out.append((name, 0, float("nan")))
            continue
        kept = [p for p, b in zip(preds, owner, strict=True) if b in (name, None)]
        aps = [
            average_precision([g for g in chosen if g.label == c], [p for p in kept if p.label == c], [alpha])[0]
            for c in sorted({g.label for g in chosen})
        ]
        out.append((name, len(chosen), 100.0 * float(np.mean(aps))))
    return out
