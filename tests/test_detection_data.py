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
