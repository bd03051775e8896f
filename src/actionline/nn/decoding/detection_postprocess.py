"""From per-snippet scores to scored detections (GSMT Sec. 3.3 "Inference", TAGS Sec. 3.4), in numpy.

Candidates are ``[start, end)`` in snippet units with a class index and a score; `finalize` merges duplicates,
applies the score threshold and class-wise Soft-NMS and keeps the top M2.
"""

from __future__ import annotations

import numpy as np

from actionline.nn.decoding.nms import soft_nms


def threshold_range(start: float, stop: float, step: float) -> list[float]:
    """``start:stop:step`` inclusive, rounded (the papers' threshold sets, e.g. 0.1:0.9:0.05)."""
    return [round(start + step * i, 4) for i in range(round((stop - start) / step) + 1)]


def threshold_runs(rows: np.ndarray, thresholds: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binarise each row [R, T] at each threshold [J]; return (row index, start, end) of the candidates.

    ``first_last`` (long actions, ActivityNet): one candidate per row and threshold from the first to the last
    activated snippet. ``runs`` (short actions, THUMOS): every maximal activated run is a candidate.
    """
    active = rows[:, None, :] > thresholds[None, :, None]  # [R, J, T]
    r, j, t = active.shape
    if mode == "first_last":
        hit = active.any(-1)
        first = active.argmax(-1)
        last = t - 1 - active[..., ::-1].argmax(-1)
        row = np.broadcast_to(np.arange(r)[:, None], (r, j))
        return row[hit], first[hit], last[hit] + 1
    padded = np.zeros((r, j, t + 2), dtype=np.int8)
    padded[..., 1:-1] = active
    step = np.diff(padded, axis=-1)
    rs, _, starts = np.nonzero(step == 1)
    _, _, ends = np.nonzero(step == -1)  # same (row, threshold) order, so runs pair up
    return rs, starts, ends


def segment_means(rows: np.ndarray, row: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Mean of ``rows[row, start:end]`` for each candidate (prefix sums, no loop)."""
    prefix = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(rows, axis=1)], axis=1)
    return (prefix[row, end] - prefix[row, start]) / np.maximum(end - start, 1)


def segment_max(rows: np.ndarray, row: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Maximum of ``rows[row, start:end]`` for each candidate."""
    t = rows.shape[1]
    inside = (np.arange(t)[None] >= start[:, None]) & (np.arange(t)[None] < end[:, None])
    return np.where(inside, rows[row], -np.inf).max(axis=1)


def finalize(
    starts: np.ndarray,
    ends: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    min_score: float,
    max_detections: int,
    nms_method: str,
    nms_sigma: float,
    nms_iou: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keep the best score of identical (start, end, class) candidates, drop scores below ``min_score`` (θc),
    run Soft-NMS within each class and keep the ``max_detections`` (M2) best."""
    keep = scores >= min_score
    starts, ends, labels, scores = starts[keep], ends[keep], labels[keep], scores[keep]
    if not len(scores):
        return starts, ends, labels, scores
    order = np.lexsort((-scores, labels, ends, starts))
    key = np.stack([starts, ends, labels], axis=1)[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (key[1:] != key[:-1]).any(axis=1)
    pick = order[first]
    starts, ends, labels, scores = starts[pick], ends[pick], labels[pick], scores[pick]
    # Class-wise NMS in one pass: shift each class to its own stretch of the time axis so classes never overlap.
    span = float(ends.max()) + 1.0
    shifted = np.stack([starts + labels * span, ends + labels * span], axis=1).astype(np.float64)
    kept, kept_scores = soft_nms(
        shifted, scores, method=nms_method, sigma=nms_sigma, iou_threshold=nms_iou, top_k=max_detections
    )
    return starts[kept], ends[kept], labels[kept], kept_scores
