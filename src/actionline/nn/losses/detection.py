"""Losses of GSMT / TAGS (TAGS Sec. 3.3, Eqs. 5-9; GSMT Sec. 3.3), each on already-gathered tensors.

Where the printed equations are ambiguous the reading is stated in the docstring; tests pin each loss to a
hand-computed value.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

EPS = math.exp(-8)  # the papers' epsilon


def classification_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    focal_weight: float = 0.4,
    gamma: float = 2.0,
    alpha: float = 10.0,
    hard_negative_fraction: float = 0.1,
) -> torch.Tensor:
    """Eq. 5: ``λ1·focal CE + (1-λ1)·class-balanced logistic regression`` averaged over snippets.

    ``logits`` [N, C] (C = K + 1, background last), ``labels`` [N]. The regression output is ``r = sigmoid(logits)``
    (the same head, GSMT Sec. 3.3); its loss is ``-log r_y - α/|N| Σ_{k∈N} log(1 - r_k)`` over the |N| = K/10
    hard negatives (highest ``r`` among the other classes). The printed equation omits the minus signs of the
    log-likelihoods; λ1 = 0.4, γ = 2, α = 10 (GSMT Sec. 3.3). Reading of "class-balanced" (after the cited
    minority-class rectification loss): the regression term is averaged over *action* snippets only, the focal
    term over all snippets. Applied to every snippet, α = 10 on the negatives drives all action classes down
    on background-dominated videos and the classifier collapses to background (measured: val accuracy = the
    background fraction).
    """
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    log_p = F.log_softmax(logits, dim=1).gather(1, labels[:, None]).squeeze(1)
    focal = -((1 - log_p.exp()) ** gamma) * log_p
    num_neg = max(1, round(hard_negative_fraction * (logits.shape[1] - 1)))
    target = F.one_hot(labels, logits.shape[1]).bool()
    negatives = logits.masked_fill(target, -math.inf).topk(num_neg, dim=1).values
    regression = -F.logsigmoid(logits.gather(1, labels[:, None]).squeeze(1)) - alpha * F.logsigmoid(-negatives).mean(1)
    action = labels < logits.shape[1] - 1
    return focal_weight * focal.mean() + (1 - focal_weight) * (regression * action).sum() / action.sum().clamp_min(1)


def erode(masks: torch.Tensor, kernel: int) -> torch.Tensor:
    """Differentiable flat morphological erosion of soft masks [N, T] (a running minimum; ends are not edges)."""
    return -F.max_pool1d(-masks[:, None], kernel, stride=1, padding=kernel // 2).squeeze(1)


def boundary_band(masks: torch.Tensor, kernel: int) -> torch.Tensor:
    """``Φ(m) = m - erode(m)``: the part of a mask within ``kernel // 2`` snippets of its edges."""
    return masks - erode(masks, kernel)


def mask_loss(
    pred: torch.Tensor, target: torch.Tensor, kernel: int = 7, dice_weight: float = 0.4, overlap: float = 0.5
) -> torch.Tensor:
    """Eq. 6: boundary-IoU loss + λ2 · dice loss, averaged over masks. ``pred`` (sigmoid) and ``target`` [N, T].

    Reading of Eq. 6 (its printed sign would reward errors): ``1 - |Φm∩Φg| / |Φm∪Φg|`` with soft intersection
    and union of the boundary bands (``Φ`` = erosion-based band, kernel 7), plus the normalised L2 term
    ``||m - g||_2 / c`` (c = ground-truth length) for masks whose boundaries do not overlap, i.e. whose soft
    boundary intersection is below ``overlap`` snippets, as the text says. The dice term is the V-Net dice of
    the cited work, ``1 - 2 m·g / Σ(m² + g²)``, with λ2 = 0.4.
    """
    if pred.shape[0] == 0:
        return pred.sum() * 0.0
    bp, bg = boundary_band(pred, kernel), boundary_band(target, kernel)
    inter = (bp * bg).sum(1)
    union = (bp + bg - bp * bg).sum(1)
    biou = 1 - inter / (union + EPS)
    length = target.sum(1).clamp_min(1.0)
    l2 = torch.linalg.vector_norm(pred - target, dim=1) / length
    biou = biou + torch.where(inter < overlap, l2, torch.zeros_like(l2))
    return (biou + dice_weight * vnet_dice(pred, target)).mean()


