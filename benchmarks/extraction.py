"""Feature extraction against the machine's limit, in interleaved rounds with the fp32 matmul peak timed in each.

Per round: the fp32 2048-cube matmul peak (GMAC/s at the current thread count) and the load average, then
- EfficientNet-Lite0 end to end: ``python -m actionline extract`` on an H.264 file (process start, model load,
  decoding and writing included), frames/s = frames written / wall time; on the 10 s clip, where the process start
  weighs most, and on the clip repeated to ``--long-minutes`` (packet for packet, `repeated_clip.py`), where the
  steady rate does;
- the same with ``--runtime onnxruntime`` (the backbone's exported graph run by ONNX Runtime, loaded from the graph
  cache, `engine.graph_cache`, which one untimed extraction before the rounds fills: a user's runs after the first);
- the backbones alone on batches already in memory: EfficientNet-Lite0 (batch 16) in the inference form the
  extractor runs, as the plain module (the path before), run by ONNX Runtime in fp32 and as a static int8 graph
  (activation ranges calibrated on 64 frames of the clip), torchvision-layout ResNet-50 (batch 8), I3D exact (one
  21-frame window per frame, 2 windows), I3D exact as the extractor runs it (16 consecutive windows with the work
  they share done once, `engine.i3d_windows`; the same features) and sliding (one 192-frame span = 128 frames);
- MS-TCN's forward on one hour of 1280-d EfficientNet-Lite0 features (54,000 frames), for the hour estimate.
torchrun against one process: `torchrun_extraction.py`; an hour of video measured end to end: `hour_of_video.py`.
Fraction of the peak = frames/s x GMACs per frame / peak GMAC/s (GMACs counted on the network, conv + linear).
Once per run: the I3D sliding mode's deviation from the exact features, and the ONNX
Runtime fp32 / int8 features' deviation from PyTorch's fp32 ones on 32 other frames of the clip.

Writes ``results/extraction.json``.  ``python benchmarks/extraction.py [--rounds 3] [--long-minutes 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from actionline.data.video import frame_chunks
from actionline.engine.extractor import FeatureNetwork, extract_video, load_backbone
from actionline.engine.i3d_windows import SharedWindowsI3D
from actionline.engine.onnx_graph import OnnxForward, export_onnx
from actionline.engine.profiler import MacCounter
from actionline.engine.quantize import quantize_graph
from actionline.engine.run_record import ExtractionSettings
from actionline.io import atomic_write_text
from actionline.models.backbone import scale_pixels
from actionline.models.registry import backbone_class, build_model
from actionline.nn.networks.inference_form import channels_last, inference_form
from repeated_clip import repeated

HERE = Path(__file__).resolve().parent
VIDEO = HERE.parents[1] / "shared" / "data" / "videos" / "bikes.mp4"  # H.264, 640 x 272, 25 fps, 10 s
HOUR = 54_000  # frames: one hour at 15 fps
SHARED_WINDOWS = 16  # consecutive I3D windows per batch: `extract`'s default --batch-size


def matmul_peak_gmacs(size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return size**3 / best / 1e9


def gmacs(backbone, x: torch.Tensor) -> float:
    with torch.no_grad(), MacCounter(backbone) as counter:
        backbone.features(x)
    return counter.total / 1e9


def rate(call, x: torch.Tensor, frames: int) -> float:
    """Frames per second of one call (after one untimed call)."""
    with torch.inference_mode():
        call(x)
        started = time.perf_counter()
        call(x)
        return frames / (time.perf_counter() - started)


def end_to_end(video: Path, work: Path, *options: str) -> float:
    out = work / f"e2e{time.monotonic_ns()}"
    command = [sys.executable, "-m", "actionline", "extract", str(video), "--out", str(out), "--fps", "15", *options]
    env = os.environ | {"ACTIONLINE_CACHE": str(work / "cache")}  # the exported graph: this run's own cache
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - started
    frames = np.load(out / "features" / f"{video.stem}.npy", mmap_mode="r").shape[1]
    shutil.rmtree(out)
    return frames / wall


def real_frames(video: Path, count: int, backbone) -> torch.Tensor:
    """The first ``count`` frames of ``video`` at 15 fps as ``backbone`` takes them: [N, 3, size, size] scaled."""
    spec = backbone.input
    frames = next(frame_chunks(video, 15.0, spec.short_side, spec.size, count))
    return scale_pixels(torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous(), spec.scaling)


def onnxruntime_networks(backbone, calibration: torch.Tensor, work: Path) -> dict:
    """EfficientNet-Lite0 run by ONNX Runtime: the fp32 graph (`extract --runtime onnxruntime`) and its static int8
    version, activation ranges calibrated on ``calibration`` frames of the clip (QDQ, per-channel weights)."""
    graph = export_onnx(backbone, work / "effnet.onnx")
    batches = [(calibration[i : i + 8],) for i in range(0, len(calibration), 8)]
    int8 = quantize_graph(graph, work / "effnet_int8.onnx", "static", batches)
    return {"fp32": OnnxForward(graph, backbone), "int8": OnnxForward(int8, backbone)}


def deviation(reference: np.ndarray, other: np.ndarray) -> dict:
    cosine = (reference * other).sum(1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(other, axis=1)
    return {
        "max_abs": float(np.abs(reference - other).max()),
        "relative_l2": float(np.linalg.norm(reference - other) / np.linalg.norm(reference)),
        "cosine_min": float(cosine.min()),
    }


def runtime_deviation(reference, runtimes: dict, frames: torch.Tensor) -> dict:
    """Features of real frames (not the calibration frames) by each runtime against PyTorch's fp32 module."""
    with torch.inference_mode():
        expected = reference(frames).numpy()
    return {name: deviation(expected, run(frames)["features"].numpy()) for name, run in runtimes.items()}


