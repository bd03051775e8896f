"""Shared fixtures: tiny seeded synthetic datasets and the optional real annotations in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actionline.data.synthetic.features import synthesize_segmentation

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session", autouse=True)
def graph_cache(tmp_path_factory) -> Path:
    """Exported ONNX graphs (`engine.graph_cache`) go to a folder of this session, never the user's cache."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACTIONLINE_CACHE", str(folder))
        yield folder


def shared(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when it is absent (users do not have it)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory) -> Path:
    """16 short grammar videos, 4 splits, 16-d features."""
    return synthesize_segmentation(
        tmp_path_factory.mktemp("toy"), num_videos=16, feature_dim=16, seed=3, length_scale=0.5
    )


def synth_video_run(root: Path, videos: int, size: int, fps: int, settings: dict[str, object], epochs: int):
    """Real MP4s (`synth videos`) -> EfficientNet-Lite0 features -> an MS-TCN with ``settings`` trained ``epochs``
    epochs: the dataset folder and the run under ``root``."""
    from actionline.cli import main

    data = root / "data"
    synth = ["synth", "videos", "--out", str(data), "--num-videos", str(videos), "--size", str(size), "--fps", str(fps)]
    assert main(synth) == 0
    assert main(["extract", str(data / "videos"), "--out", str(data), "--fps", str(fps)]) == 0
    sets = [arg for key, value in settings.items() for arg in ("--set", f"model.{key}={value}")]
    run = root / "run"
    args = ["train", "--model", "mstcn", "--data", str(data), "--out", str(run), "--epochs", str(epochs)]
    assert main([*args, *sets]) == 0
    return data, run


@pytest.fixture(scope="session")
def causal_run(tmp_path_factory):
    """Real MP4s -> EfficientNet-Lite0 features (5 fps) -> a small causal MS-TCN: the run and one of its videos."""
    settings = {"num_stages": 2, "num_layers": 4, "num_f_maps": 16, "causal": "true"}
    data, run = synth_video_run(tmp_path_factory.mktemp("live"), 5, 48, 5, settings, epochs=3)
    return run, sorted((data / "videos").glob("*.mp4"))[-1]


@pytest.fixture(scope="session")
def video_run(tmp_path_factory) -> tuple[Path, Path]:
    """Real MP4s -> EfficientNet-Lite0 features (4 fps) -> a small MS-TCN trained one epoch: the dataset folder and
    the run (read only: tests write their outputs elsewhere)."""
    settings = {"num_stages": 1, "num_layers": 3, "num_f_maps": 8}
    return synth_video_run(tmp_path_factory.mktemp("video_run"), 4, 32, 4, settings, epochs=1)
