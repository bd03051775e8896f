"""Non-maximum suppression for temporal segments, in numpy: hard NMS and Soft-NMS (Bodla et al., ICCV 2017).

No compiled extension. Each step is vectorised over the remaining candidates; the number of steps is at most the
number of kept segments (``top_k``).
"""

from __future__ import annotations

import typing
from typing import Literal

import numpy as np

from actionline.errors import ActionlineError

NMSMethod = Literal["gaussian", "linear", "hard"]
METHODS: tuple[str, ...] = typing.get_args(NMSMethod)


def pairwise_iou(segment: np.ndarray, others: np.ndarray) -> np.ndarray:
    inter = (np.minimum(segment[1], others[:, 1]) - np.maximum(segment[0], others[:, 0])).clip(0)
    union = (segment[1] - segment[0]) + (others[:, 1] - others[:, 0]) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def soft_nms(
    segments: np.ndarray,
    scores: np.ndarray,
    method: str = "gaussian",
    sigma: float = 0.5,
    iou_threshold: float = 0.5,
    score_threshold: float = 1e-3,
    top_k: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Suppress overlapping segments [N, 2]. Returns (kept indices in selection order, their decayed scores).

    ``gaussian``: every remaining score is multiplied by ``exp(-iou^2 / sigma)``; ``linear``: by ``1 - iou`` where
    ``iou > iou_threshold``; ``hard``: classic NMS, removed where ``iou > iou_threshold``. Segments whose score
    falls below ``score_threshold`` are dropped; at most ``top_k`` are kept.
    """
    if method not in METHODS:
        raise ActionlineError(f"NMS method must be one of {', '.join(METHODS)}, got {method!r}")
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    live = np.asarray(scores, dtype=np.float64).copy()
    remaining = np.flatnonzero(live >= score_threshold)
    limit = len(segments) if top_k is None else top_k
    kept, kept_scores = [], []
    while len(remaining) and len(kept) < limit:
        best = remaining[np.argmax(live[remaining])]
        kept.append(best)
        kept_scores.append(live[best])
        remaining = remaining[remaining != best]
        if not len(remaining):
            break
        iou = pairwise_iou(segments[best], segments[remaining])
        if method == "gaussian":
            live[remaining] *= np.exp(-(iou**2) / sigma)
        elif method == "linear":
            live[remaining] *= np.where(iou > iou_threshold, 1.0 - iou, 1.0)
        else:
            remaining = remaining[iou <= iou_threshold]
        remaining = remaining[live[remaining] >= score_threshold]
    return np.asarray(kept, dtype=np.int64), np.asarray(kept_scores)


def nms(segments: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5, top_k: int | None = None) -> np.ndarray:
    """Classic (hard) NMS: indices kept, in descending score order."""
    return soft_nms(segments, scores, method="hard", iou_threshold=iou_threshold, score_threshold=-np.inf, top_k=top_k)[
        0
    ]
