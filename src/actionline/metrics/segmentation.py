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


# --- segments of many videos at once --------------------------------------------------------------------------
@dataclass(frozen=True)
class Segments:
    """The non-background segments of a batch of videos, in global frame coordinates (videos concatenated)."""

    video: np.ndarray  # [S] index of the video each segment belongs to
    label: np.ndarray  # [S]
    start: np.ndarray  # [S] inclusive
    end: np.ndarray  # [S] exclusive
    num_videos: int

    def counts(self) -> np.ndarray:
        return np.bincount(self.video, minlength=self.num_videos)


def batch_segments(
    labels: np.ndarray, offsets: np.ndarray, background: Iterable = (), off_by_one: bool = False
) -> Segments:
    """Runs of the concatenated ``labels`` (video ``v`` spans ``offsets[v]:offsets[v+1]``), background dropped."""
    breaks = np.zeros(len(labels), dtype=bool)
    breaks[offsets[:-1][offsets[:-1] < len(labels)]] = True
    breaks[1:] |= labels[1:] != labels[:-1]
    starts = np.flatnonzero(breaks)
    ends = np.append(starts[1:], len(labels))
    video = np.searchsorted(offsets, starts, side="right") - 1
    if off_by_one and len(ends):  # the copies that end each video's last segment at i instead of i + 1
        last = np.append(video[1:] != video[:-1], True)
        ends = ends - last
    values = labels[starts]
    bg = list(background)
    if not bg:
        return Segments(video, values, starts, ends, len(offsets) - 1)
    keep = ~np.isin(values, bg)
    return Segments(video[keep], values[keep], starts[keep], ends[keep], len(offsets) - 1)


def _overlap_pairs(a: Segments, b: Segments) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with segment ``a[i]`` overlapping ``b[j]`` (same video, since videos do not overlap), i-major."""
    lo = np.searchsorted(b.end, a.start, side="right")
    hi = np.searchsorted(b.start, a.end, side="left")
    n = np.maximum(hi - lo, 0)
    i = np.repeat(np.arange(len(a.start)), n)
    j = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
    return i, j


def _first_argmax(groups: np.ndarray, values: np.ndarray, num_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group (pairs sorted by group): (max value, position of its first occurrence); -inf / -1 when empty."""
    best = np.full(num_groups, -np.inf)
    np.maximum.at(best, groups, values)
    first = np.full(num_groups, -1)
    hit = np.flatnonzero(values == best[groups])
    uniq, idx = np.unique(groups[hit], return_index=True)
    first[uniq] = hit[idx]
    return best, first


def f1_batch_counts(pred: Segments, gt: Segments, threshold: float) -> np.ndarray:
    """[V, 3] (TP, FP, FN) per video with the MS-TCN greedy matching.

    Each predicted segment takes the ground-truth segment of its class with the highest IoU (the first one on
    ties, as ``argmax``); it is a TP if the IoU reaches the threshold and that segment was not hit by an earlier
    prediction. Non-overlapping segments cannot reach a positive threshold, so only overlapping pairs are scored.
    """
    i, j = _overlap_pairs(pred, gt)
    same = pred.label[i] == gt.label[j]
    i, j = i[same], j[same]
    inter = np.minimum(pred.end[i], gt.end[j]) - np.maximum(pred.start[i], gt.start[j])
    union = np.maximum(pred.end[i], gt.end[j]) - np.minimum(pred.start[i], gt.start[j])
    best, first = _first_argmax(i, inter / union, len(pred.start))
    ok = np.flatnonzero(best >= threshold)
    _, first_pred = np.unique(j[first[ok]], return_index=True)  # the first prediction per GT segment wins
    tp = np.bincount(pred.video[ok[first_pred]], minlength=pred.num_videos)
    return np.stack([tp, pred.counts() - tp, gt.counts() - tp], axis=1)


