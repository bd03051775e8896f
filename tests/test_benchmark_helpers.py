"""Helpers of the benchmark scripts that change what is measured (the scripts themselves run for hours)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from actionline.data.layout import SegmentationData

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_rate_view_subsamples_without_touching_the_data(toy_data):
    baselines = _load("segmentation_baselines")
    original = SegmentationData(toy_data)
    assert original.info.sample_rate == 1
    view_dir = baselines.with_sample_rate(Path(toy_data), 3)
    view = SegmentationData(view_dir)
    assert view.info.sample_rate == 3 and SegmentationData(toy_data).info.sample_rate == 1
    assert view.classes == original.classes and view.split("test", 1) == original.split("test", 1)
    video = original.split("test", 1)[0]
    feats, labels = original.pair(video)
    sub_feats, sub_labels = view.pair(video)
    np.testing.assert_array_equal(sub_feats, feats[:, ::3])
    np.testing.assert_array_equal(sub_labels, labels[::3])
    assert view.labels(video).shape == original.labels(video).shape  # scoring stays at the full frame rate
    assert baselines.with_sample_rate(Path(toy_data), 1) == Path(toy_data)  # the dataset's own rate
    assert baselines.with_sample_rate(Path(toy_data), 3) == view_dir  # a second call reuses the view
    with pytest.raises(SystemExit, match="positive"):
        baselines.with_sample_rate(Path(toy_data), 0)
