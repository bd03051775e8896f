"""BaFormer's inference-time ablations on a trained run (no retraining): query vs frame voting (Table 3), peak vs
NMS boundaries (Table 4), predicted vs ground-truth boundaries (Table 5), and the released code's short-run
relabelling (off by default; reported both ways). Uses the run and data left by segmentation_baselines.py.

The last row applies the non-oracle variant with the best mean score (Acc, Edit, F1@{10,25,50}: the trainer's
checkpoint criterion) on the run's *validation* videos (held out of the training split) to the test videos, the
protocol for choosing an inference setting without looking at the test split.

    python benchmarks/baformer_inference_ablations.py --dataset 50salads
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import tables
from actionline.config import load_yaml
from actionline.data.layout import SegmentationData
from actionline.io import atomic_write_text
from actionline.metrics.segmentation import evaluate_segmentation
from actionline.tasks.segmentation import predict_segmentation

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="50salads")
    ap.add_argument("--split", type=int, default=1)
    ap.add_argument("--name", default=None, help="the --name given to segmentation_baselines.py (default: dataset)")
    ap.add_argument(
        "--label",
        default="baformer",
        help="the row of segmentation_baselines.py to use: baformer, or the label of a BaFormer --variant",
    )
    ap.add_argument("--work", default=str(HERE / "work"))
    args = ap.parse_args()
    work, name = Path(args.work), args.name or args.dataset
    stem = f"{name}-{args.label}"  # segmentation_baselines.py names runs <name>-<row label>-split<k>
    run = work / "runs" / f"{stem}-split{args.split}"
    if not (run / "config.yaml").is_file():
        raise SystemExit(f"no trained BaFormer run {run}: run segmentation_baselines.py first")
    data = SegmentationData(load_yaml(run / "config.yaml")["data"])  # the data the run was trained on
    videos = data.split("test", args.split)
    short = max(1, 100 // data.info.sample_rate)  # the released code relabels runs of <= 100 full-rate frames
    variants = {
        "default (query voting, peaks)": {},
        "frame voting (Alg. 2)": {"voting": "frame"},
        "NMS boundaries": {"boundary_selection": "nms"},
        "ground-truth boundaries (oracle)": {"boundaries": "ground_truth"},
        f"+ released relabelling (<= {short * data.info.sample_rate} frames)": {"relabel_short": short},
    }
    val_videos = load_yaml(run / "config.yaml")["val_videos"]

    def scores(overrides: dict, on: list[str], out: Path) -> dict[str, float]:
        timelines = predict_segmentation(run, data, on, out, overrides=overrides)
        s = evaluate_segmentation(
            [t.to_labels(data.classes) for t in timelines], [data.labels(v) for v in on], classes=data.classes
        ).as_dict()
        return {k: s[k] for k in tables.METRICS}

    rows, val_mean = {}, {}
    for i, (variant, overrides) in enumerate(variants.items()):
        out = work / "preds" / f"{stem}-ablation-{i}"
        rows[variant] = scores(overrides, videos, out)
        if overrides.get("boundaries") != "ground_truth" and val_videos:
            val = scores(overrides, val_videos, out.with_name(out.name + "-val"))
            val_mean[variant] = sum(val.values()) / len(val)
        print(variant, json.dumps(rows[variant]), f"validation mean {val_mean.get(variant, float('nan')):.1f}")
    if val_mean:
        chosen = max(val_mean, key=val_mean.get)
        rows[f"chosen on validation ({len(val_videos)} videos): {chosen}"] = rows[chosen]
    atomic_write_text(HERE / "results" / f"baformer_inference_{name}.json", json.dumps(rows, indent=1))
    table = tables.inference_variants(rows, "BaFormer inference")
    atomic_write_text(HERE / "results" / f"baformer_inference_{name}.md", table)
    print(table)


if __name__ == "__main__":
    main()
