"""Viterbi alignment of frame scores to a given transcript with a Poisson length model (MuCon-full and the
alignment mode, dissertation Sec. 9.3.4; specs §2.7), in numpy.

Maximises ``Σ_t log p_t(a(t)) + Σ_m log Pois(l_m; λ_m)`` over segmentations of T frames into the transcript's M
segments in order. Boundaries are hypothesised every ``step`` frames (30 in the reference) and at T; segments are
at most ``max_length`` frames (2000); each Poisson log-pmf is renormalised by its value at round(λ). The dynamic
programme runs over the boundary grid with cumulative sums: O(M G^2) for G = T / step grid points, no loop over
frames.
"""

from __future__ import annotations

import numpy as np

from actionline.errors import ActionlineError


def poisson_log_pmf(lengths: np.ndarray, rate: float) -> np.ndarray:
    """``log Pois(l; λ) - log Pois(round(λ); λ)``."""
    from scipy.special import gammaln  # here: not every command that imports the models needs scipy

    rate = max(float(rate), 1e-3)

    def raw(k):
        return k * np.log(rate) - rate - gammaln(k + 1.0)

    return raw(np.asarray(lengths, dtype=np.float64)) - raw(float(round(rate)))


def covering_max_length(max_length: int, num_frames: int, num_segments: int, step: int) -> int:
    """``max_length`` widened so that ``num_segments`` segments on the ``step`` grid can cover ``num_frames``
    (one predicted segment over a long video would otherwise have no alignment): ``max(L, ceil(T / M) + step)``."""
    return max(max_length, -(-num_frames // max(num_segments, 1)) + step)


def viterbi_align(
    log_probs: np.ndarray,
    transcript: np.ndarray,
    rates: np.ndarray,
    step: int = 30,
    max_length: int = 2000,
    return_score: bool = False,
):
    """Frame labels [T] aligning ``transcript`` [M] (class ids) to ``log_probs`` [T, C] with Poisson rates [M]
    (expected lengths in frames); with ``return_score`` also the alignment's log-score. Raises when the
    transcript cannot fit (more segments than grid points)."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    transcript = np.asarray(transcript, dtype=np.int64)
    T, M = len(log_probs), len(transcript)
    grid = np.unique(np.concatenate([np.arange(0, T, max(1, step)), [T]]))
    G = len(grid)
    if M == 0 or M > G - 1:
        raise ActionlineError(f"cannot align a transcript of {M} segments to {T} frames with step {step}")
    cum = np.concatenate([np.zeros((1, log_probs.shape[1])), np.cumsum(log_probs, axis=0)])[grid]  # [G, C]
    span = grid[None, :] - grid[:, None]  # [from, to]
    allowed = (span > 0) & (span <= max_length)
    score = np.full(G, -np.inf)
    score[0] = 0.0
    back = np.zeros((M, G), dtype=np.int64)
    for m, (cls, rate) in enumerate(zip(transcript, rates, strict=True)):
        frames = cum[:, cls][None, :] - cum[:, cls][:, None]  # [from, to] summed log-probs
        length_term = poisson_log_pmf(np.maximum(span, 0), rate)
        total = np.where(allowed, score[:, None] + frames + length_term, -np.inf)
        back[m] = total.argmax(axis=0)
        score = total.max(axis=0)
    if not np.isfinite(score[-1]):
        raise ActionlineError(f"no alignment of {M} segments to {T} frames within max_length {max_length}")
    ends = [G - 1]
    for m in range(M - 1, 0, -1):
        ends.append(back[m, ends[-1]])
    bounds = grid[np.array([0, *ends[::-1]])]
    labels = np.repeat(transcript, np.diff(bounds))
    return (labels, float(score[-1])) if return_score else labels
