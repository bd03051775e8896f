"""Where GSMT / TAGS lose on THUMOS14 timings: oracle masks, oracle scores, both (issue 39).

Same data and training as ``detection.py --dataset thumos14`` (synthetic D = 64 features on the real THUMOS14
timings, 128-feature half-overlapping windows, Adam 1e-3, batch 16, mask head 256/128/64, `best` on videos held out
of Validation), per seed ``train.seed``. The trained model's outputs on the Test videos are decoded four ways, with
each window's ground truth assigned as in training (Fig. 3a, `snippet_targets`):

- ``learned``: the model as it is (the benchmark's number);
- ``oracle masks``: every snippet's mask column replaced by its instance's ground-truth mask (background snippets:
  an empty mask), the learned class scores kept;
- ``oracle scores``: the class logits replaced by the ground-truth label of each snippet (one-hot, background
  included), the learned masks kept;
- ``both``: nothing learned; what is lost here is lost in decoding (window cut, snippet grid, one label per
  snippet, the top M1 = 50 snippets, NMS), the ceiling;
- ``both, M1 = T`` and ``learned, M1 = T``: the same with every snippet of a window selected (M1 = 128), which
  separates the M1 cap from the rest.

Diagnostics on the same snippets: foreground/background accuracy, class accuracy on foreground snippets, the share of
ground-truth foreground among the top M1 snippets per window, and the IoU of each foreground snippet's mask at 0.5.
``--fit`` adds the same diagnostics on the run's training videos to an existing record (fit vs generalisation).
One process per ``--model``/``--seeds`` writes ``work/detection_oracle/<model>-e<epochs>-<seed>.json``;
``--summarise`` writes ``results/detection_oracle_thumos14.json`` (95 % t-intervals over seeds; the oracle
gains paired by seed).

    python benchmarks/detection_oracle.py --model gsmt --seeds 0,1,2 --epochs 10
    python benchmarks/detection_oracle.py --model tags --seeds 0,1,2 --epochs 10
    python benchmarks/detection_oracle.py --model gsmt --seeds 0,1,2 --epochs 10 --fit
    python benchmarks/detection_oracle.py --summarise gsmt,tags --epochs 10
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader

from actionline.config import load_yaml, merge
from actionline.data.detection import DetectionData
from actionline.data.synthetic.features import synthesize_detection
from actionline.engine.predictor import load_run
from actionline.io import atomic_write_text
from actionline.metrics.detection import THUMOS_TIOU, evaluate_detection
from actionline.nn.temporal.snippets import snippet_targets
from actionline.tasks.detection import (
    DetectionClips,
    DetectionDataConfig,
    clip_instances,
    collate_clips,
    merge_windows,
    timeline_seconds,
    train_detection,
)
from detection import DATASETS, MODELS, PRESETS
from equal_budget import interval

HERE = Path(__file__).resolve().parent
CONDITIONS = ("learned", "oracle masks", "oracle scores", "both", "both, M1 = T", "learned, M1 = T")
SURE = 30.0  # a logit that makes a probability 1 to float precision


def settings_for(label: str, epochs: int, seed: int) -> dict:
    """detection.py's THUMOS14 settings (window 128, Adam 1e-3, batch 16, mask head 256/128/64) at ``seed``."""
    presets = MODELS[label][1]
    train = {"epochs": epochs, "lr": 1e-3, "optimizer": "adam", "batch_size": 16, "weight_decay": 0.0, "seed": seed}
    common = {
        "train": train,
        "data": {"window": 128, "overlap": 0.5},
        "model": {"num_snippets": 128, "mask_channels": [256, 128, 64]},
    }
    return merge(load_yaml(PRESETS / f"{presets['thumos14']}.yaml"), common)


def oracle(outputs: dict, batch: dict, scales: list[int], num_classes: int, masks: bool, scores: bool) -> dict:
    """``outputs`` with the mask logits and/or class logits of every scale replaced by the ground truth."""
    out = dict(outputs)
    for s in scales:
        length = outputs[f"logits@{s}"].shape[-1]
        labels, gt = snippet_targets(batch["instances"], batch["num_instances"], length, num_classes)
        if masks:
            out[f"mask_logits@{s}"] = (2 * gt - 1) * SURE
        if scores:
            out[f"logits@{s}"] = torch.nn.functional.one_hot(labels, num_classes + 1).transpose(1, 2).float() * SURE
    return out


