"""``dataset build`` throughput: frames per second from video files + a Label Studio file to a dataset `train`
reads, beside the backbone's own rate (its forward pass alone on frames already decoded and resized) and the time
of everything that is not extraction (reading the annotations, placing labels, writing the layout; measured by
building again, when the extraction resumes and decodes nothing).

    python benchmarks/dataset_build.py [--videos 4] [--fps 15] [--threads 2]

Writes ``results/dataset_build.json`` and ``.md``. Synthetic MP4s (``synth videos``), EfficientNet-Lite0 (its
weights ship with a package), CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import tables
from actionline.io import atomic_write_text

HERE = Path(__file__).resolve().parent


def backbone_rate(name: str, batch: int, seconds: float = 20.0) -> float:
    """Frames per second of the backbone's forward pass on random frames of its input size (after a warm-up)."""
    import numpy as np
    import torch
    from rich.console import Console

    from actionline.engine.extractor import embed, load_backbone

    backbone, _ = load_backbone(name, None, Console(stderr=True))
    size = backbone.input.size or backbone.input.short_side or 224
    frames = [np.random.default_rng(0).integers(0, 255, (1, size, size, 3), dtype=np.uint8)] * batch
    embed(backbone, frames, torch.device("cpu"))
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        embed(backbone, frames, torch.device("cpu"))
        done += batch
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    import torch
    from rich.console import Console

    from actionline.data.annotations import AnnotationOptions, read_annotation_file, write_annotation_file
    from actionline.data.synthetic.video import synthesize_video_segmentation
    from actionline.engine.dataset_builder import BuildSettings, build_dataset

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synthesize_video_segmentation(root / "synth", num_videos=args.videos, fps=args.fps, size=args.size, seed=0)
        timelines = read_annotation_file(root / "synth", "mstcn").timelines
        labels = root / "labelstudio.json"
        write_annotation_file(
            timelines, labels, "labelstudio", AnnotationOptions(skip_labels=frozenset({"background"}))
        )
        settings = BuildSettings(fps=args.fps, batch_size=args.batch_size, device="cpu")
        quiet = Console(stderr=True, quiet=True)
        started = time.perf_counter()
        summary = build_dataset(root / "synth" / "videos", labels, root / "out", settings=settings, console=quiet)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        build_dataset(root / "synth" / "videos", labels, root / "out", settings=settings, console=quiet)
        rest_s = time.perf_counter() - started
        frames = sum(summary.per_class.values())
        shutil.rmtree(root / "out")
    own = backbone_rate(settings.backbone, args.batch_size)
    result = {
        "backbone": settings.backbone,
        "videos": args.videos,
        "frames": frames,
        "fps": args.fps,
        "frame_size": args.size,
        "build_s": round(build_s, 2),
        "build_frames_per_s": round(frames / build_s, 2),
        "backbone_frames_per_s": round(own, 2),
        "without_extraction_s": round(rest_s, 3),
        "machine": {
            "cpu_threads": args.threads,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_before": round(load_before, 1),
            "load_average_after": round(os.getloadavg()[0], 1),
        },
    }
    (HERE / "results").mkdir(exist_ok=True)
    atomic_write_text(HERE / "results" / "dataset_build.json", json.dumps(result, indent=1))
    atomic_write_text(HERE / "results" / "dataset_build.md", tables.dataset_build(result) + "\n")
    print(tables.dataset_build(result))


if __name__ == "__main__":
    main()