def vnet_dice(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """V-Net dice loss per mask, ``1 - 2 m·g / Σ(m² + g²)``; ``pred`` (sigmoid) and ``target`` [N, T] -> [N]."""
    return 1 - 2 * (pred * target).sum(1) / ((pred**2 + target**2).sum(1) + EPS)


def bce_dice_loss(logits: torch.Tensor, target: torch.Tensor, bce_weight: float = 0.4) -> torch.Tensor:
    """The released code's mask loss: ``w`` · class-balanced BCE + ``(1 - w)`` · dice, w = 0.4, averaged over
    masks. Unlike Eq. 6 it pushes a flat background all the way down (Eq. 6 measured to stall at mask IoU 0.85
    with background 0.2-0.3 on free mask values; this reaches 1.00)."""
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    dice = vnet_dice(torch.sigmoid(logits), target).mean()
    return bce_weight * balanced_bce(logits, target) + (1 - bce_weight) * dice


def balanced_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Class-balanced binary cross-entropy of the released code's mask loss: positives and negatives each carry
    half of the weight, whatever their counts."""
    pos = target > 0.5
    n = target.numel()
    num_pos = pos.sum().clamp_min(1)
    weight = torch.where(pos, 0.5 * n / num_pos, 0.5 * n / (n - num_pos).clamp_min(1))
    return F.binary_cross_entropy_with_logits(logits, target, weight=weight)


def _prefix(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x.cumsum(-1), (1, 0))


def outer_inner_contrast(masks: torch.Tensor, thresholds: torch.Tensor, delta: float = 0.25) -> torch.Tensor:
    """Eq. 7: the score ``R(π[j])`` of each mask [N, T] binarised at each threshold [J] -> [N, J].

    Every run ``i`` of the binarised mask (foreground or background, L runs) scores the mean of ``u_i`` inside
    minus the mean of ``u_i`` over ``⌈δ l_i⌉`` snippets on each side (clipped at the video ends; a run spanning
    the video has no outside); ``u = m`` for foreground runs and ``1 - m`` for background ones. R is the mean over
    runs. A binarisation without any foreground is no detection and scores ``-inf`` (otherwise an all-zero mask
    would score a perfect 1). Vectorised: every position carries its run's start, end and score.
    """
    n, t = masks.shape
    m = masks[:, None, :].expand(n, len(thresholds), t)
    fg = m > thresholds[None, :, None]
    pos = torch.arange(t, device=masks.device).expand_as(fg)
    starts_here = torch.ones_like(fg)
    starts_here[..., 1:] = fg[..., 1:] != fg[..., :-1]
    ends_here = torch.ones_like(fg)
    ends_here[..., :-1] = starts_here[..., 1:]
    start = torch.where(starts_here, pos, 0).cummax(-1).values
    end = torch.where(ends_here, pos, t - 1).flip(-1).cummin(-1).values.flip(-1)
    length = (end - start + 1).to(masks.dtype)
    runs = starts_here.sum(-1).to(masks.dtype)
    pm = _prefix(m)
    m_sum = lambda a, b: pm.gather(-1, b) - pm.gather(-1, a)  # noqa: E731  sum of m over [a, b)
    inside = m_sum(start, end + 1)
    inside = torch.where(fg, inside, length - inside)
    margin = torch.ceil(delta * length).long()
    left_a, right_b = (start - margin).clamp_min(0), (end + 1 + margin).clamp_max(t)
    outside_count = (start - left_a + right_b - end - 1).to(masks.dtype)
    outside = m_sum(left_a, start) + m_sum(end + 1, right_b)
    outside = torch.where(fg, outside, outside_count - outside)
    score = inside / length - torch.where(outside_count > 0, outside / outside_count.clamp_min(1), 0.0)
    contrast = (score / length).sum(-1) / runs
    return torch.where(fg.any(-1), contrast, -torch.inf)


def redundancy_loss(
    pred: torch.Tensor, target: torch.Tensor, thresholds: torch.Tensor, delta: float = 0.25, beta: float = 2.0
) -> torch.Tensor:
    """Eq. 8: ``(1 - R(π[j*]))^β · ||m - g||²/T`` averaged over foreground masks, with ``j* = argmax_j R(π[j])``.

    The squared error is averaged over the T positions (a mean squared error, as the released code's loss): the
    printed L2 norm dominated the total loss and drove the masks of short instances to zero everywhere
    (measured: mask IoU 0.009 when overfitting 10 videos, 0.23 without the term). The quality weight is computed
    without gradient (it selects and weights; the error carries the gradient); a mask that no threshold
    activates gets weight 1.
    """
    if pred.shape[0] == 0:
        return pred.sum() * 0.0
    with torch.no_grad():
        best = outer_inner_contrast(pred, thresholds, delta).max(dim=1).values
        best = torch.where(torch.isfinite(best), best, 0.0)  # nothing activated: plain L2
    return ((1 - best) ** beta * ((pred - target) ** 2).mean(dim=1)).mean()


def consistency_loss(
    probs: torch.Tensor,
    class_feats: torch.Tensor,
    masks: torch.Tensor,
    mask_feats: torch.Tensor,
    class_threshold: float = 0.3,
    mask_threshold: float = 0.5,
    topk: int = 40,
) -> torch.Tensor:
    """Eq. 9: ``1 - cos(F_clf, F_mask)`` averaged over videos.

    ``probs`` [B, K+1, T] class probabilities and ``class_feats`` = E_p [B, K+1, T] (a 1-D conv of the embedding);
    ``masks`` [B, T, T] (column t = mask of snippet t) and ``mask_feats`` = E_m [B, T, T]. Reading of the printed
    definitions: F_clf = the top-k over snippets of the per-snippet maximum over the K action classes of
    ``η(P - θ_c) * E_p``; F_mask = the top-k over snippets of ``σ(mean-pool over the mask axis of E_m * η(M - θ_m))``
    with θ_c = 0.3, θ_m = 0.5, k = 40 (TAGS Sec. 4). η binarises, so gradient reaches the embedding through E_p, E_m.
    """
    k = min(topk, probs.shape[-1])
    clf = ((probs > class_threshold).to(class_feats.dtype) * class_feats)[:, :-1].max(dim=1).values
    msk = torch.sigmoid(((masks > mask_threshold).to(mask_feats.dtype) * mask_feats).mean(dim=1))
    f_clf = clf.topk(k, dim=-1).values
    f_mask = msk.topk(k, dim=-1).values
    return (1 - F.cosine_similarity(f_clf, f_mask, dim=-1, eps=1e-8)).mean()
