"""Temporal action detection mAP with the ActivityNet evaluator's exact semantics.

Per class and tIoU threshold:

- predictions in descending score order (ties: later prediction first, as ``argsort()[::-1]`` of a stable sort);
- each prediction is matched to the highest-IoU ground truth of its class in its video that is still unmatched and
  has IoU >= threshold; otherwise it is a false positive; predictions on videos without ground truth of that
  class are false positives;
- AP is the all-point interpolated area under the precision/recall curve (precision made monotone from the right);
- mAP averages AP over the classes present in the ground truth (a class without predictions scores 0);
- ground-truth segments of zero length (ActivityNet has some) stay positives that no prediction can match.

THUMOS14 reports thresholds 0.3:0.1:0.7, ActivityNet 0.5:0.05:0.95; the average mAP is the mean over thresholds.
Times are in seconds; videos are matched by id with a leading ``v_`` ignored (BSN-style files carry it,
submissions do not).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from actionline.errors import ActionlineError
from actionline.timeline import Instance, canonical_video_id

THUMOS_TIOU: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)
ACTIVITYNET_TIOU: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def segment_iou(segment: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """tIoU of one ``[start, end]`` with each row of ``candidates`` [N, 2] (ActivityNet ``segment_iou``)."""
    inter = (np.minimum(segment[1], candidates[:, 1]) - np.maximum(segment[0], candidates[:, 0])).clip(0)
    union = (candidates[:, 1] - candidates[:, 0]) + (segment[1] - segment[0]) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """All-point interpolated AP (ActivityNet ``interpolated_prec_rec``)."""
    mprec = np.concatenate(([0.0], precision, [0.0]))
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def average_precision(gts: Sequence[Instance], preds: Sequence[Instance], thresholds: Sequence[float]) -> np.ndarray:
    """AP of one class at every threshold. Greedy in score order, vectorised over thresholds."""
    thr = np.asarray(thresholds, dtype=np.float64)
    if not gts:
        return np.full(len(thr), np.nan)
    if not preds:
        return np.zeros(len(thr))
    by_video: dict[str, list[int]] = defaultdict(list)
    for k, g in enumerate(gts):
        by_video[canonical_video_id(g.video)].append(k)
    gt_segments = np.array([[g.start, g.end] for g in gts], dtype=np.float64)
    scores = np.array([p.score for p in preds], dtype=np.float64)
    order = np.argsort(scores, kind="stable")[::-1]
    locked = np.zeros((len(thr), len(gts)), dtype=bool)
    tp = np.zeros((len(thr), len(preds)))
    for rank, i in enumerate(order):
        p = preds[i]
        candidates = by_video.get(canonical_video_id(p.video))
        if not candidates:
            continue  # no ground truth of this class in this video: a false positive at every threshold
        cand = np.asarray(candidates)
        iou = segment_iou(np.array([p.start, p.end]), gt_segments[cand])
        by_iou = np.argsort(iou, kind="stable")[::-1]
        ok = (iou[by_iou][None, :] >= thr[:, None]) & ~locked[:, cand[by_iou]]
        has = ok.any(axis=1)
        first = ok.argmax(axis=1)
        rows = np.flatnonzero(has)
        tp[rows, rank] = 1.0
        locked[rows, cand[by_iou[first[rows]]]] = True
    tp_cum = np.cumsum(tp, axis=1)
    fp_cum = np.cumsum(1.0 - tp, axis=1)
    recall = tp_cum / len(gts)
    precision = tp_cum / (tp_cum + fp_cum)
    return np.array([interpolated_ap(precision[t], recall[t]) for t in range(len(thr))])


@dataclass
class DetectionScores:
    """mAP per threshold (percent), the average, and AP per class."""

    thresholds: tuple[float, ...]
    map: dict[float, float]
    average_map: float
    per_class: dict[str, list[float]] = field(default_factory=dict)
    num_videos: int = 0
    num_predictions: int = 0

    def as_dict(self) -> dict:
        out = {f"mAP@{t:g}": v for t, v in self.map.items()}
        out["avg_mAP"] = self.average_map
        out["settings"] = {
            "tiou_thresholds": list(self.thresholds),
            "average": "over classes in the ground truth",
            "interpolation": "all-point (ActivityNet)",
            "num_videos": self.num_videos,
            "num_predictions": self.num_predictions,
        }
        return out

    def headline(self) -> str:
        cells = "  ".join(f"{t:g}: {v:.2f}" for t, v in self.map.items())
        return f"mAP@tIoU {cells}  | avg {self.average_map:.2f}"


def evaluate_detection(
    gts: Sequence[Instance], preds: Sequence[Instance], thresholds: Sequence[float] = THUMOS_TIOU
) -> DetectionScores:
    """mAP over the classes present in ``gts``. Predictions of classes absent from the ground truth are ignored,
    as by the ActivityNet evaluator (they cannot be scored against any class)."""
    if not gts:
        raise ActionlineError("no ground-truth instances to evaluate against")
    if not thresholds or any(not 0 < t <= 1 for t in thresholds):
        raise ActionlineError(f"tIoU thresholds must lie in (0, 1], got {list(thresholds)}")
    gt_by_class: dict[str, list[Instance]] = defaultdict(list)
    pred_by_class: dict[str, list[Instance]] = defaultdict(list)
    for g in gts:  # zero-length ground truth (present in ActivityNet) is kept: a positive nothing can match
        gt_by_class[g.label].append(g)
    for p in preds:
        pred_by_class[p.label].append(p)
    per_class = {
        c: average_precision(gt_by_class[c], pred_by_class.get(c, []), thresholds) for c in sorted(gt_by_class)
    }
    ap = np.stack(list(per_class.values()))  # [classes, thresholds]
    maps = 100.0 * ap.mean(axis=0)
    return DetectionScores(
        thresholds=tuple(float(t) for t in thresholds),
        map={float(t): float(m) for t, m in zip(thresholds, maps, strict=True)},
        average_map=float(maps.mean()),
        per_class={c: [100.0 * float(x) for x in v] for c, v in per_class.items()},
        num_videos=len({canonical_video_id(g.video) for g in gts}),
        num_predictions=len(preds),
    )


def parse_thresholds(spec: str) -> tuple[float, ...]:
    """``"0.3:0.7:0.1"`` (start:stop:step, inclusive) or ``"0.5,0.75,0.95"`` -> thresholds."""
    try:
        if ":" in spec:
            start, stop, step = (float(x) for x in spec.split(":"))
            if step <= 0:
                raise ValueError("step must be positive")
            n = int(np.floor((stop - start) / step + 1e-9)) + 1
            return tuple(round(start + k * step, 6) for k in range(n))
        return tuple(float(x) for x in spec.split(","))
    except ValueError as exc:
        raise ActionlineError(f"--tiou {spec!r}: expected start:stop:step or a comma list ({exc})") from None
