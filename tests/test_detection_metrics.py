"""Detection mAP against hand-computed values (ActivityNet evaluator semantics), NMS, and the real annotation files."""

import json

import numpy as np
import pytest

from actionline.cli import main
from actionline.data.instances import read_annotations, read_submission
from actionline.metrics.detection import (
    ACTIVITYNET_TIOU,
    Instance,
    average_precision,
    evaluate_detection,
    interpolated_ap,
    parse_thresholds,
)
from actionline.nn.decoding.nms import nms, soft_nms
from actionline.timeline import instances_to_timeline, timeline_to_instances
from conftest import shared


def I(video, s, e, label="a", score=1.0):  # noqa: E743
    return Instance(video, s, e, label, score)


def test_duplicates_are_false_positives():
    gts = [I("v1", 0, 10)]
    preds = [I("v1", 0, 10, score=0.9), I("v1", 0, 10, score=0.8)]  # precision 1, 1/2; recall 1, 1
    assert average_precision(gts, preds, [0.5]) == pytest.approx([1.0])
    preds = [I("v1", 0, 10, score=0.9), I("v1", 20, 30, score=0.95)]  # FP first: precision 0, 1/2
    assert average_precision(gts, preds, [0.5]) == pytest.approx([0.5])


def test_predictions_on_videos_without_ground_truth_are_false_positives():
    gts = [I("v1", 0, 10), I("v2", 0, 10)]
    preds = [I("v1", 0, 10, score=0.9), I("v9", 0, 10, score=0.8), I("v2", 0, 10, score=0.7)]
    # tp 1 0 1 -> recall .5 .5 1, precision 1 .5 2/3 -> AP = .5*1 + .5*2/3
    assert average_precision(gts, preds, [0.5]) == pytest.approx([0.5 + 0.5 * 2 / 3])


def test_ties_take_the_later_prediction_first():
    gts = [I("v1", 0, 10)]
    fp_then_tp = [I("v1", 50, 60, score=0.5), I("v1", 0, 10, score=0.5)]
    tp_then_fp = [I("v1", 0, 10, score=0.5), I("v1", 50, 60, score=0.5)]
    assert average_precision(gts, fp_then_tp, [0.5]) == pytest.approx([1.0])
    assert average_precision(gts, tp_then_fp, [0.5]) == pytest.approx([0.5])


def test_highest_iou_unmatched_ground_truth_and_thresholds():
    gts = [I("v1", 0, 10), I("v1", 5, 15)]
    # p1 matches g2 exactly; p2 overlaps g1 (10/12) and g2 (7/15): it takes g1
    preds = [I("v1", 5, 15, score=0.9), I("v1", 0, 12, score=0.8)]
    assert average_precision(gts, preds, [0.5, 0.9]).tolist() == pytest.approx([1.0, 0.5])


def test_map_averages_over_ground_truth_classes_only():
    gts = [I("v1", 0, 10, "a"), I("v1", 20, 30, "b")]
    preds = [I("v1", 0, 10, "a", 0.9), I("v1", 40, 50, "c", 0.9)]  # b has no predictions; c has no ground truth
    scores = evaluate_detection(gts, preds, [0.5])
    assert scores.map[0.5] == pytest.approx(50.0)
    assert set(scores.per_class) == {"a", "b"} and scores.per_class["b"] == [0.0]


def test_interpolated_ap_hand_case():
    assert interpolated_ap(np.array([1.0, 0.5, 2 / 3]), np.array([0.5, 0.5, 1.0])) == pytest.approx(0.5 + 1 / 3)


def test_threshold_parsing():
    assert parse_thresholds("0.3:0.7:0.1") == (0.3, 0.4, 0.5, 0.6, 0.7)
    assert parse_thresholds("0.5:0.95:0.05") == ACTIVITYNET_TIOU
    assert parse_thresholds("0.5,0.75") == (0.5, 0.75)


def test_soft_nms_gaussian_linear_and_hard():
    segs = np.array([[0, 10], [1, 11], [20, 30]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    keep = nms(segs, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    idx, new = soft_nms(segs, scores, "gaussian", sigma=0.5)
    iou = 9 / 11
    assert idx.tolist() == [0, 2, 1]  # the overlapping one decays below the distant one
    assert new.tolist() == pytest.approx([0.9, 0.7, 0.8 * np.exp(-(iou**2) / 0.5)])
    idx, new = soft_nms(segs, scores, "linear", iou_threshold=0.5)
    assert new.tolist() == pytest.approx([0.9, 0.7, 0.8 * (1 - iou)])
    assert soft_nms(segs, scores, "gaussian", top_k=1)[0].tolist() == [0]


def test_real_annotation_files_read_and_score_100_against_themselves(tmp_path):
    path = shared("thumos14", "annotations", "thumos14.json")
    ann = read_annotations(path)
    assert len(ann.durations) == 412 and len(ann.instances) == 6365 and len(ann.classes) == 20
    test = ann.select("test")
    submission = {"results": {}}
    for i in test.instances:
        submission["results"].setdefault(i.video, []).append(
            {"segment": [i.start, i.end], "label": i.label, "score": 1.0}
        )
    (tmp_path / "pred.json").write_text(json.dumps(submission))
    scores = evaluate_detection(test.instances, read_submission(tmp_path / "pred.json"))
    assert scores.average_map == pytest.approx(100.0)


def test_bsn_annotations_with_v_prefix_and_subsets():
    ann = read_annotations(shared("activitynet13", "anet_anno_action.json"))
    assert len(ann.durations) == 19228 and len(ann.classes) == 200
    assert all(len(v) == 11 for v in ann.durations)  # "v_" prefixes stripped (ids may themselves start with v_)
    assert {"training", "validation"} <= set(ann.subsets.values())


def test_instances_timeline_round_trip():
    inst = [I("v", 1.0, 2.5, "a", 0.7), I("v", 3.0, 4.0, "b", 0.4)]
    tl = instances_to_timeline("v", inst, duration=10.0, fps=10.0)
    assert [(s.start, s.end) for s in tl.segments] == [(10, 25), (30, 40)]
    assert timeline_to_instances(tl) == inst


def test_cli_detection_json(tmp_path, capsys):
    gt = tmp_path / "gt.json"
    gt.write_text(
        json.dumps(
            {
                "database": {
                    "v1": {
                        "subset": "test",
                        "duration": 30.0,
                        "annotations": [{"segment": [0, 10], "label": "a"}, {"segment": [20, 30], "label": "b"}],
                    }
                }
            }
        )
    )
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"results": {"v1": [{"segment": [0, 10], "label": "a", "score": 0.9}]}}))
    assert (
        main(["evaluate", "--task", "detection", "--pred", str(pred), "--gt", str(gt), "--tiou", "0.5,0.7", "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["mAP@0.5"] == pytest.approx(50.0) and result["avg_mAP"] == pytest.approx(50.0)
    pred.write_text(json.dumps({"results": {"v1": [{"segment": [0, 10], "label": "a"}]}}))  # no score
    assert main(["evaluate", "--task", "detection", "--pred", str(pred), "--gt", str(gt)]) == 2