def diagnostics(outputs: dict, batch: dict, num_classes: int, top: int) -> dict[str, list[float]]:
    """Per-snippet sums at scale 1: fg/bg hits, foreground class hits, GT foreground in the top M1, mask IoU."""
    logits, mask_logits = outputs["logits@1"], outputs["mask_logits@1"]
    labels, gt = snippet_targets(batch["instances"], batch["num_instances"], logits.shape[-1], num_classes)
    probs = torch.softmax(logits, dim=1)
    fg_score, fg_label = probs[:, :-1].max(dim=1)
    fg = labels < num_classes
    predicted_fg = probs.argmax(dim=1) < num_classes
    ranked = fg_score.argsort(dim=1, descending=True)[:, :top]
    pred_cols, gt_cols = (mask_logits > 0).transpose(1, 2)[fg], gt.transpose(1, 2)[fg].bool()
    iou = (pred_cols & gt_cols).sum(1) / (pred_cols | gt_cols).sum(1).clamp(min=1)
    return {
        "fg_bg_correct": [float((predicted_fg == fg).sum()), float(fg.numel())],
        "fg_class_correct": [float((fg_label == labels)[fg].sum()), float(fg.sum())],
        "topm1_foreground": [float(fg.gather(1, ranked).sum()), float(ranked.numel())],
        "mask_iou": [float(iou.sum()), float(fg.sum())],
    }


def windows_with_truth(data: DetectionData, video: str, length: int, cfg: DetectionDataConfig) -> DataLoader:
    """Every window of ``video`` (also those without an instance, as at inference) with its instances."""
    classes = list(data.classes)
    index = {k: i for i, k in enumerate(classes)}
    clips = DetectionClips(data, [video], length, cfg, classes, with_targets=False)
    for item in clips.items:
        rows = clip_instances(data.instances(video), item["clip"], index, cfg.min_instance_fraction)
        item["instances"] = torch.from_numpy(rows)
    return DataLoader(clips, batch_size=16, collate_fn=collate_clips)


def fit_diagnostics(model, data: DetectionData, videos: list[str], cfg: DetectionDataConfig) -> dict[str, float]:
    """The diagnostics on ``videos`` (the run's training videos: does the mask head fit what it was shown?)."""
    sums: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        for video in videos:
            for batch in windows_with_truth(data, video, model.config.input_length, cfg):
                outputs = model(batch["features"], batch["mask"])
                for name, part in diagnostics(
                    outputs, batch, model.config.num_classes, model.config.top_snippets
                ).items():
                    sums[name] = sums.get(name, np.zeros(2)) + part
    return {name: 100 * s[0] / max(s[1], 1) for name, s in sums.items()}


def evaluate(model, data: DetectionData, videos: list[str], cfg: DetectionDataConfig) -> dict:
    """mAP of the four conditions on ``videos`` and the diagnostics of the learned outputs."""
    c, classes = model.config, list(data.classes)
    found: dict[str, list] = {k: [] for k in CONDITIONS}
    sums: dict[str, np.ndarray] = {}
    top = c.top_snippets
    variants: dict[str, tuple[Callable, int]] = {
        "learned": (lambda o, b: o, top),
        "oracle masks": (lambda o, b: oracle(o, b, c.scales, c.num_classes, masks=True, scores=False), top),
        "oracle scores": (lambda o, b: oracle(o, b, c.scales, c.num_classes, masks=False, scores=True), top),
        "both": (lambda o, b: oracle(o, b, c.scales, c.num_classes, masks=True, scores=True), top),
        "both, M1 = T": (lambda o, b: oracle(o, b, c.scales, c.num_classes, masks=True, scores=True), c.input_length),
        "learned, M1 = T": (lambda o, b: o, c.input_length),
    }
    with torch.inference_mode():
        for video in videos:
            for batch in windows_with_truth(data, video, c.input_length, cfg):
                outputs = model(batch["features"], batch["mask"])
                for name, part in diagnostics(outputs, batch, c.num_classes, c.top_snippets).items():
                    sums[name] = sums.get(name, np.zeros(2)) + part
                for name, (variant, m1) in variants.items():
                    c.top_snippets = m1
                    timelines = model.decode(variant(outputs, batch), batch["mask"], batch["videos"], classes)
                    c.top_snippets = top
                    per_clip = [timeline_seconds(tl, clip) for tl, clip in zip(timelines, batch["clips"], strict=True)]
                    found[name] += merge_windows([i for p in per_clip for i in p], classes, c)
    gts = [i for v in videos for i in data.instances(v)]
    result = {}
    for name in CONDITIONS:
        scores = evaluate_detection(gts, found[name], THUMOS_TIOU)
        result[name] = {"avg_map": scores.average_map, **{f"map@{t:g}": v for t, v in scores.map.items()}}
    result["diagnostics"] = {name: 100 * s[0] / max(s[1], 1) for name, s in sums.items()}
    result["diagnostics"]["instances_sharing_time_with_another_class"] = 100 * shared_time(data, videos) / len(gts)
    return result