def edit_and_matches(pred: Segments, gt: Segments, chunk: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Per video: Levenshtein distance between the segment label sequences, and the number of matched (equal)
    pairs of a minimum-cost alignment that has the most matches.

    One dynamic programme for all videos: cost ``big * edits - matches`` orders alignments by edits first, then
    by matches. Rows run over the predicted segments; the in-row insertion recurrence
    ``row[j] = min(tmp[j], row[j-1] + big)`` is a running minimum of ``tmp[j] - j * big``. Videos are processed in
    chunks of similar transcript length so padding stays small.
    """
    V = pred.num_videos
    la, lb = pred.counts(), gt.counts()
    edits = np.zeros(V, dtype=np.int64)
    matches = np.zeros(V, dtype=np.int64)
    a_off = np.concatenate(([0], np.cumsum(la)))
    b_off = np.concatenate(([0], np.cumsum(lb)))
    order = np.argsort(la, kind="stable")
    for c in range(0, V, chunk):
        vids = order[c : c + chunk]
        na, nb = int(la[vids].max(initial=0)), int(lb[vids].max(initial=0))
        big = na + nb + 1
        A = _pad(pred.label, a_off, vids, na, -1)
        B = _pad(gt.label, b_off, vids, nb, -2)
        steps = np.arange(nb + 1) * big
        row = np.tile(steps, (len(vids), 1))
        for r in range(na):
            active = (la[vids] > r)[:, None]
            tmp = np.empty_like(row)
            tmp[:, 0] = row[:, 0] + big
            sub = np.where(A[:, r : r + 1] == B, -1, big)
            tmp[:, 1:] = np.minimum(row[:, 1:] + big, row[:, :-1] + sub)
            new = np.minimum.accumulate(tmp - steps, axis=1) + steps
            row = np.where(active, new, row)
        cost = row[np.arange(len(vids)), lb[vids]]
        e = -(-cost // big)  # cost = big * edits - matches with 0 <= matches < big
        edits[vids] = e
        matches[vids] = big * e - cost
    return edits, matches


def _pad(values: np.ndarray, offsets: np.ndarray, vids: np.ndarray, width: int, fill: int) -> np.ndarray:
    out = np.full((len(vids), width), fill, dtype=np.int64)
    for k, v in enumerate(vids):
        seq = values[offsets[v] : offsets[v + 1]]
        out[k, : len(seq)] = seq
    return out


def iou_iod_batch(pred: Segments, gt: Segments) -> tuple[np.ndarray, np.ndarray]:
    """Per video IoU and IoD of the ISBA code: mean over GT segments of the best same-label predicted segment's
    ``|g ∩ p| / |g ∪ p|`` (union = max end - min start) and ``|g ∩ p| / |p|``; NaN for videos without GT."""
    j, i = _overlap_pairs(gt, pred)
    same = gt.label[j] == pred.label[i]
    j, i = j[same], i[same]
    inter = np.minimum(gt.end[j], pred.end[i]) - np.maximum(gt.start[j], pred.start[i])
    union = np.maximum(gt.end[j], pred.end[i]) - np.minimum(gt.start[j], pred.start[i])
    out = []
    for ratio in (inter / union, inter / (pred.end[i] - pred.start[i])):
        best = np.zeros(len(gt.start))
        np.maximum.at(best, j, ratio)
        per_video = np.bincount(gt.video, weights=best, minlength=gt.num_videos)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(per_video / gt.counts())
    return out[0], out[1]


# --- one video (thin wrappers over the batched core) -------------------------------------------------------------
def _one(pred, gt, background, off_by_one=False) -> tuple[Segments, Segments]:
    (p, g), bg = _as_codes([np.asarray(pred), np.asarray(gt)], background)
    return (
        batch_segments(p, np.array([0, len(p)]), bg, off_by_one),
        batch_segments(g, np.array([0, len(g)]), bg, off_by_one),
    )


def segments(labels: np.ndarray, background: Iterable = (), off_by_one: bool = False):
    """(labels, starts, ends) of the runs in ``labels``, dropping background runs. Ends are exclusive."""
    labels = np.asarray(labels)
    s = batch_segments(labels, np.array([0, len(labels)]), background, off_by_one)
    return s.label, s.start, s.end


def levenshtein(a: np.ndarray, b: np.ndarray) -> int:
    """Levenshtein distance between two sequences."""
    codes, _ = _as_codes([np.asarray(a), np.asarray(b)], ())
    sa = Segments(
        np.zeros(len(codes[0]), dtype=np.int64), codes[0], np.arange(len(codes[0])), np.arange(len(codes[0])) + 1, 1
    )
    sb = Segments(
        np.zeros(len(codes[1]), dtype=np.int64), codes[1], np.arange(len(codes[1])), np.arange(len(codes[1])) + 1, 1
    )
    return int(edit_and_matches(sa, sb)[0][0])


def edit_score(pred: np.ndarray, gt: np.ndarray, background: Iterable = ()) -> float:
    """Segmental edit score of one video, in percent."""
    p, g = _one(pred, gt, background)
    return float(_edit_percent(*edit_and_matches(p, g)[:1], p.counts(), g.counts())[0])


def f1_counts(
    pred: np.ndarray, gt: np.ndarray, threshold: float, background: Iterable = (), off_by_one: bool = False
) -> tuple[int, int, int]:
    """(TP, FP, FN) of one video at IoU ``threshold`` with the MS-TCN greedy matching."""
    p, g = _one(pred, gt, background, off_by_one)
    tp, fp, fn = f1_batch_counts(p, g, threshold)[0]
    return int(tp), int(fp), int(fn)


def f1_from_counts(tp: int, fp: int, fn: int) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall) * 100.0


def matching_score(pred: np.ndarray, gt: np.ndarray, background: Iterable = ()) -> float:
    """Dissertation Eq. 2.16: ``2 * matches / (|A| + |Â|)`` over transcripts, in [0, 1]; matches are the equal
    pairs of a minimum-cost Levenshtein alignment (the one with most matches among ties)."""
    p, g = _one(pred, gt, background)
    return float(_matching(edit_and_matches(p, g)[1], p.counts(), g.counts())[0])


def iou_iod(pred: np.ndarray, gt: np.ndarray, background: Iterable = ()) -> tuple[float, float]:
    """IoU (Jaccard) and IoD of one video, ISBA definitions (see `iou_iod_batch`)."""
    p, g = _one(pred, gt, background)
    iou, iod = iou_iod_batch(p, g)
    return float(iou[0]), float(iod[0])


def _edit_percent(distance: np.ndarray, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
    longest = np.maximum(la, lb)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(longest == 0, 100.0, (1.0 - distance / np.maximum(longest, 1)) * 100.0)


def _matching(matches: np.ndarray, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
    total = la + lb
    return np.where(total == 0, 1.0, 2.0 * matches / np.maximum(total, 1))


def _as_codes(arrays: Sequence[np.ndarray], background: Iterable) -> tuple[list[np.ndarray], np.ndarray]:
    """Integer codes for label arrays of any kind (indices pass through; names are factorised together), plus the
    background set in the same codes.

    Names are factorised run by run: a frame-wise comparison finds each array's runs, and only the runs' values
    (a few hundred per video) are looked up, by their string form as before. Sorting every frame's name took
    5 s over all Breakfast ground truth; this takes a fraction of a second.
    """
    bg = list(background)
    if all(a.dtype.kind in "iu" for a in arrays):
        # integer labels: a background *name* can never equal one, so names drop out and the fast path stays
        ints = [x for x in bg if isinstance(x, (int, np.integer)) and not isinstance(x, bool)]
        return [a.astype(np.int64, copy=False) for a in arrays], np.asarray(ints, dtype=np.int64)
    table: dict[str, int] = {}
    codes = []
    for a in arrays:
        starts = np.concatenate([[0], np.flatnonzero(a[1:] != a[:-1]) + 1]) if len(a) else np.zeros(0, np.int64)
        values = [table.setdefault(str(v), len(table)) for v in a[starts].tolist()]
        codes.append(np.repeat(np.asarray(values, dtype=np.int64), np.diff(np.append(starts, len(a)))))
    return codes, np.asarray([table.setdefault(str(v), len(table)) for v in bg], dtype=np.int64)


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
    classes: Sequence[str] | None = None,
) -> SegmentationScores:
    """Score a split. ``preds``/``gts`` are per-video dense labels (class indices, or names: same kind for both).

    The background set is given in the same kind as the labels, or, with ``classes`` (index -> name) and integer
    labels, as names (names that are not classes are ignored). Every metric is computed for all videos at once
    (see `batch_segments`); integer labels are the fast path.
    """
    settings = settings or SegmentationSettings()
    if len(preds) != len(gts):
        raise ActionlineError(f"{len(preds)} predictions for {len(gts)} ground-truth videos")
    if not gts:
        raise ActionlineError("nothing to evaluate: no videos")
    if any(t <= 0 for t in settings.f1_thresholds):
        raise ActionlineError("F1 thresholds must be positive")
    V = len(gts)
    background = settings.background
    if classes is not None:
        index = {c: i for i, c in enumerate(classes)}
        background = tuple(index[b] for b in settings.background if b in index)
    codes, bg = _as_codes([np.asarray(p) for p in preds] + [np.asarray(g) for g in gts], background)
    for i in range(V):
        if len(codes[i]) != len(codes[V + i]):
            name = videos[i] if videos else f"#{i}"
            raise ActionlineError(
                f"video {name}: prediction has {len(codes[i])} frames, ground truth {len(codes[V + i])}"
            )
    offsets = np.concatenate(([0], np.cumsum([len(g) for g in codes[V:]])))
    P, G = np.concatenate(codes[:V]), np.concatenate(codes[V:])
    hit = P == G
    hit_fg = hit[~np.isin(G, bg)] if len(bg) else hit
    ps, gs = batch_segments(P, offsets, bg), batch_segments(G, offsets, bg)
    la, lb = ps.counts(), gs.counts()
    distance, matches = edit_and_matches(ps, gs)
    iou, iod = iou_iod_batch(ps, gs)
    if settings.reference_off_by_one:  # only F1 is affected (as in the copies of the script that have it)
        ps, gs = batch_segments(P, offsets, bg, True), batch_segments(G, offsets, bg, True)
    counts = [f1_batch_counts(ps, gs, thr).sum(axis=0) for thr in settings.f1_thresholds]
    with np.errstate(invalid="ignore"):
        return SegmentationScores(
            acc=100.0 * float(hit.mean()),
            edit=float(_edit_percent(distance, la, lb).mean()),
            f1={thr: f1_from_counts(*c) for thr, c in zip(settings.f1_thresholds, counts, strict=True)},
            acc_no_bg=100.0 * float(hit_fg.mean()) if len(hit_fg) else float("nan"),
            matching=100.0 * float(_matching(matches, la, lb).mean()),
            iou=100.0 * float(np.nanmean(iou)) if not np.isnan(iou).all() else float("nan"),
            iod=100.0 * float(np.nanmean(iod)) if not np.isnan(iod).all() else float("nan"),
            num_videos=V,
            num_frames=len(G),
            settings=settings,
        )
