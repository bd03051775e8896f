"""RTK's inference-time ablations on a trained run (no retraining): the full pipeline (keypoints, refinement
stages, rule-based re-assembling), the same without the refinement stages (Table 2 "RS" at inference), and the
frame-wise argmax of the same shared class head (what the keypoint formulation adds over frame-wise
classification with the same backbone). Uses the runs and data left by segmentation_baselines.py.

    python benchmarks/rtk_inference_ablations.py --dataset 50salads --runs rtk,rtk-lambda1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import tables
from actionline.config import load_yaml
from actionline.data.layout import SegmentationData
from actionline.engine.predictor import load_run
from actionline.io import atomic_write_text
from actionline.metrics.segmentation import evaluate_segmentation
from actionline.models.base import SegmentationModel

HERE = Path(__file__).resolve().parent


def predict(model, data: SegmentationData, videos: list[str], variant: str, phase: int) -> list[np.ndarray]:
    """Full-rate frame labels per video under one inference ``variant``; ``phase`` is the training phase of the
    checkpoint (refinement stages only from phase 2 on: before it they are untrained)."""
    sr = data.info.sample_rate
    model.phase = 0 if variant == "no_refinement" else phase
    preds = []
    with torch.inference_mode():
        for v in videos:
            x = torch.from_numpy(np.ascontiguousarray(data.features(v)[:, ::sr]))[None]
            mask = torch.ones(1, x.shape[-1])
            outputs = model(x, mask)
            if variant == "frame_wise":  # the base class's per-video hook: argmax of the shared class head
                frame = SegmentationModel.decode_inputs(model, outputs)
                tl = SegmentationModel.decode_video(model, frame, 0, x.shape[-1], v, data.classes, None)
            else:
                (tl,) = model.decode(outputs, mask, [v], data.classes)
            n = len(data.labels(v))
            preds.append(np.repeat(tl.to_labels(data.classes), sr)[:n])
    return preds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="50salads")
    ap.add_argument("--runs", default="rtk,rtk-lambda1", help="row labels of segmentation_baselines.py")
    ap.add_argument("--split", type=int, default=1)
    ap.add_argument("--checkpoint", default="best", help="best (chosen on validation) or last")
    ap.add_argument("--work", default=str(HERE / "work"))
    args = ap.parse_args()
    variants = {
        "keypoints + refinement + re-assembling": "full",
        "without refinement stages": "no_refinement",
        "frame-wise argmax of the class head": "frame_wise",
    }
    rows: dict[str, dict[str, float]] = {}
    for label in args.runs.split(","):
        run = Path(args.work) / "runs" / f"{args.dataset}-{label}-split{args.split}"
        if not (run / "config.yaml").is_file():
            raise SystemExit(f"no trained run {run}: run segmentation_baselines.py first")
        data = SegmentationData(load_yaml(run / "config.yaml")["data"])
        videos = data.split("test", args.split)
        model, meta = load_run(run, which=args.checkpoint, device="cpu")
        phase = model.phase  # load_run restores the phase of the checkpoint's epoch
        for name, variant in variants.items():
            if variant == "full" and phase < 2:
                continue  # the checkpoint precedes the refinement phase: the row would equal the next one
            if variant == "no_refinement" and phase < 2:
                name += f" (epoch {meta.epoch} precedes the refinement phase)"
            preds = predict(model, data, videos, variant, phase)
            scores = evaluate_segmentation(preds, [data.labels(v) for v in videos], classes=data.classes)
            rows[f"{label}: {name}"] = {k: v for k, v in scores.as_dict().items() if k in tables.METRICS}
            print(f"{label}: {name}", json.dumps(rows[f"{label}: {name}"]), flush=True)
    suffix = "" if args.checkpoint == "best" else f"_{args.checkpoint}"
    out = HERE / "results" / f"rtk_inference_{args.dataset}{suffix}"
    atomic_write_text(out.with_suffix(".json"), json.dumps(rows, indent=1))
    table = tables.inference_variants(rows, "RTK inference")
    atomic_write_text(out.with_suffix(".md"), table)
    print(table)


if __name__ == "__main__":
    main()
