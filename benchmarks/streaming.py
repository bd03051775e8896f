"""Live streams (`predict --stream`, issue 37): per-frame latency of the live pipeline on this CPU at 15 fps, stage by
stage as `predict --stream` measures it (`engine.live.timed_decisions`): decode (a 640x480 H.264 file read as fast
as it decodes, resized and cropped for the backbone), features (the backbone on that frame, a clip backbone on the
window ending at it), model (one step of the causal model, `TemporalModel.stream`) and their total; p50 / p90 /
p99 and the real-time factor, for causal MS-TCN and causal ASFormer (their preset sizes, 19 classes) on every
backbone below. Weights are random (the cost does not depend on their values). Writes ``results/streaming.json``
and prints the README table (`tables.streaming`, which also checks the issue's targets against the numbers).

    python benchmarks/streaming.py              # all torch threads (2 on the 2-core reference machine)
    python benchmarks/streaming.py --quick      # a few frames each: checks that the script runs, not a measurement

Times are wall-clock: on a shared machine they include waiting, so the load average before and after is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

import tables
from actionline.config import load_yaml
from actionline.data.live_video import LiveStats, live_frames
from actionline.engine.extractor import load_backbone
from actionline.engine.live import LatencyLog, timed_decisions
from actionline.engine.live_features import LiveFeatures
from actionline.engine.run_record import ExtractionSettings
from actionline.io import atomic_write_text
from actionline.models.registry import build_model

HERE = Path(__file__).resolve().parent
PRESETS = HERE.parent / "src" / "actionline" / "configs"
FPS = 15.0
MODELS = ("mstcn", "asformer")
BACKBONES = {  # name: (window, frames timed per model)
    "efficientnet_lite0": (1, 300),
    "resnet18": (1, 150),
    "resnet50": (1, 60),
    "r3d_18": (16, 15),
    "i3d_rgb": (21, 10),
}
WARMUP = 3  # frames decided before the timed ones (first-call allocations)


def camera_like_video(path: Path, seconds: float) -> Path:
    """A 640x480 H.264 file at 15 fps of a moving texture (a webcam's size and rate)."""
    import av

    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = np.random.default_rng(0).integers(0, 256, (60, 160, 3), dtype=np.uint8)
    texture = blocks.repeat(8, axis=0).repeat(8, axis=1)  # 480 x 1280, 8-pixel blocks
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(FPS))
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": "30"}
        for i in range(round(seconds * FPS)):
            shifted = np.ascontiguousarray(np.roll(texture, -3 * i, axis=1)[:, :640])
            image = av.VideoFrame.from_ndarray(shifted, format="rgb24")
            for packet in stream.encode(image):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def causal_model(name: str, input_dim: int):
    preset = load_yaml(PRESETS / f"{name}.yaml").get("model", {})
    torch.manual_seed(0)
    settings = {**preset, "input_dim": input_dim, "num_classes": 19, "causal": True}
    return build_model(name, settings).eval()


def pipeline(video: Path, backbone, name: str, window: int, model_name: str, frames: int) -> dict:
    """The latency report (`LatencyLog.report`) of ``frames`` frames of ``video`` after `WARMUP`."""
    settings = ExtractionSettings(name, None, FPS, window, causal=True)
    features = LiveFeatures(backbone, settings, torch.device("cpu"))
    step = causal_model(model_name, backbone.feature_dim).stream()
    spec, stats, log = backbone.input, LiveStats(), LatencyLog(FPS)
    source = live_frames(str(video), FPS, spec.short_side, spec.size, stats)
    for k, (decode, _, embed, model) in enumerate(timed_decisions(source, features, step, FPS)):
        if k >= WARMUP:
            log.add(decode, embed, model)
        if k + 1 >= WARMUP + frames:
            break
    return {"window": window, "feature_dim": backbone.feature_dim, **log.report()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads (default: all)")
    ap.add_argument("--quick", action="store_true", help="5 frames per row: a check that the script runs")
    ap.add_argument("--work", default=str(HERE / "work" / "streaming"), help="where the test video is written")
    ap.add_argument("--name", default="streaming", help="the result file: results/<name>.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    longest = max(frames for _, frames in BACKBONES.values())
    video = camera_like_video(Path(args.work) / "camera_640x480_15fps.mp4", (longest + WARMUP + 2) / FPS)
    load_before = round(os.getloadavg()[0], 1)
    started = time.perf_counter()
    quiet = Console(stderr=True, quiet=True)
    rows = {}
    for name, (window, frames) in BACKBONES.items():
        backbone, _ = load_backbone(name, None, quiet, random_weights=True)
        for model_name in MODELS:
            row = pipeline(video, backbone, name, window, model_name, 5 if args.quick else frames)
            rows[f"{name} + causal {model_name}"] = row
            print(f"{name} + causal {model_name}: total p50 {row['total']['p50']} ms", flush=True)
    result = {
        "benchmark": "streaming",
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": args.threads,
            "torch": torch.__version__,
        },
        "load_average": {"before": load_before, "after": round(os.getloadavg()[0], 1)},
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
        "fps": FPS,
        "budget_ms": round(1000 / FPS, 1),
        "video": "640x480 H.264 (libx264 veryfast, crf 23), 15 fps, a moving texture; decoded as fast as possible",
        "rows": rows,
    }
    atomic_write_text(HERE / "results" / f"{args.name}.json", json.dumps(result, indent=1) + "\n")
    print(tables.streaming(result))


if __name__ == "__main__":
    main()