def shared_time(data: DetectionData, videos: list[str]) -> int:
    """Instances that overlap an instance of another class (e.g. CliffDiving inside Diving): one label per snippet
    (Fig. 3a) gives at most one of them snippets, so the other cannot be detected."""
    count = 0
    for v in videos:
        rows = [(i.start, i.end, i.label) for i in data.instances(v)]
        count += sum(any(b[2] != a[2] and min(a[1], b[1]) > max(a[0], b[0]) for b in rows) for a in rows)
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gsmt", choices=("gsmt", "tags"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--reuse-runs", action="store_true", help="evaluate existing runs without training")
    ap.add_argument("--fit", action="store_true", help="add the diagnostics on the training videos to existing records")
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument("--summarise", metavar="MODELS", help="collect the runs of these models into results/")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    if args.summarise:
        summarise(work / "detection_oracle", args.summarise.split(","), args.epochs)
        return
    ann_path = DATASETS["thumos14"][0]
    data_dir = work / "detection_thumos14" / "data"  # shared with detection.py (same synthesis, seed 0)
    if not (data_dir / "annotations.json").is_file():
        synthesize_detection(data_dir, annotations_from=ann_path, feature_dim=64, difficulty=1.0, seed=0)
    data = DetectionData(data_dir)
    for seed in (int(s) for s in args.seeds.split(",")):
        run = work / "detection_oracle" / "runs" / f"{args.model}-e{args.epochs}-{seed}"
        record_file = work / "detection_oracle" / f"{args.model}-e{args.epochs}-{seed}.json"
        if args.fit:
            model, meta = load_run(run, device="cpu")
            model.eval()
            train_videos = yaml.safe_load((run / "config.yaml").read_text())["train_videos"]
            record = json.loads(record_file.read_text())
            cfg = DetectionDataConfig(**meta.settings.data_settings)
            record["train_diagnostics"] = fit_diagnostics(model, data, train_videos, cfg)
            atomic_write_text(record_file, json.dumps(record))
            continue
        if not args.reuse_runs:
            train_detection(MODELS[args.model][0], data, "Validation", run, settings_for(args.model, args.epochs, seed))
        model, meta = load_run(run, device="cpu")
        model.eval()
        result = evaluate(model, data, data.videos("Test"), DetectionDataConfig(**meta.settings.data_settings))
        best = (meta.best or {}).get("epoch")
        record = {"model": args.model, "seed": seed, "epochs": args.epochs, "best_epoch": best, "results": result}
        print(json.dumps(record), flush=True)
        atomic_write_text(record_file, json.dumps(record))


def summarise(work: Path, models: list[str], epochs: int) -> None:
    summary, runs = {}, {}
    for m in models:
        rs = [json.loads(p.read_text()) for p in sorted(work.glob(f"{m}-e{epochs}-*.json"))]
        runs[m] = rs
        for cond in CONDITIONS:
            summary[f"{m}: {cond}"] = {
                k: interval([r["results"][cond][k] for r in rs]) for k in ("avg_map", "map@0.3", "map@0.5", "map@0.7")
            }
        for cond in (*CONDITIONS[1:3], CONDITIONS[5]):
            summary[f"{m}: {cond} - learned"] = {
                k: interval([r["results"][cond][k] - r["results"]["learned"][k] for r in rs])
                for k in ("avg_map", "map@0.3", "map@0.5", "map@0.7")
            }
    diagnostics = {
        m: {k: interval([r["results"]["diagnostics"][k] for r in rs]) for k in rs[0]["results"]["diagnostics"]}
        for m, rs in runs.items()
    }
    diagnostics |= {
        f"{m} (training videos)": {
            k: interval([r["train_diagnostics"][k] for r in rs]) for k in rs[0]["train_diagnostics"]
        }
        for m, rs in runs.items()
        if all("train_diagnostics" in r for r in rs)
    }
    result = {
        "benchmark": "detection_oracle",
        "dataset": "synthetic snippet features (D = 64) on the real THUMOS14 timings, 200 Validation videos to train "
        "(a part held out for `best`), 212 Test videos scored",
        "protocol": f"{epochs} epochs, Adam 1e-3, batch 16, mask head 256/128/64, 128-feature windows; mAP in %; "
        "mean [95 % t-interval] over seeds; oracle gains paired by seed",
        "summary": summary,
        "diagnostics": diagnostics,
        "runs": runs,
    }
    atomic_write_text(HERE / "results" / "detection_oracle_thumos14.json", json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
