"""The accuracy cost of causality (issue 37), on data where the offline models learn: each model trained offline and
causal (``model.causal=true``) with the same seeds on the same synthetic grammar data (`equal_budget.py`'s protocol:
batch 1, Adam at the preset's lr, last epoch scored on the test split), differences paired by seed; then the online
smoothing of each trained causal model's frame labels (`engine.live.OnlineSmoother`, what `predict --stream --smooth`
emits) at several delays: Acc, Edit, F1 and label changes per minute.

    python benchmarks/causal_accuracy.py --models mstcn --seeds 0,1,2 --epochs 20
    python benchmarks/causal_accuracy.py --models mstcn --summarise

The causal frame labels are the last stage's argmax of the offline causal forward, which equals streaming one frame
at a time (`tests/test_causal.py`).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from actionline.data.layout import SegmentationData
from actionline.data.synthetic.features import synthesize_segmentation
from actionline.engine.live import OnlineSmoother
from actionline.io import atomic_write_text
from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation
from equal_budget import METRICS, decoded_labels, fit, interval, load_split, test_scores

HERE = Path(__file__).resolve().parent
DELAYS = (0.0, 0.25, 0.5, 1.0, 2.0)  # smoothing seconds


def changes_per_minute(labels: list[np.ndarray], fps: float) -> float:
    """Label changes per minute of video over all ``labels`` sequences."""
    changes = sum(int(np.count_nonzero(np.diff(y))) for y in labels)
    return changes / (sum(len(y) for y in labels) / fps / 60)


def smoothing_study(model: torch.nn.Module, data: SegmentationData) -> dict[str, dict[str, float]]:
    """Per delay: the scores and label changes per minute of the causal frame labels after online smoothing."""
    classes, fps, test = list(data.classes), float(data.info.fps), load_split(data, "test")
    with torch.no_grad():
        raw = [model(x, torch.ones(1, x.shape[2]))["logits"][-1, 0].argmax(0).numpy() for _, x, _ in test]
    out = {}
    for delay in DELAYS:
        smoothed = []
        for labels in raw:
            smoother = OnlineSmoother(1 + round(delay * fps), classes, fps)
            for label in labels.tolist():
                smoother.push(label, 1.0)
            smoothed.append(np.asarray(smoother.labels))
        scores = evaluate_segmentation(smoothed, [y for _, _, y in test], SegmentationSettings(), classes=classes)
        row = {k: float(scores.as_dict()[k]) for k in METRICS}
        out[f"{delay:g}"] = {**row, "changes_per_min": changes_per_minute(smoothed, fps)}
    return out


def run_one(name: str, causal: bool, data: SegmentationData, epochs: int, seed: int) -> dict:
    start = time.perf_counter()
    model, log = fit(name, data, epochs, seed, {"causal": causal})
    record = {"model": name, "causal": causal, "seed": seed, **test_scores(model, data)}
    record["changes_per_min"] = changes_per_minute(decoded_labels(model, data), float(data.info.fps))
    if causal:
        record["smoothing"] = smoothing_study(model, data)
    record["epoch_acc"] = [round(e["acc"], 1) for e in log]
    record["train_s"] = round(time.perf_counter() - start, 1)
    return record


def label(record: dict) -> str:
    return f"{record['model']}-{'causal' if record['causal'] else 'offline'}"


def summarise(runs: list[dict], data: SegmentationData) -> dict:
    keys = (*METRICS, "changes_per_min")
    variants = sorted({label(r) for r in runs}, key=lambda v: (v.split("-")[0], v.endswith("causal")))
    summary: dict = {v: {k: interval([r[k] for r in runs if label(r) == v]) for k in keys} for v in variants}
    for model in sorted({r["model"] for r in runs}):
        offline = {r["seed"]: r for r in runs if r["model"] == model and not r["causal"]}
        paired = [(r, offline[r["seed"]]) for r in runs if r["model"] == model and r["causal"] and r["seed"] in offline]
        if paired:
            summary[f"{model}: causal - offline"] = {k: interval([c[k] - o[k] for c, o in paired]) for k in keys}
    smoothing = {}
    for model in sorted({r["model"] for r in runs if r["causal"]}):
        causal = [r for r in runs if r["model"] == model and r["causal"]]
        smoothing[f"{model}-causal"] = {
            d: {k: interval([r["smoothing"][d][k] for r in causal]) for k in keys} for d in causal[0]["smoothing"]
        }
    truth = [data.labels(v) for v in data.split("test", 1)]
    return {
        "summary": summary,
        "smoothing": smoothing,
        "ground_truth_changes_per_min": changes_per_minute(truth, float(data.info.fps)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mstcn")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--videos", type=int, default=32)
    ap.add_argument("--length-scale", type=float, default=1.0)
    ap.add_argument("--difficulty", type=float, default=1.0)
    ap.add_argument("--work", default=str(HERE / "work" / "causal_accuracy"))
    ap.add_argument("--summarise", action="store_true", help="collect the runs in --work into results/<name>.json")
    ap.add_argument("--name", default="causal_accuracy")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data_dir = Path(args.work) / f"grammar_v{args.videos}_l{args.length_scale}_d{args.difficulty}"
    if not data_dir.is_dir():
        synthesize_segmentation(
            data_dir, num_videos=args.videos, seed=0, length_scale=args.length_scale, difficulty=args.difficulty
        )
    data = SegmentationData(data_dir)
    runs_dir = data_dir.parent / "runs" / f"{args.name}_e{args.epochs}"
    models = args.models.split(",")
    if args.summarise:
        runs = [json.loads(p.read_text()) for m in models for p in sorted(runs_dir.glob(f"{m}-*.json"))]
        result = {
            "benchmark": "causal_accuracy",
            "dataset": f"synthetic grammar, {args.videos} videos (split 1: {len(data.split('train', 1))} train / "
            f"{len(data.split('test', 1))} test), length scale {args.length_scale}, difficulty {args.difficulty}, "
            f"{data.info.fps:g} fps",
            "protocol": f"{args.epochs} epochs each, batch 1, Adam at the preset's lr, last epoch scored on the test "
            "split; mean [95 % t-interval] over seeds; causal - offline paired by seed",
            "delays_s": list(DELAYS),
            "settings": SegmentationSettings().describe(),
            "machine": {"cpu_threads": 1, "torch": torch.__version__, "python": platform.python_version()},
            **summarise(runs, data),
            "runs": runs,
        }
        atomic_write_text(HERE / "results" / f"{args.name}.json", json.dumps(result, indent=1) + "\n")
        return
    for seed in (int(s) for s in args.seeds.split(",")):
        for m in models:
            for causal in (False, True):
                record = run_one(m, causal, data, args.epochs, seed)
                atomic_write_text(runs_dir / f"{label(record)}-{seed}.json", json.dumps(record) + "\n")
                print(json.dumps({k: v for k, v in record.items() if k != "smoothing"}), flush=True)


if __name__ == "__main__":
    main()
