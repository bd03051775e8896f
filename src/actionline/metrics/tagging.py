"""Multi-label, multi-task tagging metrics (HVU, dissertation ch. 5), pure numpy.

Per-category mAP: for each of the categories, the mean AP over its labels, computed only on the clips that have at
least one label of that category (the HVU / mmaction2 protocol), labels without a positive among them dropped.
Overall: the unweighted mean of the category mAPs (verified against the thesis: HATNet (55.8 + 34.2 + 51.8 + 38.5
+ 33.6 + 26.1) / 6 = 40.0).

AP definitions (``ap``): ``step`` (headline) Σ_i (R_i - R_{i-1}) P_i over distinct scores, scikit-learn's
``average_precision_score``; ``trapezoid``: the area under the precision-recall curve by the trapezoidal rule (the
thesis mentions it), from recall 0 at the first precision.

Clip protocols (``clips``): ``labelled`` (headline, HVU / mmaction2) scores a tag over the clips with a label of its
category; ``all`` over every clip, a clip without a label of the category counting as a negative of its tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from actionline.errors import ActionlineError
from actionline.metrics.classification import average_precision

APDefinition = Literal["step", "trapezoid"]
ClipProtocol = Literal["labelled", "all"]


def trapezoid_ap(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the precision-recall curve (trapezoidal rule over the distinct score thresholds); NaN without
    positives."""
    positives = np.asarray(positives, dtype=bool)
    if not positives.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    s, y = np.asarray(scores, dtype=np.float64)[order], positives[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last]
    precision, recall = np.r_[tp[0] / (last[0] + 1), tp / (last + 1)], np.r_[0.0, tp / y.sum()]
    return float(np.sum(np.diff(recall) * (precision[1:] + precision[:-1]) / 2))


def tag_average_precisions(
    scores: np.ndarray,
    targets: np.ndarray,
    tag_category: Sequence[int],
    ap: APDefinition = "step",
    clips: ClipProtocol = "labelled",
) -> np.ndarray:
    """AP (fraction) of every tag [tags] over the clips with a label of that tag's category (``clips="all"``: over
    every clip); NaN for a tag without a positive among them. ``scores`` and ``targets`` are [clips, tags],
    ``tag_category`` the category of every tag."""
    scores, targets = np.asarray(scores, dtype=np.float64), np.asarray(targets, dtype=bool)
    tag_category = np.asarray(tag_category)
    if scores.ndim != 2 or scores.shape != targets.shape or scores.shape[1] != len(tag_category):
        raise ActionlineError(f"scores {scores.shape}, targets {targets.shape} and {len(tag_category)} tags disagree")
    fn = average_precision if ap == "step" else trapezoid_ap
    if clips not in ("labelled", "all"):
        raise ActionlineError(f"clips must be 'labelled' or 'all', got {clips!r}")
    labelled = {  # the clips each category is scored on
        c: targets[:, tag_category == c].any(axis=1) if clips == "labelled" else np.ones(len(targets), dtype=bool)
        for c in np.unique(tag_category)
    }
    return np.array([
        fn(scores[labelled[c], t], targets[labelled[c], t]) if targets[labelled[c], t].any() else np.nan
        for t, c in enumerate(tag_category)
    ])  # fmt: skip


def category_map(
    scores: np.ndarray,
    targets: np.ndarray,
    categories: Sequence[str],
    tag_category: Sequence[int],
    ap: APDefinition = "step",
    clips: ClipProtocol = "labelled",
) -> dict[str, float]:
    """mAP (percent) per category and ``overall``; ``scores`` and ``targets`` are [clips, tags], ``tag_category``
    the category index of every tag."""
    aps, tag_category = tag_average_precisions(scores, targets, tag_category, ap, clips), np.asarray(tag_category)
    out: dict[str, float] = {}
    for c, name in enumerate(categories):
        present = aps[tag_category == c]
        present = present[present == present]
        out[name] = 100.0 * float(np.mean(present)) if len(present) else float("nan")
    valid = [v for v in out.values() if v == v]
    out["overall"] = float(np.mean(valid)) if valid else float("nan")
    return out
