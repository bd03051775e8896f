"""Where a segmentation goes wrong, per video and per class (the report's analyses; pure numpy).

- Per-class F1@k: the MS-TCN greedy matching restricted to one class (its segments only; matching never crosses
  classes, so the counts of all classes add up to the split's), micro over videos.
- Over-segmentation: a ground-truth segment covered by n > 1 predicted segments of its class counts n - 1
  fragments; under-segmentation: a predicted segment covering n > 1 ground-truth segments of its class counts n - 1
  merges. Background segments are left out, as by Edit and F1.
- Boundary offsets: for every ground-truth boundary (a change of label, background included), the signed distance
  in frames to the nearest predicted boundary (positive: the prediction changes later); none when the prediction
  has no boundary.
- The frame confusion matrix [true, predicted].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from actionline.metrics.segmentation import f1_counts, f1_from_counts, segments

OUTSIDE = -1  # the label frames of other classes get when one class is scored alone


def per_class_counts(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    num_classes: int,
    threshold: float,
    background: Iterable = (),
) -> np.ndarray:
    """[C, 3] (TP, FP, FN) per class at IoU ``threshold`` over all videos (background classes stay 0)."""
    background = tuple(background)
    out = np.zeros((num_classes, 3), dtype=np.int64)
    for c in range(num_classes):
        if c in background:
            continue
        for p, g in zip(preds, gts, strict=True):
            pc, gc = np.where(p == c, c, OUTSIDE), np.where(g == c, c, OUTSIDE)
            out[c] += f1_counts(pc, gc, threshold, (OUTSIDE, *background))
    return out


def per_class_f1(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    num_classes: int,
    threshold: float,
    background: Iterable = (),
) -> np.ndarray:
    """F1@``threshold`` per class [C] in percent (NaN for a class absent from both predictions and ground truth)."""
    counts = per_class_counts(preds, gts, num_classes, threshold, background)
    return np.array([f1_from_counts(*c) if c.sum() else np.nan for c in counts])


def _overlaps(a: tuple, b: tuple) -> np.ndarray:
    """[len(a), len(b)] whether segment i of ``a`` and segment j of ``b`` share a frame and a label."""
    (la, sa, ea), (lb, sb, eb) = a, b
    return (la[:, None] == lb[None, :]) & (sa[:, None] < eb[None, :]) & (sb[None, :] < ea[:, None])


def over_under_segmentation(pred: np.ndarray, gt: np.ndarray, background: Iterable = ()) -> tuple[int, int]:
    """(fragments, merges) of one video (see the module docstring)."""
    background = tuple(background)
    ps, gs = segments(pred, background), segments(gt, background)
    overlap = _overlaps(gs, ps)  # [gt, pred]
    fragments = int(np.clip(overlap.sum(axis=1) - 1, 0, None).sum())
    merges = int(np.clip(overlap.sum(axis=0) - 1, 0, None).sum())
    return fragments, merges


def boundary_offsets(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Signed offsets (frames) from each ground-truth boundary to the nearest predicted one."""
    pb = np.flatnonzero(pred[1:] != pred[:-1]) + 1
    gb = np.flatnonzero(gt[1:] != gt[:-1]) + 1
    if not len(pb) or not len(gb):
        return np.zeros(0, dtype=np.int64)
    pos = np.clip(np.searchsorted(pb, gb), 1, len(pb)) - 1
    left, right = pb[pos], pb[np.minimum(pos + 1, len(pb) - 1)]
    return np.where(np.abs(left - gb) <= np.abs(right - gb), left - gb, right - gb)


def frame_confusion(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], num_classes: int) -> np.ndarray:
    """[true, predicted] frame counts."""
    out = np.zeros((num_classes, num_classes), dtype=np.int64)
    for p, g in zip(preds, gts, strict=True):
        np.add.at(out, (g, p), 1)
    return out
