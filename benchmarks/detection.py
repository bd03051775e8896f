"""Detection benchmark on "realistic synthetic" data: real instance timings, synthetic snippet features.

Features are synthesised (``actionline synth detection --annotations-from``) from the real THUMOS14
(ActionFormer JSON) or ActivityNet-1.3 (BSN JSON + video_info_new.csv) annotations in ../shared/data: real video
durations, instance timings, class frequencies and densities. GSMT, TAGS and the actionness baseline are trained
with their presets under one shared CPU budget (same epochs, optimiser, learning rate, batch size and mask-head
width for all), the `best` checkpoint is chosen on a validation part carved from the training subset, and the
evaluation subset (THUMOS14 Test / ActivityNet validation) is scored by mAP at the dataset's tIoU thresholds.
Writes ``results/detection_<dataset>.json`` and ``.md``.

    python benchmarks/detection.py --dataset thumos14 --epochs 20
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

import tables
from actionline.config import load_yaml, merge, parse_overrides
from actionline.data.detection import DetectionData
from actionline.data.synthetic.features import synthesize_detection
from actionline.engine.predictor import load_run
from actionline.io import atomic_write_text
from actionline.metrics.detection import ACTIVITYNET_TIOU, THUMOS_TIOU, evaluate_detection
from actionline.tasks.detection import DetectionClips, DetectionDataConfig, collate_clips, detect, train_detection

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
PRESETS = HERE.parent / "src" / "actionline" / "configs"

DATASETS = {
    "thumos14": (SHARED / "thumos14" / "annotations" / "thumos14.json", "Validation", "Test", THUMOS_TIOU),
    "activitynet": (SHARED / "activitynet13" / "anet_anno_action.json", "training", "validation", ACTIVITYNET_TIOU),
}
# model label -> (registered model, preset per dataset)
MODELS = {
    "actionness": ("actionness", {"thumos14": "actionness", "activitynet": "actionness"}),
    "gsmt": ("tags", {"thumos14": "gsmt_thumos14", "activitynet": "gsmt"}),
    "tags": ("tags", {"thumos14": "tags_thumos14", "activitynet": "tags"}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="thumos14", choices=sorted(DATASETS))
    ap.add_argument("--models", default="actionness,gsmt,tags")
    ap.add_argument("--max-videos", type=int, default=None, help="videos drawn from the annotation file")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate for every model (CPU budget)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--mask-channels", default="256,128,64", help="mask-head widths (code: 1024,512,256)")
    ap.add_argument("--window", type=int, default=128, help="THUMOS14: features per window (= snippets)")
    ap.add_argument("--feature-dim", type=int, default=64)
    ap.add_argument("--difficulty", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument("--set", action="append", default=[], help="extra override for every model")
    ap.add_argument("--reuse-runs", action="store_true", help="re-evaluate existing runs without training")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--name", default=None, help="results/detection_<name>.json (default: the dataset)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    ann_path, train_subset, test_subset, thresholds = DATASETS[args.dataset]
    work = Path(args.work) / f"detection_{args.dataset}"
    data_dir = work / "data"
    if not (data_dir / "annotations.json").is_file():
        synthesize_detection(
            data_dir,
            annotations_from=ann_path,
            max_videos=args.max_videos,
            feature_dim=args.feature_dim,
            difficulty=args.difficulty,
            seed=args.seed,
        )
    data = DetectionData(data_dir)
    test_videos = data.videos(test_subset)
    gts = [i for v in test_videos for i in data.instances(v)]
    common = {
        "train": {
            "epochs": args.epochs,
            "lr": args.lr,
            "optimizer": "adam",
            "batch_size": args.batch_size,
            "weight_decay": 0.0,
        },
    }
    if args.dataset == "thumos14":
        common["data"] = {"window": args.window, "overlap": 0.5}
        common["model"] = {"num_snippets": args.window}
    common = merge(common, parse_overrides(args.set))
    rows = []
    for label in args.models.split(","):
        name, presets = MODELS[label]
        settings = merge(load_yaml(PRESETS / f"{presets[args.dataset]}.yaml"), common)
        if name == "tags":
            settings = merge(settings, {"model": {"mask_channels": [int(c) for c in args.mask_channels.split(",")]}})
        if name == "actionness" and args.dataset == "thumos14":
            settings = merge(settings, {"model": {"nms_sigma": 0.4}, "data": {"tiou": list(THUMOS_TIOU)}})
        run = work / "runs" / label
        t0 = time.perf_counter()
        if not args.reuse_runs:
            train_detection(name, data, train_subset, run, settings)
        train_s = time.perf_counter() - t0
        model, meta = load_run(run, device="cpu")
        data_cfg = DetectionDataConfig(**meta.settings.data_settings)
        per_video, preds = [], []
        with torch.inference_mode():
            for v in test_videos:
                clips = DetectionClips(data, [v], model.config.input_length, data_cfg, data.classes, with_targets=False)
                loader = DataLoader(clips, batch_size=16, collate_fn=collate_clips)
                t1 = time.perf_counter()
                preds += detect(model, loader, data.classes, data_cfg.window is not None)
                per_video.append(time.perf_counter() - t1)
        scores = evaluate_detection(gts, preds, thresholds)
        rows.append(
            {
                "model": label,
                "registered_model": name,
                "preset": presets[args.dataset],
                "params": sum(p.numel() for p in model.parameters()),
                "map": {f"{t:g}": round(v, 2) for t, v in scores.map.items()},
                "avg_map": round(scores.average_map, 2),
                "best_epoch": (meta.best or {}).get("epoch"),
                "train_s": None if args.reuse_runs else round(train_s, 1),
                "inference_s_per_video": round(statistics.median(per_video), 4),
                "predictions": len(preds),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "dataset": args.dataset,
        "protocol": {
            "features": f"synthetic, D={args.feature_dim}, difficulty {args.difficulty}, real {args.dataset} timings",
            "train_subset": train_subset,
            "test_subset": test_subset,
            "videos": {"train": len(data.videos(train_subset)), "test": len(test_videos)},
            "tiou": list(thresholds),
            "epochs": args.epochs,
            "optimizer": f"adam lr {args.lr}, batch {args.batch_size}",
            "mask_channels": args.mask_channels,
            "thumos_window": args.window if args.dataset == "thumos14" else None,
            "overrides": args.set,
        },
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()},
        "rows": rows,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = args.name or args.dataset
    atomic_write_text(out / f"detection_{name}.json", json.dumps(result, indent=1))
    atomic_write_text(out / f"detection_{name}.md", tables.detection(result))
    print(tables.detection(result))


if __name__ == "__main__":
    main()
