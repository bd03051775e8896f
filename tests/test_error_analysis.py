"""The report's analyses against hand-computed cases: per-class F1, over/under-segmentation, boundary offsets,
the false-positive profile of Alwassel et al., sensitivity bins."""

from __future__ import annotations

import numpy as np
import pytest

from actionline.metrics.detection_errors import false_positive_profile, sensitivity
from actionline.metrics.segmentation import evaluate_segmentation, f1_counts
from actionline.metrics.segmentation_errors import (
    boundary_offsets,
    frame_confusion,
    over_under_segmentation,
    per_class_counts,
    per_class_f1,
)
from actionline.timeline import Instance


def test_per_class_f1_adds_up_to_the_split():
    rng = np.random.default_rng(0)
    gts = [np.repeat(rng.integers(0, 4, 6), rng.integers(3, 9, 6)) for _ in range(5)]
    preds = [np.where(rng.random(len(g)) < 0.1, rng.integers(0, 4, len(g)), g) for g in gts]
    counts = per_class_counts(preds, gts, 4, 0.5)
    split = np.sum([f1_counts(p, g, 0.5) for p, g in zip(preds, gts, strict=True)], axis=0)
    assert counts.sum(axis=0).tolist() == split.tolist()  # matching never crosses classes
    assert np.all((per_class_f1(preds, gts, 4, 0.5) >= 0) & (per_class_f1(preds, gts, 4, 0.5) <= 100))
    gt = np.array([0, 0, 1, 1, 1, 2, 2])
    pred = np.array([0, 0, 1, 2, 1, 2, 2])
    # class 0: perfect; class 1: pred segments [2,3) and [4,5) vs gt [2,5): IoU 1/3 each -> no TP at 0.5
    scores = per_class_f1([pred], [gt], 3, 0.5)
    assert scores[0] == 100.0 and scores[1] == 0.0
    overall = evaluate_segmentation([pred], [gt]).f1[0.5]
    assert overall == pytest.approx(100 * 2 * (2 / 5) * (2 / 3) / (2 / 5 + 2 / 3))  # 2 TP of 5 predicted, 3 true


def test_over_and_under_segmentation_by_hand():
    gt = np.array([1, 1, 1, 1, 2, 2, 1, 1])
    pred = np.array([1, 1, 0, 1, 2, 2, 1, 1])  # the first gt segment of class 1 in two fragments
    assert over_under_segmentation(pred, gt, background=(0,)) == (1, 0)
    merged = np.array([1, 1, 1, 1, 1, 1, 1, 1])  # both class-1 segments covered by one prediction
    assert over_under_segmentation(merged, gt) == (0, 1)


def test_boundary_offsets_and_confusion():
    gt = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    pred = np.array([0, 0, 0, 0, 1, 1, 1, 2])
    assert boundary_offsets(pred, gt).tolist() == [1, 1]
    assert boundary_offsets(np.zeros(8, dtype=int), gt).tolist() == []
    cm = frame_confusion([pred], [gt], 3)
    assert cm.sum() == 8 and cm[1, 0] == 1 and cm[2, 1] == 1 and np.trace(cm) == 6


def test_false_positive_profile_by_hand():
    gts = [Instance("v", 0, 10, "a"), Instance("v", 20, 30, "b")]
    preds = [
        Instance("v", 0, 10, "a", 0.9),  # true positive
        Instance("v", 0, 9, "a", 0.8),  # double detection
        Instance("v", 20, 30, "a", 0.7),  # wrong label
        Instance("v", 5, 25, "a", 0.6),  # tIoU with a [0, 10]: 5/25 = 0.2: localisation
        Instance("v", 27, 40, "a", 0.5),  # tIoU with b: 3/20 = 0.15: confusion
        Instance("v", 50, 60, "b", 0.4),  # background
        Instance("w", 0, 10, "a", 0.3),  # background (a video without ground truth)
    ]
    counts = false_positive_profile(gts, preds)
    assert counts == {"true positive": 1, "double detection": 1, "wrong label": 1, "localization": 1,
                      "confusion": 1, "background": 2}  # fmt: skip
    assert sum(false_positive_profile(gts, preds, top_factor=1).values()) == 2  # top 10 G -> top 1 G


def test_sensitivity_bins():
    gts = [Instance("v", 0, 2, "a"), Instance("v", 10, 30, "a"), Instance("w", 0, 5, "a")]
    preds = [Instance("v", 0, 2, "a", 0.9), Instance("w", 0, 5, "a", 0.8)]
    by_length = {name: (n, ap) for name, n, ap in sensitivity(gts, preds, "length")}
    assert by_length["XS"] == (1, 100.0) and by_length["XL"] == (1, 0.0) and by_length["S"] == (1, 100.0)
    assert np.isnan(by_length["M"][1])
    by_count = {name: n for name, n, _ in sensitivity(gts, preds, "count")}
    assert by_count["1"] == 1 and by_count["2-4"] == 2
