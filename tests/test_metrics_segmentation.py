"""Segmentation metrics: hand-computed cases, properties, an oracle spelled out as the MS-TCN script's loops,
and real published-model predictions."""

import glob

import numpy as np
import pytest

from actionline.metrics.segmentation import (
    SegmentationSettings,
    edit_score,
    evaluate_segmentation,
    f1_counts,
    iou_iod,
    levenshtein,
    matching_score,
)
from conftest import shared


# --- an oracle: the MS-TCN eval.py semantics written as plain loops (specs §2) ----------------------------------
def oracle_segments(labels, bg):
    out, last = [], None
    for i, x in enumerate(labels):
        if x != last:
            if last is not None and last not in bg:
                out[-1][2] = i
            if x not in bg:
                out.append([x, i, None])
            last = x
    if out and out[-1][2] is None:
        out[-1][2] = len(labels)
    return out


def oracle_edit(p, g, bg):
    a = [s[0] for s in oracle_segments(p, bg)]
    b = [s[0] for s in oracle_segments(g, bg)]
    D = np.zeros((len(a) + 1, len(b) + 1))
    D[:, 0] = np.arange(len(a) + 1)
    D[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            D[i, j] = min(D[i - 1, j] + 1, D[i, j - 1] + 1, D[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    m = max(len(a), len(b))
    return 100.0 if m == 0 else (1 - D[-1, -1] / m) * 100


def oracle_f1(p, g, thr, bg):
    ps, gs = oracle_segments(p, bg), oracle_segments(g, bg)
    hits = [0] * len(gs)
    tp = fp = 0
    for lab, s, e in ps:
        ious = [(min(e, ge) - max(s, gs_)) / (max(e, ge) - min(s, gs_)) * (lab == gl) for gl, gs_, ge in gs]
        idx = int(np.argmax(ious)) if ious else -1
        if idx >= 0 and ious[idx] >= thr and not hits[idx]:
            tp += 1
            hits[idx] = 1
        else:
            fp += 1
    return tp, fp, len(gs) - sum(hits)


def random_pair(rng, n_classes=5):
    g = np.repeat(rng.integers(0, n_classes, 12), rng.integers(1, 30, 12))
    p = g.copy()
    flips = rng.random(len(g)) < 0.1
    p[flips] = rng.integers(0, n_classes, flips.sum())
    shift = int(rng.integers(-5, 6))
    return np.roll(p, shift), g


@pytest.mark.parametrize("seed", range(25))
def test_matches_the_reference_loops_on_random_sequences(seed):
    rng = np.random.default_rng(seed)
    p, g = random_pair(rng)
    for bg in ([], [0], [0, 3]):
        assert edit_score(p, g, bg) == pytest.approx(oracle_edit(p, g, bg))
        for thr in (0.1, 0.25, 0.5):
            assert f1_counts(p, g, thr, bg) == oracle_f1(p, g, thr, bg)


def test_hand_computed_case():
    gt = np.array(list("aaaabbbbcc"))
    pred = np.array(list("aaabbbbbbc"))
    # segments: gt a[0,4) b[4,8) c[8,10); pred a[0,3) b[3,9) c[9,10)
    # IoU: a 3/4, b 4/6, c 1/2 -> at 0.5 all TP; at 0.7 only a
    assert f1_counts(pred, gt, 0.5) == (3, 0, 0)
    assert f1_counts(pred, gt, 0.7) == (1, 2, 2)
    scores = evaluate_segmentation([pred], [gt], SegmentationSettings(background=(), f1_thresholds=(0.5, 0.7)))
    assert scores.acc == pytest.approx(80.0)
    assert scores.edit == pytest.approx(100.0)
    assert scores.f1[0.5] == pytest.approx(100.0)
    assert scores.f1[0.7] == pytest.approx(2 * (1 / 3) * (1 / 3) / (2 / 3) * 100)


def test_duplicate_predictions_of_one_segment_are_false_positives():
    gt = np.array([1] * 10)
    pred = np.array([1] * 4 + [2] + [1] * 5)  # two pieces of class 1 compete for one GT segment
    assert f1_counts(pred, gt, 0.1) == (1, 2, 0)


def test_f1_is_micro_over_videos():
    g1, p1 = np.array([1] * 10), np.array([1] * 10)  # 1 TP
    g2, p2 = np.array([1] * 5 + [2] * 5), np.array([3] * 10)  # 0 TP, 1 FP, 2 FN
    s = evaluate_segmentation([p1, p2], [g1, g2], SegmentationSettings(background=()))
    precision, recall = 1 / 2, 1 / 3
    assert s.f1[0.5] == pytest.approx(2 * precision * recall / (precision + recall) * 100)
    assert s.edit == pytest.approx((100 + 0) / 2)  # macro


def test_background_is_excluded_from_edit_and_f1_but_not_accuracy():
    gt = np.array(["background"] * 5 + ["a"] * 5)
    pred = np.array(["a"] * 10)
    with_bg = evaluate_segmentation([pred], [gt], SegmentationSettings(background=()))
    without = evaluate_segmentation([pred], [gt])  # default: 'background'
    assert without.settings.background == ("background",)
    assert without.acc == with_bg.acc == pytest.approx(50.0)
    assert without.edit == pytest.approx(100.0) and with_bg.edit == pytest.approx(50.0)
    assert without.acc_no_bg == pytest.approx(100.0)
    assert "background" in without.settings.describe()


def test_reference_off_by_one_variant():
    gt = np.array([1] * 10)
    pred = np.array([1] * 10)
    # the buggy copies end the last segment at i, not i+1; with a 1-frame gt segment that changes the IoU
    g, p = np.array([0] * 9 + [1]), np.array([0] * 8 + [1] * 2)
    assert f1_counts(p, g, 0.5) == (2, 0, 0)
    assert f1_counts(p, g, 0.5, off_by_one=True) == (1, 1, 1)  # [9,9) is empty: IoU 0
    assert f1_counts(pred, gt, 0.5, off_by_one=True) == (1, 0, 0)


@pytest.mark.parametrize("seed", range(5))
def test_identical_sequences_score_100(seed):
    rng = np.random.default_rng(seed)
    g = np.repeat(rng.integers(0, 6, 10), rng.integers(1, 20, 10))
    s = evaluate_segmentation([g], [g])
    assert s.acc == s.edit == s.matching == 100.0
    assert all(v == 100.0 for v in s.f1.values())
    assert s.iou == pytest.approx(100.0) and s.iod == pytest.approx(100.0)


def test_levenshtein_hand_cases():
    assert levenshtein(np.array(list("kitten")), np.array(list("sitting"))) == 3
    assert levenshtein(np.array([]), np.array([1, 2])) == 2
    assert levenshtein(np.array([1, 2, 3]), np.array([1, 2, 3])) == 0


def test_matching_score_hand_case():
    # transcripts: pred a b c, gt a c -> one deletion, 2 matches: 2*2/(3+2)
    pred = np.array(list("aabbcc"))
    gt = np.array(list("aaaccc"))
    assert matching_score(pred, gt) == pytest.approx(0.8)
    assert matching_score(np.array(list("ab")), np.array(list("cd"))) == 0.0


def test_iou_iod_hand_case():
    gt = np.array([1] * 4 + [2] * 6)  # g1 [0,4), g2 [4,10)
    pred = np.array([1] * 2 + [2] * 8)  # p1 [0,2), p2 [2,10)
    iou, iod = iou_iod(pred, gt)
    # g1: best same-label p1: inter 2, union 4, |p| 2 -> 0.5, 1.0; g2: p2: inter 6, union 8, |p| 8 -> .75, .75
    assert iou == pytest.approx((0.5 + 0.75) / 2)
    assert iod == pytest.approx((1.0 + 0.75) / 2)


def test_length_mismatch_is_an_error():
    from actionline.errors import ActionlineError

    with pytest.raises(ActionlineError, match="frames"):
        evaluate_segmentation([np.zeros(5)], [np.zeros(6)], videos=["v1"])


def test_ed_tcn_gtea_reference_predictions():
    """ED-TCN (Lea et al. 2017) on GTEA, background class 0, published 72.2/69.3/56.0 F1, 64.0 Acc (4 splits).

    On the 3 splits present we measure F1 72.3/67.6/55.2, Acc 63.4, Edit 69.9 (mean over splits).
    """
    import scipy.io as sio

    root = shared("reference-predictions", "predictions", "GTEA", "video_ED-TCN_L2_C25")
    per_split = []
    for f in sorted(glob.glob(str(root / "*.mat"))):
        m = sio.loadmat(f)
        Y = [np.asarray(y).ravel() for y in m["Y"].ravel()]
        P = [np.asarray(p).ravel() for p in m["P"].ravel()]
        s = evaluate_segmentation(P, Y, SegmentationSettings(background=(0,)))
        per_split.append([s.acc, *s.f1.values()])
    acc, f10, f25, f50 = np.mean(per_split, axis=0)
    assert len(per_split) == 3
    assert acc == pytest.approx(63.41, abs=0.05)
    assert (f10, f25, f50) == pytest.approx((72.25, 67.60, 55.23), abs=0.05)
    # and close to the published numbers
    assert abs(f10 - 72.2) < 1.5 and abs(f25 - 69.3) < 2.5 and abs(f50 - 56.0) < 1.5 and abs(acc - 64.0) < 1.5


def test_names_and_indices_give_identical_scores():
    rng = np.random.default_rng(7)
    classes = ["background", "a", "b", "c", "d"]
    pairs = [random_pair(rng) for _ in range(6)]
    by_index = evaluate_segmentation([p for p, _ in pairs], [g for _, g in pairs], classes=classes)
    names = np.asarray(classes, dtype=object)
    by_name = evaluate_segmentation([names[p] for p, _ in pairs], [names[g] for _, g in pairs])
    assert by_index.as_dict() == by_name.as_dict()
    assert by_index.settings.background == ("background",)  # printed as names either way


def test_batched_scores_equal_per_video_scores():
    rng = np.random.default_rng(11)
    pairs = [random_pair(rng) for _ in range(9)]
    s = evaluate_segmentation([p for p, _ in pairs], [g for _, g in pairs], SegmentationSettings(background=(0,)))
    assert s.edit == pytest.approx(np.mean([oracle_edit(p, g, [0]) for p, g in pairs]))
    counts = np.sum([oracle_f1(p, g, 0.25, [0]) for p, g in pairs], axis=0)
    assert s.f1[0.25] == pytest.approx(2 * counts[0] / (2 * counts[0] + counts[1] + counts[2]) * 100)
    assert s.matching == pytest.approx(100 * np.mean([matching_score(p, g, [0]) for p, g in pairs]))


def test_integer_labels_with_background_names_take_the_integer_path():
    """A background name can never equal an integer label: the scores equal those with no background, and the
    labels are never converted to strings (the slow path)."""
    from actionline.metrics import segmentation as seg

    rng = np.random.default_rng(0)
    gts = [np.repeat(rng.integers(0, 5, 12), rng.integers(3, 30, 12)) for _ in range(4)]
    preds = [np.roll(g, 2) for g in gts]
    named = evaluate_segmentation(preds, gts, SegmentationSettings(background=("background",)))
    none = evaluate_segmentation(preds, gts, SegmentationSettings(background=()))
    assert named.as_dict() | {"settings": None} == none.as_dict() | {"settings": None}
    codes, bg = seg._as_codes(gts, ("background",))
    assert len(bg) == 0 and all(c.dtype == np.int64 and np.array_equal(c, g) for c, g in zip(codes, gts, strict=True))


@pytest.mark.parametrize("kind", ["unicode", "object"])
def test_named_labels_score_as_their_integer_codes(kind):
    """Names (numpy strings or Python lists of str) are factorised run by run: the same scores as the integer
    labels they name, background included."""
    rng = np.random.default_rng(1)
    names = np.array(["SIL", "pour_milk", "take_cup", "stir", "spoon"])
    gts = [np.repeat(rng.integers(0, 5, 15), rng.integers(1, 40, 15)) for _ in range(6)]
    preds = [np.where(rng.random(len(g)) < 0.1, rng.integers(0, 5, len(g)), np.roll(g, 3)) for g in gts]
    as_names = (lambda a: names[a]) if kind == "unicode" else (lambda a: list(names[a]))
    by_index = evaluate_segmentation(preds, gts, SegmentationSettings(background=(0,)))
    by_name = evaluate_segmentation(
        [as_names(p) for p in preds], [as_names(g) for g in gts], SegmentationSettings(background=("SIL",))
    )
    assert by_name.as_dict() | {"settings": None} == by_index.as_dict() | {"settings": None}
