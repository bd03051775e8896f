"""Multi-label metrics against scikit-learn and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve

from actionline.errors import ActionlineError
from actionline.metrics.classification import average_precision
from actionline.metrics.tagging import category_map, tag_average_precisions, trapezoid_ap


@pytest.mark.parametrize("seed", range(20))
def test_step_ap_equals_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    y = rng.random(n) < rng.uniform(0.05, 0.7)
    y[0] = True
    scores = rng.integers(0, 6, n) / 5 if seed % 2 else rng.random(n)  # ties on odd seeds
    assert average_precision(scores, y) == pytest.approx(average_precision_score(y, scores))


@pytest.mark.parametrize("seed", range(10))
def test_trapezoid_ap_equals_the_area_of_scikit_learns_curve(seed):
    rng = np.random.default_rng(100 + seed)
    y = rng.random(40) < 0.3
    y[:2] = [True, False]
    scores = rng.random(40)
    precision, recall, _ = precision_recall_curve(y, scores)
    # scikit-learn's curve ends at (recall 0, precision 1); ours starts at recall 0 with the first precision
    first = precision[-2]
    expected = auc(np.r_[recall[:-1], 0.0], np.r_[precision[:-1], first])
    assert trapezoid_ap(scores, y) == pytest.approx(expected)


def test_category_map_masks_clips_and_drops_labels_without_positives():
    # tags: 0, 1 in category "a"; 2 in category "b"
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.5], [0.7, 0.6, 0.9], [0.1, 0.1, 0.1]])
    targets = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]])
    out = category_map(scores, targets, ["a", "b"], [0, 0, 1])
    # category a: clips 0 and 1 only (clip 2 has no "a" label, clip 3 none): tag 0 AP 1, tag 1 AP 1
    assert out["a"] == 100.0
    # category b: only clip 2 has a "b" label: AP 1
    assert out["b"] == 100.0 and out["overall"] == 100.0
    worse = category_map(scores, np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 0]]), ["a", "b"], [0, 0, 1])
    assert worse["a"] == 50.0 and worse["overall"] == 75.0


def test_tag_average_precisions_by_hand():
    # tags 0, 1 in category 0 (clips 0, 1 carry its labels); tag 2 in category 1 (clip 2); tag 3 in category 1
    # without a positive: NaN, and it does not count in its category's mAP
    scores = np.array([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.5, 0.2], [0.7, 0.6, 0.9, 0.4], [0.1, 0.1, 0.1, 0.9]])
    targets = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    aps = tag_average_precisions(scores, targets, [0, 0, 1, 1])
    assert aps[:3].tolist() == [0.5, 0.5, 1.0] and np.isnan(aps[3])
    assert category_map(scores, targets, ["a", "b"], [0, 0, 1, 1]) == {"a": 50.0, "b": 100.0, "overall": 75.0}
    with pytest.raises(ActionlineError, match="disagree"):
        tag_average_precisions(scores, targets[:, :3], [0, 0, 1, 1])


def test_all_clips_protocol_counts_clips_without_a_label_as_negatives():
    # tag 0 in category "a"; clip 2 has no "a" label but the highest tag-0 score
    scores = np.array([[0.6, 0.1], [0.2, 0.8], [0.9, 0.7]])
    targets = np.array([[1, 0], [0, 1], [0, 1]])
    assert tag_average_precisions(scores, targets, [0, 1])[0] == 1.0  # clips 0 (positive) and 1 (negative) only
    assert tag_average_precisions(scores, targets, [0, 1], clips="all")[0] == 0.5  # clip 2 ranks first, a negative
    assert category_map(scores, targets, ["a", "b"], [0, 1], clips="all")["a"] == 50.0
    with pytest.raises(ActionlineError, match="clips must be"):
        tag_average_precisions(scores, targets, [0, 1], clips="some")
