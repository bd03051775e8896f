"""Temporal action segmentation metrics with the community scripts' exact semantics.

Follows the MS-TCN ``eval.py`` conventions (specs/reference-implementations-notes.md §2):

- **accuracy / MoF**: correct frames over all frames of the split, background included;
- **Edit**: per video ``(1 - Levenshtein(pred, gt) / max(len)) * 100`` over segment label sequences with the
  background labels removed, averaged over videos;
- **F1@k**: TP/FP/FN summed over all videos of the split (micro) and F1 computed once; each predicted
  segment takes its best-IoU same-class ground-truth segment, TP if IoU >= k and that segment is not yet hit.

The background set is an explicit setting (default: labels named ``background``, as the scripts do) and is
reported with every score. The segment end is exclusive (``i + 1``); ``reference_off_by_one=True`` reproduces
the copies (e.g. ASFormer's ``eval.py``) that end the last segment one frame early.

Also: MoF without background frames, matching score (dissertation Eq. 2.16) and IoU / IoD of the ISBA code
(specs/weak-supervision-sct-mucon.md §3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from actionline.errors import ActionlineError
from actionline.timeline import runs

DEFAULT_BACKGROUND: tuple[str, ...] = ("background",)
F1_THRESHOLDS: tuple[float, ...] = (0.10, 0.25, 0.50)


@dataclass(frozen=True)
class SegmentationSettings:
    """Every convention a score depends on; printed next to the numbers."""

    background: tuple[str, ...] = DEFAULT_BACKGROUND
    f1_thresholds: tuple[float, ...] = F1_THRESHOLDS
    reference_off_by_one: bool = False

    def describe(self) -> str:
        bg = ", ".join(self.background) if self.background else "none"
        off = "; reference off-by-one segment end" if self.reference_off_by_one else ""
        return f"background excluded from Edit/F1: [{bg}]; F1 micro over videos{off}"


# --- segments ---------------------------------------------------------------------------------------------
def segments(labels: np.ndarray, background: Iterable = (), off_by_one: bool = False):
    """(labels, starts, ends) of the runs in ``labels``, dropping background runs. Ends are exclusive."""
    starts, ends, values = runs(np.asarray(labels))
    if off_by_one and len(ends):
        ends = ends.copy()
        ends[-1] -= 1
    bg = list(background)
    if bg:
        keep = ~np.isin(values, bg)
        values, starts, ends = values[keep], starts[keep], ends[keep]
    return values, starts, ends


# --- edit distance ----------------------------------------------------------------------------------------
def levenshtein(a: np.ndarray, b: np.ndarray) -> int:
    """Levenshtein distance between two sequences, one numpy row per element of ``a``.

    The in-row insertion recurrence ``row[j] = min(tmp[j], row[j-1] + 1)`` is solved in closed form with a
    running minimum of ``tmp[j] - j``.
    """
    a, b = np.asarray(a), np.asarray(b)
    n = len(b)
    steps = np.arange(n + 1)
    row = steps.copy()
    for x in a:
        tmp = np.empty(n + 1, dtype=np.int64)
        tmp[0] = row[0] + 1
        tmp[1:] = np.minimum(row[1:] + 1, row[:-1] + (b != x))
        row = np.minimum.accumulate(tmp - steps) + steps
    return int(row[-1])


def edit_score(pred: np.ndarray, gt: np.ndarray, background: Iterable = ()) -> float:
    """Segmental edit score of one video, in percent."""
    p = segments(pred, background)[0]
    g = segments(gt, background)[0]
    longest = max(len(p), len(g))
    if longest == 0:
        return 100.0
    return (1.0 - levenshtein(p, g) / longest) * 100.0


# --- F1@k -------------------------------------------------------------------------------------------------
def f1_counts(
    pred: np.ndarray, gt: np.ndarray, threshold: float, background: Iterable = (), off_by_one: bool = False
) -> tuple[int, int, int]:
    """(TP, FP, FN) of one video at IoU ``threshold`` with the MS-TCN greedy matching, vectorised."""
    p_lab, p_start, p_end = segments(pred, background, off_by_one)
    g_lab, g_start, g_end = segments(gt, background, off_by_one)
    if len(p_lab) == 0:
        return 0, 0, len(g_lab)
    if len(g_lab) == 0:
        return 0, len(p_lab), 0
    inter = np.minimum(p_end[:, None], g_end[None]) - np.maximum(p_start[:, None], g_start[None])
    union = np.maximum(p_end[:, None], g_end[None]) - np.minimum(p_start[:, None], g_start[None])
    iou = inter / union * (p_lab[:, None] == g_lab[None])
    best = iou.argmax(axis=1)  # first maximum, as np.argmax in the reference loop
    ok = np.flatnonzero(iou[np.arange(len(p_lab)), best] >= threshold)
    # A prediction is a TP when it is the first qualifying prediction to hit its best ground-truth segment.
    tp = len(np.unique(best[ok]))
    return tp, len(p_lab) - tp, len(g_lab) - tp


def f1_from_counts(tp: int, fp: int, fn: int) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall) * 100.0


# --- weak-supervision metrics -----------------------------------------------------------------------------
def matching_score(pred: np.ndarray, gt: np.ndarray, background: Iterable = ()) -> float:
    """Dissertation Eq. 2.16: ``2 * matches / (|A| + |Â|)`` over transcripts, in [0, 1].

    Matches are the aligned equal pairs of a minimum-cost Levenshtein alignment of the two transcripts; among
    alignments of equal cost the one with the most matches is taken.
    """
    a = segments(pred, background)[0]
    b = segments(gt, background)[0]
    if len(a) + len(b) == 0:
        return 1.0
    big = len(a) + len(b) + 1  # cost = big * edits - matches: edits first, then most matches
    n = len(b)
    steps = np.arange(n + 1) * big
    row = steps.copy()
    for x in a:
        tmp = np.empty(n + 1, dtype=np.int64)
        tmp[0] = row[0] + big
        tmp[1:] = np.minimum(row[1:] + big, row[:-1] + np.where(b == x, -1, big))
        row = np.minimum.accumulate(tmp - steps) + steps
    cost = int(row[-1])
    edits = -(-cost // big)  # ceil: cost = big*edits - matches with 0 <= matches < big
    matches = big * edits - cost
    return 2.0 * matches / (len(a) + len(b))


def iou_iod(pred: np.ndarray, gt: np.ndarray, background: Iterable = ()) -> tuple[float, float]:
    """Per-video IoU (Jaccard) and IoD of the ISBA code: mean over GT segments of the best same-label
    predicted segment's ``|g ∩ p| / |g ∪ p|`` (union = max end - min start) and ``|g ∩ p| / |p|``."""
    p_lab, p_start, p_end = segments(pred, background)
    g_lab, g_start, g_end = segments(gt, background)
    if len(g_lab) == 0:
        return float("nan"), float("nan")
    if len(p_lab) == 0:
        return 0.0, 0.0
    inter = np.clip(np.minimum(g_end[:, None], p_end[None]) - np.maximum(g_start[:, None], p_start[None]), 0, None)
    union = np.maximum(g_end[:, None], p_end[None]) - np.minimum(g_start[:, None], p_start[None])
    same = g_lab[:, None] == p_lab[None]
    iou = np.where(same, inter / union, 0.0).max(axis=1)
    iod = np.where(same, inter / (p_end - p_start)[None], 0.0).max(axis=1)
    return float(iou.mean()), float(iod.mean())


