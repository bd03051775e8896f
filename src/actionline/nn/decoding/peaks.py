"""Boundary selection on a 1-D probability curve: strict local maxima, or max-pool NMS."""

from __future__ import annotations

import numpy as np


def local_maxima(prob: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Indices ``t`` (0 < t < T-1) with ``p[t] > p[t-1]`` and ``p[t] > p[t+1]`` after zeroing values below
    ``threshold`` (BaFormer Algorithm 1, line 3)."""
    p = np.where(prob >= threshold, prob, 0.0)
    if len(p) < 3:
        return np.zeros(0, dtype=np.int64)
    inner = (p[1:-1] > p[:-2]) & (p[1:-1] > p[2:])
    return np.flatnonzero(inner) + 1


def plateau_maxima(prob: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Peaks of ``prob`` above ``threshold`` where a flat top counts as one peak at its middle: every maximal run
    of equal values higher than both its neighbours (the curve's ends count as lower) gives the index
    ``(first + last) // 2``. Strict local maxima are the runs of length one. Vectorised over runs."""
    p = np.where(prob >= threshold, prob, 0.0)
    if len(p) == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(p[1:] != p[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(p)])) - 1  # inclusive
    values = p[starts]
    left = np.concatenate(([-np.inf], values[:-1]))
    right = np.concatenate((values[1:], [-np.inf]))
    peak = (values > left) & (values > right) & (values > 0)
    return (starts[peak] + ends[peak]) // 2


def nms_peaks(prob: np.ndarray, threshold: float, radius: int) -> np.ndarray:
    """Max-pool NMS: ``t`` kept when ``p[t] >= threshold`` and it is the first maximum of ``[t-r, t+r]``.

    This is the vectorised form of greedy 1-D NMS (pick the global maximum, suppress its neighbourhood, repeat);
    the two differ only on chains of near-equal peaks spaced just over ``radius`` apart.
    """
    from scipy.ndimage import maximum_filter1d  # here: not every command that imports the models needs scipy

    if len(prob) == 0:
        return np.zeros(0, dtype=np.int64)
    window_max = maximum_filter1d(prob, size=2 * radius + 1, mode="constant", cval=-np.inf)
    cand = np.flatnonzero((prob >= threshold) & (prob == window_max))
    if len(cand) < 2:
        return cand
    # plateaus: keep the first index of runs of equal maxima closer than the radius
    keep = np.concatenate(([True], np.diff(cand) > radius))
    return cand[keep]


def boundaries_to_spans(peaks: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Segment proposals ``[b_i, b_{i+1})`` from boundary frames: sorted {0, T} ∪ peaks."""
    edges = np.sort(np.concatenate(([0], peaks[(peaks > 0) & (peaks < length)], [length])))
    edges = edges[np.concatenate(([True], edges[1:] != edges[:-1]))]  # `np.unique` without its hashing (3x slower)
    return edges[:-1], edges[1:]
