import json

import numpy as np
import pytest

from actionline.cli import main
from actionline.data.instances import (
    FeatureTiming,
    read_annotations,
    resample_features,
    sliding_windows,
)
from actionline.data.synthetic.features import synthesize_detection
from actionline.errors import DataError
from conftest import shared


def test_resample_is_linear_with_fixed_endpoints():
    x = np.arange(10, dtype=np.float32)[:, None] * np.array([[1.0, -2.0]], dtype=np.float32)
    y = resample_features(x, 4)
    assert y[:, 0].tolist() == pytest.approx([0, 3, 6, 9]) and y[:, 1].tolist() == pytest.approx([0, -6, -12, -18])
    assert resample_features(x, 19)[:3, 0].tolist() == pytest.approx([0, 0.5, 1.0])
    with pytest.raises(DataError):
        resample_features(np.zeros((0, 3)), 5)


def test_sliding_windows_cover_the_video():
    assert sliding_windows(10, 4, 0.5) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert sliding_windows(11, 4, 0.5)[-1] == (7, 11)
    assert sliding_windows(3, 4) == [(0, 3)]
    covered = np.zeros(1000, bool)
    for s, e in sliding_windows(1000, 128, 0.25):
        covered[s:e] = True
    assert covered.all()


def test_feature_timing_maps_and_validates():
    t = FeatureTiming(fps=30.0, stride=16, window=16)
    assert t.center(0) == pytest.approx(8 / 30) and t.index(t.center(7.5)) == pytest.approx(7.5)
    t.validate(60, 32.0, "v")  # 32 s * 30 / 16 = 60 features
    with pytest.raises(DataError, match="should have about 60"):
        t.validate(120, 32.0, "v")


def test_synthetic_detection_from_real_thumos_timings(tmp_path):
    src = shared("thumos14", "annotations", "thumos14.json")
    out = synthesize_detection(tmp_path / "d", annotations_from=src, subset="Test", max_videos=5, feature_dim=8)
    ann = read_annotations(out / "annotations.json")
    real = read_annotations(src)
    assert len(ann.durations) == 5
    for video, duration in ann.durations.items():
        assert duration == real.durations[video]
        ours = sorted((i.start, i.end, i.label) for i in ann.instances if i.video == video)
        theirs = sorted((i.start, i.end, i.label) for i in real.instances if i.video == video and i.end > i.start)
        assert ours == theirs
        feats = np.load(out / "features" / f"{video}.npy")
        timing = FeatureTiming(**json.loads((out / "features" / f"{video}.json").read_text()))
        timing.validate(len(feats), duration, video)
        assert feats.shape[1] == 8 and np.isfinite(feats).all()


def test_synthetic_detection_is_deterministic_and_cli(tmp_path):
    a = synthesize_detection(tmp_path / "a", num_videos=6, num_classes=3, feature_dim=4, seed=1)
    b = synthesize_detection(tmp_path / "b", num_videos=6, num_classes=3, feature_dim=4, seed=1)
    assert (a / "annotations.json").read_text() == (b / "annotations.json").read_text()
    assert np.array_equal(np.load(a / "features" / "video_00002.npy"), np.load(b / "features" / "video_00002.npy"))
    assert main(["synth", "detection", "--out", str(tmp_path / "c"), "--num-videos", "4", "--feature-dim", "4"]) == 0
    assert {"training", "validation"} == set(read_annotations(tmp_path / "c" / "annotations.json").subsets.values())


def test_instances_past_a_video_end_are_clipped_to_it_with_one_warning(tmp_path):
    """A few ground-truth instances past their video's end (real files have them) are clipped to the duration (one
    that starts after the end becomes empty, so nothing trains on it and the instance count stays that of the
    file); one warning names the videos."""
    from actionline.data.detection import DetectionData

    inside = [{"segment": [k, k + 0.5], "label": "a"} for k in range(8)]
    database = {
        "v1": {"subset": "training", "duration": 10.0, "annotations": inside},
        "v2": {"subset": "training", "duration": 10.0, "annotations": [*inside, {"segment": [8, 12], "label": "b"}]},
        "v3": {"subset": "validation", "duration": 10.0, "annotations": [{"segment": [11, 12], "label": "b"}]},
    }
    (tmp_path / "annotations.json").write_text(json.dumps({"database": database}))
    with pytest.warns(UserWarning) as caught:
        data = DetectionData(tmp_path)
    assert len(caught) == 1 and "2 video(s): v2, v3" in str(caught[0].message)
    assert [(i.start, i.end) for i in data.instances("v2")][-1] == (8.0, 10.0)
    assert [(i.start, i.end) for i in data.instances("v3")] == [(10.0, 10.0)]
    assert [(i.start, i.end) for i in data.instances("v1")] == [(k, k + 0.5) for k in range(8)]
    assert data.classes == ["a", "b"]


def test_thumos14_instances_after_their_video_end_are_clipped(tmp_path):
    """thumos14.json: 30 of 6,365 instances start after their video ends (Test 270, 814, 1081; Validation 364,
    856: the annotations, not the features, are wrong: the videos' frame counts agree with the durations)."""
    from actionline.data.detection import DetectionData

    src = shared("thumos14", "annotations", "thumos14.json")
    with pytest.warns(UserWarning) as caught:
        data = DetectionData(tmp_path, src)
    assert len(caught) == 1
    named = [v for v in read_annotations(src).durations if v in str(caught[0].message)]
    assert sorted(v[-4:] for v in named) == ["0270", "0364", "0814", "0856", "1081"]
    kept = [i for v in data.annotations.durations for i in data.instances(v)]
    assert len(kept) == 6365 and all(i.end <= data.duration(i.video) for i in kept)
    assert sum(i.start == i.end == data.duration(i.video) for i in kept) == 30
