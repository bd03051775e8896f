"""Clip / video classification metrics in pure numpy: top-k accuracy and the confusion matrix.

Convention (stated with every score): a sample counts for top-k when its true class is among the k highest scores;
ties are broken by class index (numpy's stable sort of the negated scores), so a constant score vector ranks class
0 first. Video level = the mean of the K clips' softmax scores (dissertation Sec. 4.4: "average clip predictions").
"""

from __future__ import annotations

import numpy as np

from actionline.errors import ActionlineError


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if scores.ndim != 2 or labels.shape != (scores.shape[0],):
        raise ActionlineError(f"scores must be [N, K] and labels [N], got {scores.shape} and {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ActionlineError(f"labels must lie in 0..{scores.shape[1] - 1}")
    if not np.isfinite(scores).all():
        raise ActionlineError("scores contain NaN or infinity")
    return scores, labels.astype(int)


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Percentage of samples whose label is among their ``k`` best-scored classes (NaN for no samples)."""
    scores, labels = _check(scores, labels)
    if len(labels) == 0:
        return float("nan")
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return 100.0 * float((ranked == labels[:, None]).any(axis=1).mean())


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """[true, predicted] counts."""
    out = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(out, (np.asarray(labels, dtype=int), np.asarray(predicted, dtype=int)), 1)
    return out


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Step-wise average precision of one class, Σ_i (R_i - R_{i-1}) P_i over the distinct score thresholds (the
    definition of scikit-learn's ``average_precision_score``: tied scores enter together); NaN without positives."""
    scores, positives = np.asarray(scores, dtype=np.float64), np.asarray(positives, dtype=bool)
    if not positives.any():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], positives[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each distinct score
    tp = np.cumsum(y)[last]
    precision, recall = tp / (last + 1), tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
