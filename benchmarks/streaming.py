"""Live streams (`predict --stream`): per-frame latency of every causal model's streaming step and of every backbone
frame by frame (a clip backbone's window ending at the frame), against the 15 fps budget of 66.7 ms; the accuracy
cost of causality (causal vs offline rows of a `segmentation_baselines.py` result) and of the online smoothing's
delay (`engine.live.OnlineSmoother` applied to the causal runs' frame labels). Writes ``results/streaming.json``.

    python benchmarks/streaming.py --accuracy segmentation_causal_50salads.json --work /tmp/bw

Latencies are wall-clock per frame on this machine's CPU, which other jobs share: the load average at the start is
recorded beside them.
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

from actionline.data.layout import SegmentationData
from actionline.engine.extractor import load_backbone
from actionline.engine.live import OnlineSmoother
from actionline.engine.live_features import LiveFeatures
from actionline.engine.run_record import ExtractionSettings
from actionline.io import atomic_write_text
from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation
from actionline.models.registry import build_model

HERE = Path(__file__).resolve().parent
FPS = 15.0
BACKBONES = {"efficientnet_lite0": 1, "resnet18": 1, "resnet50": 1, "r3d_18": 16, "i3d_rgb": 21}  # name: window
DELAYS = (0.0, 0.5, 1.0, 2.0)  # smoothing seconds


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {f"p{q}": round(float(np.percentile(ms, q)), 3) for q in (50, 90, 99)}


def model_steps(name: str, input_dim: int, frames: int) -> dict:
    """Per-frame seconds of the causal model's streaming step (its default size, 19 classes)."""
    torch.manual_seed(0)
    model = build_model(name, {"input_dim": input_dim, "num_classes": 19, "causal": True}).eval()
    step, x, times = model.stream(), torch.randn(frames + 20, input_dim), []
    with torch.inference_mode():
        for t in range(frames + 20):
            start = time.perf_counter()
            step(x[t])
            if t >= 20:  # after a warm-up
                times.append(time.perf_counter() - start)
    return {"frames": frames, **percentiles(times)}


def backbone_frames(name: str, window: int, frames: int) -> dict:
    """Per-frame seconds of `LiveFeatures` (the backbone's own input size; random or packaged weights)."""
    from rich.console import Console

    torch.manual_seed(0)
    backbone, _ = load_backbone(name, None, Console(stderr=True, quiet=True))
    settings = ExtractionSettings(name, None, FPS, window, causal=True)
    live = LiveFeatures(backbone, settings, torch.device("cpu"))
    size = backbone.input.size
    rng = np.random.default_rng(0)
    times = []
    for t in range(frames + 2):
        frame = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        start = time.perf_counter()
        live(frame)
        if t >= 2:
            times.append(time.perf_counter() - start)
    return {"frames": frames, "window": window, "feature_dim": backbone.feature_dim, **percentiles(times)}


def smoothing_effect(data: SegmentationData, pred_dir: Path, fps: float) -> dict:
    """Acc / Edit / F1 of one run's predictions (MS-TCN files) after online smoothing with each delay."""
    videos = sorted(p.name for p in pred_dir.iterdir() if p.is_file() and not p.suffix)
    classes = list(data.classes)
    index = {c: i for i, c in enumerate(classes)}
    gts = [np.asarray(data.label_names(v), dtype=object) for v in videos]
    out = {}
    for delay in DELAYS:
        preds = []
        for v in videos:
            smoother = OnlineSmoother(1 + round(delay * fps), classes, fps)
            lines = (pred_dir / v).read_text().splitlines()  # MS-TCN files: a "###" header, then the labels
            for name in " ".join(line for line in lines if not line.startswith("#")).split():
                smoother.push(index[name], 1.0)
            preds.append(np.asarray(classes, dtype=object)[smoother.labels])
        scores = evaluate_segmentation(preds, gts, SegmentationSettings(), videos).as_dict()
        out[f"{delay:g}"] = {k: round(float(scores[k]), 2) for k in ("acc", "edit", "f1@10", "f1@25", "f1@50")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300, help="model steps timed per model")
    ap.add_argument("--backbone-frames", type=int, default=20, help="frames timed per backbone")
    ap.add_argument("--accuracy", default=None, help="a results/segmentation_*.json with causal variants")
    ap.add_argument("--work", default=str(HERE / "work"), help="the --work of that segmentation run")
    ap.add_argument("--data", default=None, help="the dataset folder of that segmentation run")
    ap.add_argument("--accuracy-only", action="store_true", help="keep the latencies of results/streaming.json")
    args = ap.parse_args()
    path = HERE / "results" / "streaming.json"
    if args.accuracy_only:
        result = json.loads(path.read_text())
    else:
        result = {
            "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()},
            "load_average_at_start": round(os.getloadavg()[0], 1),
            "fps": FPS,
            "budget_ms": round(1000 / FPS, 1),
            "models": {n: model_steps(n, 1280, args.frames) for n in ("mstcn", "asformer")},
            "backbones": {n: backbone_frames(n, w, args.backbone_frames) for n, w in BACKBONES.items()},
        }
    if args.accuracy:
        seg = json.loads((HERE / "results" / args.accuracy).read_text())
        result["accuracy"] = {"source": args.accuracy, "summary": seg["summary"], "setup": seg["features"]}
        data, fps = SegmentationData(Path(args.data)), 30.0  # 50Salads' frame rate, at which predictions are scored
        name = args.accuracy.removeprefix("segmentation_").removesuffix(".json")
        result["smoothing"] = {
            label: smoothing_effect(data, Path(args.work) / "preds" / f"{name}-{label}-split1", fps)
            for label in seg["summary"]
            if "causal" in label
        }
    atomic_write_text(path, json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("models", "backbones")}, indent=1))


if __name__ == "__main__":
    main()
