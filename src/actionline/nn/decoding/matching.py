"""Bipartite matching of predictions to ground-truth instances with scipy's Hungarian solver."""

from __future__ import annotations

import numpy as np
import torch


def hungarian_match(cost: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment for a [num_pred, num_gt] cost matrix: (pred indices, gt indices).

    With more ground truths than predictions only ``num_pred`` ground truths are matched.
    """
    from scipy.optimize import linear_sum_assignment  # here: importing scipy.optimize costs every command 0.3 s

    if cost.numel() == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    c = cost.detach().float().cpu().numpy()
    if not np.isfinite(c).all():
        c = np.nan_to_num(c, nan=1e6, posinf=1e6, neginf=-1e6)
    rows, cols = linear_sum_assignment(c)
    return rows.astype(np.int64), cols.astype(np.int64)
