"""I3D on consecutive windows with the shared work done once (`engine.i3d_windows`) computes what one window per
call computes: against the plain network run window by window (random weights, BatchNorm statistics far from the
identity so that folding is exercised), for both streams, odd and even windows, several batch lengths, and through
`extract_video` on a video shorter than the window cut into batches.

Tolerance: 1e-5 relative to the largest value (measured: under 1e-6; the sums run in another order)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from actionline.data.synthetic.video import write_video
from actionline.data.video import frame_chunks
from actionline.engine.extractor import ExtractionSettings, FeatureNetwork, extract_video, window_batches
from actionline.engine.i3d_windows import SharedWindowsI3D, plan
from actionline.models.registry import backbone_class

RELATIVE = 1e-5


def randomised(name: str):
    torch.manual_seed(0)
    backbone = backbone_class(name)().eval()
    with torch.no_grad():
        for m in backbone.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return backbone


def one_window_each(backbone, frames: torch.Tensor, window: int) -> torch.Tensor:
    """The reference: the network's layers (`I3D.trunk` before its pool) on each window by itself."""
    maps = []
    with torch.no_grad():
        for t in range(frames.shape[2] - window + 1):
            x = frames[:, :, t : t + window]
            for name in backbone.order:
                x = getattr(backbone, name)(x)
            maps.append(x)
    return torch.cat(maps)


@pytest.mark.parametrize(
    "name, window, count, size",
    [
        ("i3d_rgb", 21, 1, 64),  # one window: the shared pass has nothing to share across windows
        ("i3d_rgb", 21, 6, 64),
        ("i3d_flow", 21, 3, 48),
        ("i3d_rgb", 16, 3, 64),  # even: SAME puts the odd padding element at the end
        ("i3d_rgb", 13, 2, 40),  # only the stem is shared
        ("i3d_rgb", 8, 2, 32),  # nothing is shared
    ],
)
def test_shared_windows_equal_one_window_each(name, window, count, size):
    backbone = randomised(name)
    channels = 3 if name == "i3d_rgb" else 2
    frames = torch.randn(1, channels, count + window - 1, size, size, generator=torch.Generator().manual_seed(1))
    expected = one_window_each(backbone, frames, window)
    got = SharedWindowsI3D(backbone).maps(frames, window)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=RELATIVE * expected.abs().max().item(), rtol=0)


def test_the_21_frame_window_shares_up_to_mixed_3b_and_needs_under_two_thirds_of_the_macs():
    backbone = backbone_class("i3d_rgb")().eval()
    steps = plan(backbone, 21)
    assert steps[-1].name == "Mixed_3b"
    assert [s.name for s in steps if s.by_taps] == ["Conv3d_1a_7x7", "Conv3d_2c_3x3"]
    shared = SharedWindowsI3D(backbone)
    one, many = shared.macs_per_window(21, 1), shared.macs_per_window(21, 1024)
    assert 23.5e9 < many < 24e9 < 38.8e9 < one  # one window alone pays the shared pass's gaps


def test_too_few_frames_are_refused():
    with pytest.raises(ValueError, match="no 21-frame window"):
        SharedWindowsI3D(backbone_class("i3d_rgb")().eval()).maps(torch.zeros(1, 3, 20, 32, 32), 21)


@pytest.mark.parametrize("count, batch, causal", [(1, 1, False), (5, 2, False), (5, 2, True), (23, 16, True)])
def test_extraction_gives_the_features_of_one_window_per_call(tmp_path, count, batch, causal):
    """`extract_video` (videos shorter and longer than the window, cut into batches) against
    `FeatureNetwork.windows` (one call per batch of windows, each window computed by itself) on the same batches.
    At 64 x 64 with the final pool over the 2 x 2 map (as `benchmarks/sliding_accuracy.py` runs I3D small)."""
    rng = np.random.default_rng(count)
    write_video(tmp_path / "v.mp4", rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8), 10)
    backbone = randomised("i3d_rgb")
    backbone.pool_kernel = (2, 2, 2)
    network = FeatureNetwork(backbone, torch.device("cpu"))
    network.spec = replace(network.spec, size=64, short_side=64)
    settings = ExtractionSettings("i3d_rgb", None, 10.0, 21, 1, "segmentation", 1024, causal=causal)
    got = extract_video(tmp_path / "v.mp4", network, settings, batch)
    chunks = frame_chunks(tmp_path / "v.mp4", 10.0, 64, 64, batch)
    windows = window_batches(chunks, 21, 1, 20 if causal else 10)
    expected = np.concatenate([network.windows(b) for b in windows])
    assert got.shape == expected.shape == (count, 1024)
    np.testing.assert_allclose(got, expected, atol=RELATIVE * np.abs(expected).max(), rtol=0)
