"""``extract --runtime onnxruntime-int8``: EfficientNet-Lite0 as static int8 calibrated on the videos, its features
within the stated bound of fp32's, the graph and its digest recorded, and a folder never resumed with the other
kind of features."""

from __future__ import annotations

import json

import numpy as np
import pytest

from actionline.data.synthetic.video import synthesize_video_segmentation
from actionline.engine.extractor import SETTINGS_FILE, extract, training_extraction
from actionline.engine.int8_backbone import INT8_GRAPH
from actionline.engine.run_record import ExtractionSettings
from actionline.errors import ConfigError
from actionline.io import file_digest

BOUND = 0.15  # relative L2 from fp32 (benchmarks/int8_extraction.py measures the configuration on more videos)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Two synthetic videos extracted once in fp32 (PyTorch) and once in int8."""
    root = tmp_path_factory.mktemp("int8")
    videos = sorted((synthesize_video_segmentation(root / "data", num_videos=2, fps=5, size=64) / "videos").glob("*"))
    requested = ExtractionSettings.request("efficientnet_lite0", fps=5)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ACTIONLINE_CACHE", str(root / "cache"))
        extract(videos, root / "fp32", requested, device="cpu")
        extract(videos, root / "int8", requested, device="cpu", runtime="onnxruntime-int8")
    return root, videos, requested


def features(folder):
    return np.concatenate([np.load(f).T for f in sorted((folder / "features").glob("*.npy"))])


def test_int8_features_stay_within_the_bound_of_fp32_and_differ_from_them(extracted):
    root, _, _ = extracted
    fp32, int8 = features(root / "fp32"), features(root / "int8")
    relative = np.linalg.norm(int8 - fp32) / np.linalg.norm(fp32)
    assert 1e-3 < relative < BOUND


def test_the_graph_and_its_digest_are_recorded(extracted):
    root, _, _ = extracted
    stored = json.loads((root / "int8" / SETTINGS_FILE).read_text())
    assert stored["int8"] == file_digest(root / "int8" / INT8_GRAPH)
    assert "int8" not in json.loads((root / "fp32" / SETTINGS_FILE).read_text())  # fp32 folders read as before


def test_a_folder_resumes_only_with_its_own_kind_of_features(extracted, tmp_path, monkeypatch):
    root, videos, requested = extracted
    monkeypatch.setenv("ACTIONLINE_CACHE", str(root / "cache"))
    graph = (root / "int8" / INT8_GRAPH).stat().st_mtime_ns
    extract(videos, root / "int8", requested, device="cpu", runtime="onnxruntime-int8")  # resumed: same graph
    assert (root / "int8" / INT8_GRAPH).stat().st_mtime_ns == graph
    with pytest.raises(ConfigError, match="int8"):
        extract(videos, root / "int8", requested, device="cpu")
    with pytest.raises(ConfigError, match="fp32 features"):
        extract(videos, root / "fp32", requested, device="cpu", runtime="onnxruntime-int8")
    assert not (root / "fp32" / INT8_GRAPH).exists()
    with pytest.raises(ConfigError, match="measured for efficientnet_lite0 only"):
        clip = ExtractionSettings.request("resnet50")
        extract(videos, tmp_path / "out", clip, device="cpu", random_weights=True, runtime="onnxruntime-int8")
    assert not (tmp_path / "out").exists()


def test_predict_video_does_not_reproduce_int8_features(extracted):
    from types import SimpleNamespace

    root, _, _ = extracted
    settings = ExtractionSettings.from_dict(json.loads((root / "int8" / SETTINGS_FILE).read_text()), "extraction")
    with pytest.raises(ConfigError, match="int8"):
        training_extraction(SimpleNamespace(model="run", extraction=settings), 1280)
