"""The fast extraction path gives the features of the original one: frozen values computed by the original
extractor (commit 8fb5e41, one network call per window, no inference form) on a generated video, every registered
backbone's inference form against its own ``features``, and the window arithmetic against its definition.

Tolerance: 1e-4 absolute per feature (features up to ~5.5; folding BatchNorm into the convolutions and channels-last
kernels change the rounding, measured 1e-5 at most)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from actionline.data.synthetic.video import write_video
from actionline.data.video import frame_chunks, iter_frames
from actionline.engine.extractor import (
    ExtractionSettings,
    FeatureNetwork,
    extract_video,
    snippet_means,
    window_batches,
)
from actionline.models.backbone import scale_pixels
from actionline.models.registry import BACKBONES, backbone_class
from actionline.nn.networks.inference_form import channels_last, inference_form

TOLERANCE = 1e-4
DIMS = [0, 2, 100, 517, 1000, 1279]
# computed with the original extractor (8fb5e41) from the video of `frozen_video`, packaged EfficientNet-Lite0 weights
ORIGINAL = {
    ("segmentation", 1, 1): (
        [113.3579, 119.1172, 124.6333, 131.5636, 141.7906, 154.8575, 166.5716, 175.3883],
        [
            [0.0, 0.0, 1.28284, 0.58749, 0.09708, 0.0],
            [0.013, 0.00865, 1.52704, 1.37563, 0.23037, 0.0],
            [0.05603, 0.0667, 1.6724, 1.71552, 0.26125, 0.0],
            [0.09556, 0.16058, 1.62319, 1.75232, 0.19723, 0.0],
            [0.1017, 0.14144, 1.33963, 1.75767, 0.18076, 0.0],
            [0.02229, 0.14549, 1.29389, 1.67697, 0.23384, 0.0],
            [0.0, 0.12979, 1.29288, 1.65002, 0.23565, 0.0],
            [0.0, 0.0998, 1.14187, 1.60556, 0.27294, 0.0],
        ],
    ),
    ("detection", 4, 3): (
        [122.168, 148.6958, 173.1841],
        [
            [0.04115, 0.05898, 1.52637, 1.35774, 0.19648, 0.0],
            [0.05489, 0.14432, 1.3874, 1.70925, 0.21187, 0.0],
            [0.0, 0.10729, 1.17962, 1.61668, 0.26362, 0.0],
        ],
    ),
}


@pytest.fixture(scope="module")
def frozen_video(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 256, (1, 48, 64, 3)) * np.linspace(0.2, 1, 8)[:, None, None, None]).astype(np.uint8)
    path = tmp_path_factory.mktemp("frozen") / "frozen.mp4"
    write_video(path, frames, 10)
    return path


@pytest.mark.parametrize("layout, window, stride", list(ORIGINAL))
def test_efficientnet_features_equal_the_original_extractors(frozen_video, layout, window, stride):
    backbone = backbone_class("efficientnet_lite0")().eval()
    backbone.load_weights(backbone.default_weights())
    settings = ExtractionSettings("efficientnet_lite0", None, 10.0, window, stride, layout, 1280)
    features = extract_video(frozen_video, FeatureNetwork(backbone, torch.device("cpu")), settings, 3)
    sums, values = ORIGINAL[(layout, window, stride)]
    np.testing.assert_allclose(features[:, DIMS], values, atol=TOLERANCE + 1e-5)  # the frozen values have 5 decimals
    np.testing.assert_allclose(features.sum(1), sums, atol=1280 * TOLERANCE)


def randomised(name: str) -> torch.nn.Module:
    """A backbone with random weights and BatchNorm statistics far from the identity (so folding is exercised)."""
    torch.manual_seed(0)
    backbone = backbone_class(name)().eval()
    with torch.no_grad():
        for m in backbone.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return backbone


@pytest.mark.parametrize("name", sorted(n for n in BACKBONES if n != "i3d_flow"))
def test_inference_form_computes_the_backbones_features(name):
    backbone = randomised(name)
    spec = backbone.input
    size = 224 if name.startswith(("i3d", "s3d")) else 64
    frames = 16 if spec.frames > 1 else None
    shape = (2, 3, size, size) if frames is None else (1, 3, frames, size, size)
    x = torch.randn(shape)
    fast = inference_form(backbone, 2 if frames is None else 3)
    with torch.no_grad():
        expected = backbone.features(x)
        got = fast(channels_last(x))
    torch.testing.assert_close(got, expected, atol=TOLERANCE, rtol=1e-4)
    assert all(not isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in fast.modules()), "a BN not folded"


def test_inference_form_leaves_the_backbone_unchanged():
    backbone = randomised("resnet18")
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    inference_form(backbone)
    after = backbone.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def labelled(count: int) -> list[np.ndarray]:
    return [np.full((1, 1, 3), i, np.uint8) for i in range(count)]


@pytest.mark.parametrize("count, chunk", [(1, 1), (5, 2), (13, 4), (13, 64)])
@pytest.mark.parametrize("window, stride, lead", [(1, 1, 0), (4, 1, 2), (5, 1, 2), (4, 3, 0), (16, 5, 0), (21, 1, 10)])
def test_window_batches_follow_their_definition(count, chunk, window, stride, lead):
    """Window k covers padded frames k*stride ... k*stride + window - 1 of the stream with `lead` copies of the first
    frame before it and the last frame after it; one window per start below the frame count."""
    frames = np.stack(labelled(count))
    chunks = (frames[i : i + chunk] for i in range(0, count, chunk))
    got = np.concatenate([b[..., 0, 0, 0] for b in window_batches(chunks, window, stride, lead)])
    starts = np.arange(0, count, stride)
    expected = np.clip(starts[:, None] + np.arange(window) - lead, 0, count - 1)
    np.testing.assert_array_equal(got, expected)


def test_snippet_means_average_each_snippets_frames():
    vectors = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    got = snippet_means(vectors, 4, 3)
    np.testing.assert_allclose(got[:, 0], [1.5, 4.5, 7.5, 9.0])  # the last snippet: frames 9, 9, 9, 9


def test_frame_chunks_are_the_frames_in_order(frozen_video):
    expected = np.stack(list(iter_frames(frozen_video, 10.0, 40, 32)))
    chunks = list(frame_chunks(frozen_video, 10.0, 40, 32, chunk=3))
    assert [len(c) for c in chunks] == [3, 3, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), expected)


def test_frame_chunks_raise_the_decoders_error_in_the_consumer(tmp_path):
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    from actionline.errors import DataError

    with pytest.raises(DataError, match=r"bad\.mp4"):
        list(frame_chunks(tmp_path / "bad.mp4", 10.0, None, None, chunk=4))


def test_a_consumer_that_stops_early_stops_the_decoder(frozen_video):
    import threading

    before = threading.active_count()
    chunks = frame_chunks(frozen_video, 10.0, None, None, chunk=1, prefetch=1)
    next(chunks)
    chunks.close()
    assert threading.active_count() == before


class CentreFrameNetwork:
    """Stands in for I3D in the sliding mode: each output position is the label of the frame at its centre."""

    positions = (8, 9)

    def windows(self, windows: np.ndarray, keep_positions: bool = False) -> np.ndarray:
        assert keep_positions
        step, centre = self.positions
        count = windows.shape[1] // step - 1
        labels = windows[:, centre : centre + step * count : step, 0, 0, 0].astype(np.float32)
        return labels[..., None]  # [N, T', 1]


@pytest.mark.parametrize("count", [5, 130, 250])
def test_sliding_mode_places_each_position_at_its_centre_frame(count):
    from actionline.engine.extractor import sliding_features

    frames = np.stack([np.full((1, 1, 3), i, np.uint8) for i in range(count)])
    chunks = (frames[i : i + 128] for i in range(0, count, 128))
    got = sliding_features(chunks, CentreFrameNetwork())[:, 0]
    assert got.shape == (count,)
    interior = np.arange(1, count - 8)  # between the first centre (frame 1) and the last inside the video
    np.testing.assert_allclose(got[interior], interior, atol=1e-4)
    assert got[0] == min(1, count - 1)


def test_sliding_mode_is_refused_for_a_per_frame_backbone(tmp_path):
    from actionline.engine.extractor import extract
    from actionline.errors import ConfigError

    write_video(tmp_path / "v.mp4", np.zeros((2, 16, 16, 3), np.uint8), 10)
    with pytest.raises(ConfigError, match="sliding"):
        extract(tmp_path / "v.mp4", tmp_path / "out", ExtractionSettings.request("efficientnet_lite0", mode="sliding"))
    assert not (tmp_path / "out").exists()


def test_a_folder_extracted_before_modes_existed_resumes_as_exact(tmp_path):
    import json

    from actionline.engine.extractor import SETTINGS_FILE, check_settings
    from actionline.errors import ConfigError

    old = {"backbone": "i3d_rgb", "weights": None, "fps": 15.0, "window": 21, "stride": 1, "layout": "segmentation"}
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(old | {"feature_dim": 1024}))
    check_settings(tmp_path, ExtractionSettings(**old, feature_dim=1024))  # no error: exact is what it was
    with pytest.raises(ConfigError, match="mode"):
        check_settings(tmp_path, ExtractionSettings(**old, feature_dim=1024, mode="sliding"))


@pytest.fixture(scope="module")
def onnx_network() -> FeatureNetwork:
    backbone = backbone_class("efficientnet_lite0")().eval()
    backbone.load_weights(backbone.default_weights())
    return FeatureNetwork(backbone, torch.device("cpu"), "onnxruntime")  # exported once: the slow part


@pytest.mark.parametrize("layout, window, stride", list(ORIGINAL))
def test_onnxruntime_gives_the_original_extractors_features(frozen_video, onnx_network, layout, window, stride):
    """``extract --runtime onnxruntime``: the exported backbone run by ONNX Runtime, within the same tolerance."""
    settings = ExtractionSettings("efficientnet_lite0", None, 10.0, window, stride, layout, 1280)
    features = extract_video(frozen_video, onnx_network, settings, 3)
    sums, values = ORIGINAL[(layout, window, stride)]
    np.testing.assert_allclose(features[:, DIMS], values, atol=TOLERANCE + 1e-5)
    np.testing.assert_allclose(features.sum(1), sums, atol=1280 * TOLERANCE)


def test_an_unknown_runtime_is_refused_before_anything_is_written(tmp_path):
    from actionline.engine.extractor import extract
    from actionline.errors import ConfigError

    write_video(tmp_path / "v.mp4", np.zeros((2, 16, 16, 3), np.uint8), 10)
    with pytest.raises(ConfigError, match="runtime"):
        extract(tmp_path / "v.mp4", tmp_path / "out", ExtractionSettings.request("efficientnet_lite0"), runtime="tvm")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="per-frame"):
        clip = ExtractionSettings.request("i3d_rgb")
        extract(tmp_path / "v.mp4", tmp_path / "out", clip, random_weights=True, runtime="onnxruntime")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_every_batch_is_scaled_into_one_input_buffer(runtime, request, monkeypatch):
    """A new float input per batch, freed while each batch's feature rows stayed, fragmented the heap until an
    ONNX Runtime extraction's memory grew with the video's length (about 9 MB per batch): every batch is scaled into
    the same memory (a shorter one into its first rows), with the values `scale_pixels` gives."""
    if runtime == "torch":
        network, size = FeatureNetwork(backbone_class("efficientnet_lite0")().eval(), torch.device("cpu")), 64
    else:
        network, size = request.getfixturevalue("onnx_network"), 224  # the graph's input is 224 x 224
    inputs = []

    def recording(x: torch.Tensor) -> torch.Tensor:
        inputs.append((x, x.clone()))  # x kept alive: a fresh input per batch could not reuse its memory
        return run(x)

    run = network.network
    monkeypatch.setattr(network, "network", recording)
    rng = np.random.default_rng(0)
    for n in (3, 3, 2, 3):
        pixels = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        assert network.frames(pixels).shape == (n, 1280)
        expected = scale_pixels(torch.from_numpy(pixels).permute(0, 3, 1, 2), "minus_one_one")
        assert torch.equal(inputs[-1][1], expected)
    assert len({x.data_ptr() for x, _ in inputs}) == 1
