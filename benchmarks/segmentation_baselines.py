"""Segmentation benchmark on "realistic synthetic" data: real label sequences, synthetic features.

Features are synthesised (``actionline synth segmentation --labels-from``) from the real ground truth of
50Salads or Breakfast in ../shared/data (real orders, lengths, class counts; sample rate 2 for 50Salads), each
model is trained with its preset on the chosen splits (validation carved from the training split, `best`
checkpoint), predictions are scored at full frame rate with the MS-TCN conventions, and training / inference
time per video is measured. Writes ``results/segmentation_<dataset>.json`` and ``.md``.

    python benchmarks/segmentation_baselines.py --dataset 50salads --splits 1 --epochs 30
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import tables
from actionline.config import load_yaml
from actionline.data.layout import META_FILE, SegmentationData, write_info
from actionline.data.synthetic.features import synthesize_segmentation
from actionline.engine.predictor import load_run
from actionline.io import atomic_write_text
from actionline.metrics.keypoints import keypoint_counts, keypoint_quality, keypoints_from_labels
from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation
from actionline.tasks.segmentation import predict_segmentation, train_segmentation

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
PRESETS = HERE.parent / "src" / "actionline" / "configs"
LAST_CHECKPOINT = Path("checkpoints") / "last.pt"  # what the trainer resumes from


def run_dir(work: Path, name: str, label: str, split: int) -> Path:
    """Where the run of one table row and split lives (the ablation scripts read the same layout)."""
    return work / "runs" / f"{name}-{label}-split{split}"


def preset(model: str, dataset: str) -> dict:
    for name in (f"{model}_{dataset}.yaml", f"{model}.yaml"):
        if (PRESETS / name).is_file():
            return load_yaml(PRESETS / name)
    return {}


def with_sample_rate(data_dir: Path, sample_rate: int) -> Path:
    """A view of ``data_dir`` at another sample rate: the same files (symlinked), its own actionline.json."""
    if sample_rate < 1:
        raise SystemExit(f"--sample-rate must be a positive integer, got {sample_rate}")
    info = SegmentationData(data_dir).info
    if sample_rate == info.sample_rate:
        return data_dir
    view = data_dir.with_name(f"{data_dir.name}-sr{sample_rate}")
    view.mkdir(exist_ok=True)
    for entry in data_dir.iterdir():
        if entry.name != META_FILE and not (view / entry.name).exists():
            (view / entry.name).symlink_to(entry.resolve())
    write_info(view, dataclasses.replace(info, sample_rate=sample_rate))
    return view


def inference_seconds(model: torch.nn.Module, classes: list[str], data: SegmentationData, videos: list[str]) -> float:
    """Median seconds per video for forward + decode at the training sample rate (features in memory)."""
    sr = data.info.sample_rate
    times = []
    with torch.inference_mode():
        for v in videos:
            x = torch.from_numpy(np.ascontiguousarray(data.features(v)[:, ::sr]))[None]
            mask = torch.ones(1, x.shape[-1])
            t0 = time.perf_counter()
            model.decode(model(x, mask), mask, [v], classes)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def keypoint_scores(model: torch.nn.Module, data: SegmentationData, videos: list[str], timelines) -> dict[str, float]:
    """RTK Table 6 at full frame rate (boundaries within 5 frames): RTK's refined keypoints, or the keypoints of
    a frame-wise model's predicted segments (segment mid-points and starts)."""
    sr = data.info.sample_rate
    counts = []
    with torch.inference_mode():
        for v, tl in zip(videos, timelines, strict=True):
            gt = data.labels(v)
            if hasattr(model, "keypoints") and getattr(model.config, "keypoints", False):
                x = torch.from_numpy(np.ascontiguousarray(data.features(v)[:, ::sr]))[None]
                kp = model.keypoints(model(x, torch.ones(1, x.shape[-1])), 0, x.shape[-1])
                pos, cls, bnd = kp.action_pos * sr, kp.action_cls, kp.boundary_pos * sr
                pos, bnd = np.minimum(pos, len(gt) - 1), bnd[bnd < len(gt)]
            else:
                pos, cls, bnd = keypoints_from_labels(tl.to_labels(data.classes))
            counts.append(keypoint_counts(pos, cls, bnd, gt, radius=5))
    return keypoint_quality(counts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="50salads", choices=["50salads", "breakfast"])
    ap.add_argument("--models", default="mstcn,asformer,baformer,rtk")
    ap.add_argument("--splits", default="1", help="comma-separated split numbers")
    ap.add_argument("--epochs", type=int, default=30, help="epochs per model (same budget for every model)")
    ap.add_argument("--feature-dim", type=int, default=64)
    ap.add_argument(
        "--difficulty", type=float, default=2.0, help="2.0: a frame-wise classifier gets ~45%% of 50Salads frames"
    )
    ap.add_argument("--max-videos", type=int, default=None, help="subset of videos (Breakfast has 1712)")
    ap.add_argument(
        "--sample-rate",
        type=int,
        default=None,
        help="train and predict on every N-th frame instead of the dataset's rate (50Salads 2, Breakfast 1); "
        "predictions are still scored at the full frame rate. A cheaper, disclosed variant for CPU budgets",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default=None, help="results/segmentation_<name>.json (default: the dataset)")
    ap.add_argument("--work", default=str(HERE / "work"), help="scratch folder for data and runs")
    ap.add_argument("--set", action="append", default=[], help="extra override, e.g. train.lr=1e-3")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        help="an extra row LABEL=MODEL:KEY=VALUE,...: the model's preset with these overrides, e.g. "
        "rtk-lambda1=rtk:model.lambda_action=1,model.lambda_boundary=1",
    )
    ap.add_argument(
        "--reuse-runs",
        action="store_true",
        help="skip training where a finished run exists and continue an interrupted one from its last "
        "checkpoint (training time is read from its log): use it to re-measure inference on a quiet machine "
        "or to finish runs after an interruption",
    )
    ap.add_argument(
        "--continue-from",
        default=None,
        metavar="NAME",
        help="start each row from a copy of the run that --name NAME left (same row label and split) and train it "
        "on to --epochs; the original run is not changed. Implies --reuse-runs",
    )
    args = ap.parse_args()
    name = args.name or args.dataset  # names the runs, predictions and result files
    if args.continue_from:
        if args.continue_from == name:
            ap.error("--continue-from needs a --name other than the run it continues")
        args.reuse_runs = True

    from actionline.config import merge, parse_overrides

    work = Path(args.work)
    data_dir = work / f"{args.dataset}-d{args.feature_dim}-x{args.difficulty:g}-n{args.max_videos}-s{args.seed}"
    if not (data_dir / "actionline.json").is_file():
        synthesize_segmentation(
            data_dir,
            labels_from=SHARED / args.dataset,
            feature_dim=args.feature_dim,
            difficulty=args.difficulty,
            seed=args.seed,
            max_videos=args.max_videos,
        )
    if args.sample_rate is not None:
        data_dir = with_sample_rate(data_dir, args.sample_rate)
    data = SegmentationData(data_dir)
    settings = SegmentationSettings()  # MS-TCN script conventions: only 'background' excluded
    rows = {m: (m, []) for m in args.models.split(",") if m}  # label -> (model, overrides)
    for spec in args.variant:
        label, _, rest = spec.partition("=")
        model, _, overrides = rest.partition(":")
        if not label or not model:
            ap.error(f"--variant {spec!r}: expected LABEL=MODEL:KEY=VALUE,...")
        rows[label] = (model, [o for o in overrides.split(",") if o])
    results = []
    for label, (model, overrides) in rows.items():
        for split in [int(s) for s in args.splits.split(",")]:
            run = run_dir(work, name, label, split)
            if args.continue_from and not run.exists():
                source = run_dir(work, args.continue_from, label, split)
                if not (source / LAST_CHECKPOINT).is_file():
                    raise SystemExit(f"--continue-from {args.continue_from}: no checkpointed run {source}")
                shutil.copytree(source, run)
            log = run / "log.jsonl"
            records = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
            if args.reuse_runs and len(records) == args.epochs:
                best = load_run(run)[1].best
            else:
                resume = args.reuse_runs and (run / LAST_CHECKPOINT).is_file()
                if not resume:
                    shutil.rmtree(run, ignore_errors=True)
                cfg = merge(preset(model, args.dataset), {"train": {"epochs": args.epochs, "seed": args.seed}})
                cfg = merge(cfg, parse_overrides([*args.set, *overrides]))
                best = train_segmentation(model, data, split, run, cfg, resume=resume)
            last = json.loads(log.read_text().splitlines()[-1])  # a train.max_minutes budget may stop it early
            train_s, trained = last["elapsed_s"], last["epoch"]  # training time, resumes included
            n_train = len(load_yaml(run / "config.yaml")["train_videos"])
            videos = data.split("test", split)
            pred = work / "preds" / run.name
            timelines = predict_segmentation(run, data, videos, pred)
            preds = [np.asarray(data.classes, dtype=object)[t.to_labels(data.classes)] for t in timelines]
            gts = [np.asarray(data.label_names(v), dtype=object) for v in videos]
            scores = evaluate_segmentation(preds, gts, settings, videos)
            net, meta = load_run(run)  # the `best` checkpoint, loaded once for the measurements below
            n_params = sum(p.numel() for p in net.parameters())
            results.append(
                {
                    "model": label,
                    "split": split,
                    "params": n_params,
                    **scores.as_dict(),
                    "best_epoch": best.get("epoch"),
                    "epochs": trained,
                    "train_s_per_video_epoch": train_s / (trained * n_train),
                    "infer_s_per_video": inference_seconds(net, meta.classes, data, videos),
                    "keypoints": keypoint_scores(net, data, videos, timelines),
                }
            )
            print(json.dumps({k: v for k, v in results[-1].items() if k != "settings"}))
    summary = {}
    for model in rows:
        runs = [r for r in results if r["model"] == model]
        summary[model] = {
            k: float(np.mean([r[k] for r in runs]))
            for k in ("acc", "edit", "f1@10", "f1@25", "f1@50", "train_s_per_video_epoch", "infer_s_per_video")
        }
        summary[model]["params"] = runs[0]["params"]
        summary[model]["keypoints"] = {
            k: float(np.mean([r["keypoints"][k] for r in runs])) for k in runs[0]["keypoints"]
        }
    payload = {
        "benchmark": "segmentation_baselines",
        "dataset": args.dataset,
        "labels": f"real ({SHARED / args.dataset})",
        "features": f"synthetic, D={args.feature_dim}, difficulty {args.difficulty}",
        "splits": args.splits,
        "epochs": args.epochs,
        "max_videos": args.max_videos,
        "sample_rate": data.info.sample_rate,
        "variants": {label: overrides for label, (_, overrides) in rows.items() if overrides},
        "settings": settings.describe(),
        "machine": {
            "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "summary": summary,
        "runs": results,
    }
    out = HERE / "results" / f"segmentation_{name}"
    atomic_write_text(out.with_suffix(".json"), json.dumps(payload, indent=1))
    table = tables.segmentation(payload)
    atomic_write_text(out.with_suffix(".md"), table)
    print(table)


if __name__ == "__main__":
    main()
