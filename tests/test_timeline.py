import numpy as np
import pytest

from actionline.errors import ActionlineError
from actionline.timeline import Segment, Timeline, resample_labels, runs, upsample_labels

CLASSES = ["bg", "a", "b"]


def test_runs_hand_case():
    starts, ends, values = runs(np.array([0, 0, 1, 1, 1, 0, 2]))
    assert starts.tolist() == [0, 2, 5, 6]
    assert ends.tolist() == [2, 5, 6, 7]
    assert values.tolist() == [0, 1, 0, 2]


def test_labels_segments_round_trip_is_lossless():
    rng = np.random.default_rng(0)
    for _ in range(20):
        labels = np.repeat(rng.integers(0, 3, 15), rng.integers(1, 9, 15))
        tl = Timeline.from_labels("v", labels, CLASSES)
        assert np.array_equal(tl.to_labels(CLASSES), labels)
        assert sum(s.length for s in tl.segments) == len(labels)
        again = Timeline.from_dict(tl.to_dict())
        assert again == tl


def test_segment_scores_are_segment_means():
    tl = Timeline.from_labels("v", [1, 1, 2], CLASSES, scores=np.array([0.2, 0.4, 0.9]))
    assert [s.score for s in tl.segments] == pytest.approx([0.3, 0.9])


def test_seconds_and_resample():
    tl = Timeline("v", 100, [Segment(10, 30, "a")], fps=10.0, offset=1.0)
    assert tl.seconds(10) == pytest.approx(2.0)
    assert tl.duration == pytest.approx(10.0)
    half = tl.resample(50)
    assert half.segments == [Segment(5, 15, "a")] and half.fps == pytest.approx(5.0)
    with pytest.raises(ActionlineError):
        Timeline("v", 10).seconds(1)


def test_upsample_matches_mstcn_protocol():
    # 50Salads: predicted at sample rate 2, repeated x2 and cut/extended to the full length.
    assert upsample_labels(np.array([1, 2, 3]), 2, 5).tolist() == [1, 1, 2, 2, 3]
    assert upsample_labels(np.array([1, 2]), 2, 6).tolist() == [1, 1, 2, 2, 2, 2]
    full = np.repeat([0, 1, 2], [7, 4, 9])  # boundaries on odd frames move by one frame
    assert upsample_labels(full[::2], 2, len(full)).tolist() == np.repeat([0, 1, 2], [8, 4, 8]).tolist()
    assert (
        np.abs(np.flatnonzero(np.diff(upsample_labels(full[::2], 2, len(full)))) - np.flatnonzero(np.diff(full))).max()
        <= 1
    )


def test_resample_labels_nearest():
    assert resample_labels(np.array([0, 1]), 4).tolist() == [0, 0, 1, 1]
    assert resample_labels(np.array([0, 0, 1, 1, 2, 2]), 3).tolist() == [0, 1, 2]


def test_bad_segments_and_labels_raise():
    with pytest.raises(ActionlineError):
        Segment(5, 5, "a")
    with pytest.raises(ActionlineError):
        Timeline.from_labels("v", [0, 3], CLASSES)
    with pytest.raises(ActionlineError):
        Timeline("v", 5, [Segment(0, 2, "zzz")]).to_labels(CLASSES)
