"""What I3D's sliding mode (`extract --mode sliding`) does to a segmentation model, against the exact features.

No I3D weights can be obtained offline, so the study is built to need none: videos whose classes are visible
(`actionline synth videos`: each activity its own shape, colour and motion), features from an I3D with random
weights (seeded; a random network keeps what it sees apart, enough for MS-TCN to tell the activities apart), once
exact (a 21-frame window centred on each frame) and once sliding, and the same MS-TCN trained on each (same split,
same seeds), scored on the held-out videos (Acc, Edit, F1@{10,25,50}). To fit a shared 2-core machine the frames
are 112 x 112 instead of 224 x 224 and the final 2 x 7 x 7 average pool is 2 x 4 x 4 (what the same network's
map measures at that size); everything else is the released I3D. What is measured is the difference between the
two modes under the same network, not I3D's accuracy. The feature deviation (relative L2, cosine) is stated too.

Writes ``results/sliding_accuracy.json``.
``python benchmarks/sliding_accuracy.py [--videos 8] [--fps 15] [--epochs 60] [--seeds 3]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from actionline.data.layout import SegmentationData
from actionline.data.predictions import label_indices, read_predictions
from actionline.data.synthetic.video import synthesize_video_segmentation
from actionline.engine.extractor import FeatureNetwork, extract_video, save_npy
from actionline.engine.run_record import ExtractionSettings
from actionline.io import atomic_write_text
from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation
from actionline.models.registry import backbone_class

HERE = Path(__file__).resolve().parent
SIZE = 112
MODES = ("exact", "sliding")


def small_i3d() -> FeatureNetwork:
    torch.manual_seed(0)
    backbone = backbone_class("i3d_rgb")().eval()
    backbone.pool_kernel = (2, 4, 4)  # the final average pool over the 4 x 4 map of a 112 x 112 input
    network = FeatureNetwork(backbone, torch.device("cpu"))
    network.spec = replace(network.spec, size=SIZE, short_side=SIZE)
    return network


def feature_folders(data: Path, work: Path, fps: float) -> tuple[dict[str, Path], dict, dict]:
    """One MS-TCN dataset per mode (the same labels and split), its features [D, T] from the same network,
    standardised per dimension with the mean and deviation of that mode's training videos (a random network's
    pooled features share a large common part that would otherwise swamp what differs between frames)."""
    network = small_i3d()
    train = set(SegmentationData(data).split("train", 1))
    folders, seconds, vectors = {}, {}, {}
    for mode in MODES:
        settings = ExtractionSettings("i3d_rgb", None, fps, 21, 1, "segmentation", 1024, mode=mode)
        started = time.perf_counter()
        vectors[mode] = {
            v.stem: extract_video(v, network, settings, 4) for v in sorted((data / "videos").glob("*.mp4"))
        }
        seconds[mode] = time.perf_counter() - started
        print(f"{mode}: {seconds[mode]:.0f} s", flush=True)
        fitted = np.concatenate([x for v, x in vectors[mode].items() if v in train])
        mean, std = fitted.mean(0), fitted.std(0) + 1e-6
        folder = work / mode
        shutil.copytree(data, folder, ignore=shutil.ignore_patterns("videos"))
        (folder / "features").mkdir(exist_ok=True)
        for video, x in vectors[mode].items():
            save_npy(str(folder / "features" / f"{video}.npy"), np.ascontiguousarray(((x - mean) / std).T))
        folders[mode] = folder
    a, b = (np.concatenate(list(vectors[mode].values())) for mode in MODES)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    deviation = {
        "relative_l2": float(np.linalg.norm(a - b) / np.linalg.norm(a)),
        "cosine_mean": float(cosine.mean()),
        "cosine_min": float(cosine.min()),
        "frames": len(a),
    }
    return folders, seconds, deviation


def majority_accuracy(folder: Path) -> float:
    """Acc of labelling every test frame with the most frequent training class: what a model that learnt nothing
    scores (the study says nothing when both modes stay there)."""
    data = SegmentationData(folder)
    counts = np.bincount(np.concatenate([data.labels(v) for v in data.split("train", 1)]))
    test = np.concatenate([data.labels(v) for v in data.split("test", 1)])
    return float(100 * np.mean(test == counts.argmax()))


def train_and_score(folder: Path, epochs: int, seed: int, work: Path) -> dict:
    run, preds = work / f"run_{folder.name}_{seed}", work / f"pred_{folder.name}_{seed}"
    cli = [sys.executable, "-m", "actionline"]
    train = ["train", "--model", "mstcn", "--data", str(folder), "--out", str(run), "--epochs", str(epochs)]
    train += ["--set", f"train.seed={seed}"]
    subprocess.run([*cli, *train], check=True, capture_output=True)
    subprocess.run([*cli, "predict", "--run", str(run), "--data", str(folder), "--out", str(preds)], check=True)
    data = SegmentationData(folder)
    videos = data.split("test", 1)
    predicted = label_indices(read_predictions(preds, videos), videos, data.class_index)
    scores = evaluate_segmentation(predicted, [data.labels(v) for v in videos], SegmentationSettings(background=()))
    return {k: scores.as_dict()[k] for k in ("acc", "edit", "f1@10", "f1@25", "f1@50")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--fps", type=float, default=15.0, help="15: the I3D benchmark convention (21 frames = 1.4 s)")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--output", type=Path, default=HERE / "results" / "sliding_accuracy.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = synthesize_video_segmentation(work / "data", num_videos=args.videos, fps=args.fps, size=SIZE)
        folders, seconds, deviation = feature_folders(data, work, args.fps)
        scores = {
            mode: [train_and_score(folders[mode], args.epochs, s, work) for s in range(args.seeds)] for mode in MODES
        }
        test_videos = SegmentationData(folders["exact"]).split("test", 1)
        majority = majority_accuracy(folders["exact"])
    summary = {mode: {k: statistics.mean(s[k] for s in runs) for k in runs[0]} for mode, runs in scores.items()}
    result = {
        "videos": args.videos,
        "test_videos": test_videos,
        "fps": args.fps,
        "size": SIZE,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "extraction_s": seconds,
        "sliding_speedup": seconds["exact"] / seconds["sliding"],
        "deviation": deviation,
        "majority_acc": majority,
        "scores": scores,
        "summary": summary,
        "difference": {k: summary["sliding"][k] - summary["exact"][k] for k in summary["exact"]},
        "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }
    atomic_write_text(args.output, json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("summary", "difference", "deviation", "sliding_speedup")}, indent=1))


if __name__ == "__main__":
    main()
