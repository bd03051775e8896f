"""A per-frame backbone as a static int8 graph (`extract --runtime onnxruntime-int8`).

The backbone's fp32 graph comes from the graph cache (`engine.graph_cache`); `engine.quantize` makes it static int8
with activation ranges calibrated on frames of the videos being extracted (one frame per second of the first
`CALIBRATION_SECONDS` s of the first `CALIBRATION_VIDEOS` videos, in the order given). The int8 graph is kept in the
output folder (`INT8_GRAPH`) and its SHA-256 recorded in ``extraction.json`` (`ExtractionSettings.int8`): int8
features are another function of the frames than fp32 ones, so a folder is resumed only with the graph it was
started with, never with the other runtime, and `predict --video` does not reproduce them.

Only EfficientNet-Lite0, the backbone whose downstream effect was measured (`benchmarks/int8_extraction.py`): its
first `FP32_PRODUCTS` convolutions (on 112 x 112 and 56 x 56 maps) stay fp32, where int8 moves its features most.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from actionline.data.video import frame_chunks
from actionline.engine.distributed import from_environment
from actionline.engine.graph_cache import cached_backbone_graph
from actionline.engine.onnx_graph import GRAPH_FILE, export_onnx
from actionline.engine.quantize import quantize_graph
from actionline.errors import ConfigError
from actionline.io import file_digest
from actionline.models.backbone import Backbone, scale_pixels

INT8_GRAPH = "backbone-int8.onnx"
FP32_PRODUCTS = {"efficientnet_lite0": 10}  # leading convolutions left fp32, per backbone measured
CALIBRATION_VIDEOS, CALIBRATION_SECONDS = 8, 8


def calibration_frames(backbone: Backbone, videos: Sequence[Path]) -> torch.Tensor:
    """Scaled frames [N, 3, size, size] to calibrate on (module docstring)."""
    spec = backbone.input
    chunks = [next(frame_chunks(v, 1.0, spec.short_side, spec.size, CALIBRATION_SECONDS), None) for v in videos]
    frames = [c for c in chunks[:CALIBRATION_VIDEOS] if c is not None and len(c)]
    if not frames:
        raise ConfigError("--runtime onnxruntime-int8 calibrates on the videos' frames, and none could be decoded")
    pixels = torch.from_numpy(np.concatenate(frames)).permute(0, 3, 1, 2).float()
    return scale_pixels(pixels.contiguous(), spec.scaling)


def int8_graph(backbone: Backbone, videos: Sequence[Path], out: Path, recorded: str | None, resumed: bool) -> Path:
    """The int8 graph for extracting ``videos`` into ``out``: the folder's own when it is resumed (``recorded``: the
    digest its settings name, which the file must have), else one calibrated now and written into ``out``."""
    if backbone.name not in FP32_PRODUCTS:
        raise ConfigError(
            f"--runtime onnxruntime-int8 is measured for {', '.join(FP32_PRODUCTS)} only, not {backbone.name}: "
            "use --runtime onnxruntime (the same features as torch)"
        )
    path = out / INT8_GRAPH
    if resumed:
        if recorded is None:
            raise ConfigError(f"{out} holds fp32 features (int8: none); choose another --out for int8 ones")
        if not path.is_file() or file_digest(path) != recorded:
            raise ConfigError(f"{path}: not the int8 graph its features were extracted with; choose another --out")
        return path
    if from_environment().world_size > 1:
        raise ConfigError(
            "--runtime onnxruntime-int8 calibrates its graph in one process: start the folder without torchrun"
        )
    frames = calibration_frames(backbone, videos)
    batches = [(frames[i : i + 8],) for i in range(0, len(frames), 8)]
    cached = cached_backbone_graph(backbone)[0].path
    with tempfile.TemporaryDirectory(prefix="actionline-onnx-") as scratch:  # only when the cache cannot keep it
        source = cached if cached.is_file() else export_onnx(backbone, Path(scratch) / GRAPH_FILE)
        return quantize_graph(source, path, "static", batches, FP32_PRODUCTS[backbone.name])  # written atomically