def sliding_deviation(video: Path, fps: float) -> dict:
    """I3D (random weights: no I3D weights are available offline) exact against sliding features on a real clip."""
    torch.manual_seed(0)
    network = FeatureNetwork(backbone_class("i3d_rgb")().eval(), torch.device("cpu"))
    features = {}
    for mode in ("exact", "sliding"):
        settings = ExtractionSettings("i3d_rgb", None, fps, 21, 1, "segmentation", 1024, mode)
        features[mode] = extract_video(video, network, settings, 4)
    a, b = features["exact"], features["sliding"]
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return {
        "fps": fps,
        "frames": len(a),
        "relative_l2": float(np.linalg.norm(a - b) / np.linalg.norm(a)),
        "cosine_mean": float(cosine.mean()),
        "cosine_min": float(cosine.min()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--deviation-fps", type=float, default=2.0, help="I3D exact vs sliding on the clip (0: skip)")
    ap.add_argument("--long-minutes", type=float, default=3.0, help="end to end on the clip repeated (0: skip)")
    args = ap.parse_args()
    if not VIDEO.is_file():
        raise SystemExit(f"{VIDEO} not found: the benchmark decodes that H.264 clip")
    threads = torch.get_num_threads()
    console = Console(stderr=True)
    effnet, _ = load_backbone("efficientnet_lite0", None, console)
    resnet = backbone_class("resnet50")().eval()
    i3d = backbone_class("i3d_rgb")().eval()
    images, clips = torch.randn(16, 3, 224, 224), torch.randn(2, 3, 21, 224, 224)
    span = torch.randn(1, 3, 192, 224, 224)
    consecutive = torch.randn(1, 3, SHARED_WINDOWS + 20, 224, 224)  # the frames of 16 consecutive 21-frame windows
    shared = SharedWindowsI3D(i3d)
    cost = {
        "efficientnet_lite0": gmacs(effnet, images[:1]),
        "resnet50": gmacs(resnet, images[:1]),
        "i3d_window": gmacs(i3d, clips[:1]),
        "i3d_span": gmacs(i3d, span),
        "i3d_shared": shared.macs_per_window(21, SHARED_WINDOWS) / 1e9,
    }
    fast = {
        "efficientnet_lite0": inference_form(effnet),
        "resnet50": inference_form(resnet),
        "i3d": inference_form(i3d, 3),
    }
    work = Path(tempfile.mkdtemp(prefix="extraction-bench-"))
    clip = real_frames(VIDEO, 96, effnet)
    runtimes = onnxruntime_networks(effnet, clip[:64], work)
    once_deviation = runtime_deviation(effnet.features, runtimes, clip[64:])
    mstcn = build_model("mstcn", {"input_dim": 1280, "num_classes": 19}).eval()
    hour = torch.randn(1, 1280, HOUR)
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        end_to_end(VIDEO, Path(tmp), "--runtime", "onnxruntime")  # untimed: exports the graph into the cache
        long = repeated(VIDEO, 60 * args.long_minutes, Path(tmp) / "long.mp4") if args.long_minutes > 0 else None
        for r in range(args.rounds):
            row = {"load_1min": os.getloadavg()[0], "peak_gmacs": matmul_peak_gmacs()}
            row["effnet_end_to_end_fps"] = end_to_end(VIDEO, Path(tmp))
            if long is not None:
                row["effnet_end_to_end_long_fps"] = end_to_end(long, Path(tmp))
            row["effnet_backbone_fps"] = rate(fast["efficientnet_lite0"], channels_last(images), 16)
            row["effnet_plain_backbone_fps"] = rate(effnet.features, images, 16)
            row["effnet_end_to_end_onnxruntime_fps"] = end_to_end(VIDEO, Path(tmp), "--runtime", "onnxruntime")
            if long is not None:
                row["effnet_end_to_end_long_onnxruntime_fps"] = end_to_end(long, Path(tmp), "--runtime", "onnxruntime")
            row["effnet_onnxruntime_fps"] = rate(runtimes["fp32"], images, 16)
            row["effnet_int8_fps"] = rate(runtimes["int8"], images, 16)
            row["resnet50_fps"] = rate(fast["resnet50"], channels_last(images[:8]), 8)
            row["i3d_exact_fps"] = rate(fast["i3d"], channels_last(clips), 2)
            row["i3d_shared_fps"] = rate(lambda x: shared.features(x, 21), channels_last(consecutive), SHARED_WINDOWS)
            row["i3d_sliding_fps"] = rate(fast["i3d"], channels_last(span), 128)
            with torch.inference_mode():
                mstcn(hour, torch.ones(1, HOUR))
                started = time.perf_counter()
                mstcn(hour, torch.ones(1, HOUR))
                row["mstcn_hour_s"] = time.perf_counter() - started
            row["load_1min_after"] = os.getloadavg()[0]
            rounds.append(row)
            console.print(f"round {r + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), markup=False)
        once: dict = {"runtime_deviation": once_deviation}
        shutil.rmtree(work)
        once["long_video"] = f"{VIDEO.name} repeated: {args.long_minutes:g} min" if long is not None else None
        save(rounds, cost, threads, once)  # written after each stage, so that a long run keeps what it measured
        if args.deviation_fps > 0:
            once["i3d_sliding_deviation"] = sliding_deviation(VIDEO, args.deviation_fps)
    summary = save(rounds, cost, threads, once)
    console.print(json.dumps(summary, indent=1), markup=False)


def save(rounds: list[dict], cost: dict, threads: int, once: dict) -> dict:
    summary = summarise(rounds, cost)
    result = {
        "threads": threads,
        "torch": torch.__version__,
        "video": VIDEO.name,
        "gmacs_per_frame": cost,
        "rounds": rounds,
        "summary": summary,
        **once,
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu_name(),
    }
    atomic_write_text(HERE / "results" / "extraction.json", json.dumps(result, indent=1))
    return summary


def summarise(rounds: list[dict], cost: dict) -> dict:
    """Medians over rounds; each fraction of the peak is taken within its round, then the median of those."""

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def fraction(key: str, per_frame: float) -> float:
        return statistics.median(r[key] * per_frame / r["peak_gmacs"] for r in rounds)

    per_frame = {
        "effnet_end_to_end_fps": cost["efficientnet_lite0"],
        "effnet_end_to_end_long_fps": cost["efficientnet_lite0"],
        "effnet_end_to_end_long_onnxruntime_fps": cost["efficientnet_lite0"],
        "effnet_backbone_fps": cost["efficientnet_lite0"],
        "effnet_plain_backbone_fps": cost["efficientnet_lite0"],
        "effnet_end_to_end_onnxruntime_fps": cost["efficientnet_lite0"],
        "effnet_onnxruntime_fps": cost["efficientnet_lite0"],
        "effnet_int8_fps": cost["efficientnet_lite0"],
        "resnet50_fps": cost["resnet50"],
        "i3d_exact_fps": cost["i3d_window"],
        "i3d_shared_fps": cost["i3d_shared"],
        "i3d_sliding_fps": cost["i3d_span"] / 128,
    }
    out = {k: {"fps": median(k), "fraction_of_peak": fraction(k, g)} for k, g in per_frame.items() if k in rounds[0]}
    out["peak_gmacs"] = median("peak_gmacs")
    out["load_1min"] = median("load_1min")
    out["i3d_sliding_speedup"] = statistics.median(r["i3d_sliding_fps"] / r["i3d_exact_fps"] for r in rounds)
    out["i3d_shared_speedup"] = statistics.median(r["i3d_shared_fps"] / r["i3d_exact_fps"] for r in rounds)
    out["inference_form_speedup"] = statistics.median(
        r["effnet_backbone_fps"] / r["effnet_plain_backbone_fps"] for r in rounds
    )
    out["hour_minutes"] = (HOUR / median("effnet_end_to_end_fps") + median("mstcn_hour_s")) / 60
    return out


def cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown"


if __name__ == "__main__":
    main()