# --- the split-level report -------------------------------------------------------------------------------
@dataclass
class SegmentationScores:
    """Split-level scores in percent (matching score, IoU and IoD too), with the settings that produced them."""

    acc: float
    edit: float
    f1: dict[float, float]
    acc_no_bg: float
    matching: float
    iou: float
    iod: float
    num_videos: int
    num_frames: int
    settings: SegmentationSettings = field(default_factory=SegmentationSettings)

    def as_dict(self) -> dict:
        out = {"acc": self.acc, "edit": self.edit}
        out.update({f"f1@{round(k * 100)}": v for k, v in self.f1.items()})
        out.update(
            {
                "acc_no_bg": self.acc_no_bg,
                "matching": self.matching,
                "iou": self.iou,
                "iod": self.iod,
                "num_videos": self.num_videos,
                "num_frames": self.num_frames,
                "settings": {
                    "background": list(self.settings.background),
                    "f1_thresholds": list(self.settings.f1_thresholds),
                    "f1_average": "micro over videos",
                    "edit_average": "macro over videos",
                    "acc": "all frames, background included",
                    "reference_off_by_one": self.settings.reference_off_by_one,
                },
            }
        )
        return out

    def headline(self) -> str:
        f1 = " ".join(f"F1@{round(k * 100)} {v:.1f}" for k, v in self.f1.items())
        return f"Acc {self.acc:.1f}  Edit {self.edit:.1f}  {f1}"


def evaluate_segmentation(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    settings: SegmentationSettings | None = None,
    videos: Sequence[str] | None = None,
) -> SegmentationScores:
    """Score a split. ``preds``/``gts`` are per-video dense labels (class names or indices, same kind).

    The background set must be given in the same kind as the labels (names for names, indices for indices).
    """
    settings = settings or SegmentationSettings()
    if len(preds) != len(gts):
        raise ActionlineError(f"{len(preds)} predictions for {len(gts)} ground-truth videos")
    if not gts:
        raise ActionlineError("nothing to evaluate: no videos")
    bg = list(settings.background)
    correct = total = correct_fg = total_fg = 0
    edits, matchings, ious, iods = [], [], [], []
    counts = np.zeros((len(settings.f1_thresholds), 3), dtype=np.int64)
    for i, (p, g) in enumerate(zip(preds, gts, strict=True)):
        p, g = np.asarray(p), np.asarray(g)
        if len(p) != len(g):
            name = videos[i] if videos else f"#{i}"
            raise ActionlineError(f"video {name}: prediction has {len(p)} frames, ground truth {len(g)}")
        hit = p == g
        correct += int(hit.sum())
        total += len(g)
        fg = ~np.isin(g, bg) if bg else np.ones(len(g), dtype=bool)
        correct_fg += int(hit[fg].sum())
        total_fg += int(fg.sum())
        edits.append(edit_score(p, g, bg))
        matchings.append(matching_score(p, g, bg))
        iou, iod = iou_iod(p, g, bg)
        ious.append(iou)
        iods.append(iod)
        for k, thr in enumerate(settings.f1_thresholds):
            counts[k] += f1_counts(p, g, thr, bg, settings.reference_off_by_one)
    f1 = {thr: f1_from_counts(*counts[k]) for k, thr in enumerate(settings.f1_thresholds)}
    return SegmentationScores(
        acc=100.0 * correct / total,
        edit=float(np.mean(edits)),
        f1=f1,
        acc_no_bg=100.0 * correct_fg / total_fg if total_fg else float("nan"),
        matching=100.0 * float(np.mean(matchings)),
        iou=100.0 * float(np.nanmean(ious)) if not np.all(np.isnan(ious)) else float("nan"),
        iod=100.0 * float(np.nanmean(iods)) if not np.all(np.isnan(iods)) else float("nan"),
        num_videos=len(gts),
        num_frames=total,
        settings=settings,
    )
