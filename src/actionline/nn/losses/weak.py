"""Losses of SCT (dissertation Sec. 8.3.4; specs §1.3-1.4) and MuCon (Sec. 9.3.3; specs §2.5), one function each on
one video, so each can be checked against a hand-computed value. Where thesis [T] and code [C] differ the code is
the default, as the notes prescribe.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


# --- SCT (action sets) ------------------------------------------------------------------------------------------
def sct_set_loss(region_log_probs: torch.Tensor, action_set: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """L_S [C]: BCE(max_k A[a, k], 1) over the set's classes a, weighted mean (background weight 0.001).

    Takes log A [C, K]: ``-log max_k A = -max_k log A`` keeps its gradient when the sharp softmax (temperature
    0.1) puts a class near 0, where ``-log(clamp(A))`` would stop learning (measured: a seed that started there
    never moved)."""
    top = region_log_probs[action_set].max(dim=1).values
    w = weights[action_set]
    return (-top * w).sum() / w.sum().clamp_min(1e-12)


def sct_region_loss(region_log_probs: torch.Tensor, action_set: torch.Tensor) -> torch.Tensor:
    """L_R: every region should belong to some class of the set: ``-(1/K) Σ_k log max_{m∈set} A[m, k]``, from
    log A [C, K] as in `sct_set_loss`."""
    return -region_log_probs[action_set].max(dim=0).values.mean()


def sct_inverse_sparsity(region_probs: torch.Tensor, action_set: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """R_I [C]: every class of the set should cover some regions: weighted mean over the set of
    ``1 - mean_k A[m, k]``."""
    w = weights[action_set]
    return ((1 - region_probs[action_set].mean(dim=1)) * w).sum() / w.sum().clamp_min(1e-12)


def sct_temporal_consistency(region_probs: torch.Tensor, action_set: torch.Tensor) -> torch.Tensor:
    """L_C, dissertation Eq. 8.8: ``(1 / (M K)) Σ_m Σ_k |A[m, k] - A[m, k-1]|`` over the M rows of the action
    set and the K regions. The released code sums without the ``1 / (M K)``; unnormalised, the term is 250-3,400x
    larger, dominates the first steps and collapses predictions onto one class (measured), so the thesis'
    normalisation is used."""
    rows = region_probs[action_set]
    return (rows[:, 1:] - rows[:, :-1]).abs().sum() / (rows.shape[0] * rows.shape[1])


def sct_self_supervision(
    upsampled: torch.Tensor, frame_logits: torch.Tensor, action_set: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """L_T: masks ``W = Y[set]`` [M, T] pool the frame branch ``V = W S^T / T`` [M, C]; cross-entropy of V against
    the set's classes (class-weighted)."""
    pooled = upsampled[action_set] @ frame_logits.T / upsampled.shape[1]
    return F.cross_entropy(pooled, action_set, weight=weights)


def sct_length_regulariser(length_logits: torch.Tensor) -> torch.Tensor:
    """R_L [C]: ``Σ_k ReLU(l_k - 1) + ReLU(-l_k - 1)`` on the raw length outputs."""
    return (F.relu(length_logits - 1) + F.relu(-length_logits - 1)).sum()


# --- MuCon (transcripts) ----------------------------------------------------------------------------------------
def mutual_consistency_loss(
    frame_logits: torch.Tensor, masks: torch.Tensor, lengths: torch.Tensor, transcript: torch.Tensor
) -> torch.Tensor:
    """L_mu [C]: ``g_m = Σ_t Y[t] w_m[t] / l'_m`` (mask-pooled frame logits), mean over segments of
    ``-log softmax(g_m)[a_m]``. ``frame_logits`` [T, N], ``masks`` [M, T], ``lengths`` [M] (absolute)."""
    pooled = masks @ frame_logits / lengths[:, None].clamp_min(1e-6)
    return F.cross_entropy(pooled, transcript)


def transcript_loss(step_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """L_t: summed cross-entropy of the M + 1 decoder steps against the transcript followed by EOS."""
    return F.cross_entropy(step_logits, targets, reduction="sum")


def length_regulariser(length_logits: torch.Tensor, bound: float = 2.0) -> torch.Tensor:
    """L_l: ``Σ_m max(0, -l_m - 2) + max(0, l_m - 2)``."""
    return (F.relu(-length_logits - bound) + F.relu(length_logits - bound)).sum()
