"""Hour-long videos: every segmentation model on one video of 54,000 frames (1 h at 15 fps, 2048-d features,
48 classes), forward + decode, side by side in one run: wall time and peak resident memory, each model in a
process of its own (so one model's peak does not hide another's). Also the video pipeline's limit: frames per
second of decoding alone against decoding + EfficientNet-Lite0 features, on the real clips in ../shared.

    python benchmarks/long_video.py [--length 54000] [--threads 2]

Writes ``results/long_video.json`` and ``.md``. The issue's target: under 20 s and 4 GB per model on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import tables
from actionline.io import atomic_write_text

HERE = Path(__file__).resolve().parent
MODELS = ("mstcn", "asformer", "baformer", "rtk", "mucon", "sct")


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_model(name: str, length: int, dim: int, classes: int) -> dict:
    """In this process: build ``name``, time one forward + decode of a random [1, dim, length] video."""
    import torch

    from actionline.engine.allocator import tune_allocator
    from actionline.models.registry import build_model

    tune_allocator()  # as the command line does
    torch.manual_seed(0)
    model = build_model(name, {"input_dim": dim, "num_classes": classes}).eval()
    model.set_epoch(10**6, 10**6)  # staged models decode as at the end of training
    x, mask = torch.randn(1, dim, length), torch.ones(1, length)
    base = peak_rss_mb()
    started = time.perf_counter()
    with torch.inference_mode():
        (timeline,) = model.decode(model(x, mask), mask, ["video"], [f"c{i}" for i in range(classes)])
    seconds = time.perf_counter() - started
    return {
        "model": name,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": base,
        "segments": len(timeline.segments),
    }


def video_throughput() -> list[dict]:
    """Decode-only and decode + EfficientNet-Lite0 frames per second on the real clips (15 fps sampling)."""
    import torch

    from actionline.data.video import iter_frames
    from actionline.engine.extractor import FeatureNetwork, extract_video, load_backbone
    from actionline.engine.run_record import ExtractionSettings

    folder = HERE.parents[1] / "shared" / "data" / "videos"
    if not folder.is_dir():
        return []
    from rich.console import Console

    backbone, digest = load_backbone("efficientnet_lite0", None, Console(stderr=True))
    settings = ExtractionSettings("efficientnet_lite0", digest, 15.0, 1, 1, "segmentation", 1280)
    network = FeatureNetwork(backbone, torch.device("cpu"))
    rows = []
    for path in sorted(folder.glob("*.mp4")):
        started = time.perf_counter()
        decoded = sum(1 for _ in iter_frames(path, 15.0, 256, 224))
        decode_s = time.perf_counter() - started
        started = time.perf_counter()
        features = extract_video(path, network, settings, 16)
        extract_s = time.perf_counter() - started
        rows.append(
            {
                "video": path.name,
                "frames": decoded,
                "decode_fps": decoded / decode_s,
                "extract_fps": len(features) / extract_s,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=int, default=54_000)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one model in this process
    args = ap.parse_args()
    if args.one:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(run_model(args.one, args.length, args.dim, args.classes)))
        return
    load = os.getloadavg()[0]
    rows = []
    for name in args.models.split(","):
        cmd = [sys.executable, __file__, "--one", name, "--length", str(args.length), "--dim", str(args.dim)]
        cmd += ["--classes", str(args.classes), "--threads", str(args.threads)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            rows.append({"model": name, "error": done.stderr.strip().splitlines()[-1][:300]})
        else:
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    import torch

    torch.set_num_threads(args.threads)
    result = {
        "length": args.length,
        "dim": args.dim,
        "classes": args.classes,
        "threads": args.threads,
        "machine": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "load_average_at_start": load,
        },
        "models": rows,
        "video": video_throughput(),
    }
    out = HERE / "results" / "long_video"
    atomic_write_text(out.with_suffix(".json"), json.dumps(result, indent=1))
    atomic_write_text(out.with_suffix(".md"), tables.long_video(result))
    print(tables.long_video(result))


if __name__ == "__main__":
    main()
