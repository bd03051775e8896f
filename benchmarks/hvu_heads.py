"""Flat vs per-category tag heads on the harder HVU-lite (dissertation ch. 5, Sec. 5.4; issue 39): which of the two
things that differ between them, each category's share of the loss or the masking of a clip's missing categories,
moves the mAP.

A 2 x 2 design on one network (3D ResNet-18 in Hara's layout, width 8, 8 x 32 x 32 clips, AdamW, cosine):
category weights per tag (the flat head's BCE mean weighs a category by its tag count, n_c / N) or equal (1/6 each;
both sum to 1, so the loss scale is the same), and a clip's categories without labels masked or counted as
negatives. ``flat`` is the per-tag, negatives cell with one linear head (its loss equals the per-category heads'
with those weights, tested in tests/test_tagging.py); ``multi-task`` is the thesis' model (equal, masked). Every
variant is trained with the same seeds (same initial backbone and batch order), so differences are paired. Scores:
per-category and overall mAP with both AP kinds (step, trapezoid) and both clip protocols (clips with a label of the
category, all clips); mean and 95 % t-intervals over seeds, and paired differences. Writes ``results/hvu_heads.json``.

    OMP_NUM_THREADS=1 python benchmarks/hvu_heads.py --seeds 0,1,2,3,4 --epochs 6
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from actionline.data.hvu import CATEGORIES
from actionline.data.synthetic.hvu_hard import TAG_CATEGORY, TAG_ORDER, hard_hvu
from actionline.io import atomic_write_text
from actionline.metrics.tagging import category_map
from actionline.models.registry import build_model

HERE = Path(__file__).resolve().parent
SIZES = [TAG_CATEGORY.count(c) for c in range(len(CATEGORIES))]
PER_TAG = [n / sum(SIZES) for n in SIZES]
EQUAL = [1 / len(SIZES)] * len(SIZES)
VARIANTS = {
    "flat": {"heads": "flat"},
    "per-tag masked": {"heads": "category", "category_weights": PER_TAG, "missing": "mask"},
    "equal negatives": {"heads": "category", "category_weights": EQUAL, "missing": "negative"},
    "multi-task (equal masked)": {"heads": "category", "category_weights": EQUAL, "missing": "mask"},
}
PROTOCOLS = [(ap, clips) for ap in ("step", "trapezoid") for clips in ("labelled", "all")]


def tensors(n: int, seed: int, args) -> tuple[torch.Tensor, torch.Tensor]:
    data = hard_hvu(n, frames=args.frames, size=args.size, overlap=args.overlap, missing=args.missing, seed=seed)
    x = torch.from_numpy(data.clips).permute(0, 4, 1, 2, 3).float().div_(255).sub_(0.45).div_(0.225)
    return x, torch.from_numpy(data.targets)


def train_and_score(variant: dict, seed: int, train, val, args) -> dict:
    torch.manual_seed(seed)
    settings = {"backbone": "resnet3d_18", "width": args.width, "frames": args.frames, "size": args.size,
                "num_classes": len(TAG_ORDER), "category_sizes": SIZES, "dropout": 0.0, **variant}  # fmt: skip
    model = build_model("tagger", settings)
    opt = torch.optim.AdamW(model.parameters(), args.lr, weight_decay=1e-4)
    steps = args.epochs * (len(train[0]) // args.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    order = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    model.train()
    for _ in range(args.epochs):
        perm = torch.randperm(len(train[0]), generator=order)
        for i in range(0, len(perm) - args.batch + 1, args.batch):
            idx = perm[i : i + args.batch]
            loss = model.loss(model(train[0][idx]), {"labels": train[1][idx]})["total"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        scores = torch.cat([torch.sigmoid(model(val[0][i : i + 100])["logits"]) for i in range(0, len(val[0]), 100)])
    out = {"train_s": seconds}
    for ap, clips in PROTOCOLS:
        out[f"{ap}/{clips}"] = category_map(scores.numpy(), val[1].numpy(), CATEGORIES, TAG_CATEGORY, ap, clips)
    return out


def interval(values: list[float]) -> dict:
    """Mean and its 95 % t-interval (half-width) over seeds."""
    v = np.asarray(values, dtype=np.float64)
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
    return {"mean": float(v.mean()), "ci95": half, "values": [round(float(x), 3) for x in v]}


def summarise(runs: dict[str, list[dict]]) -> dict:
    out: dict = {"variants": {}, "paired_vs_flat": {}}
    for name, rs in runs.items():
        out["variants"][name] = {
            p: {k: interval([r[p][k] for r in rs]) for k in [*CATEGORIES, "overall"]} for p in rs[0] if "/" in p
        }
        out["variants"][name]["train_s"] = float(np.mean([r["train_s"] for r in rs]))
    base = runs["flat"]
    for name, rs in runs.items():
        if name != "flat":
            out["paired_vs_flat"][name] = {
                p: {k: interval([r[p][k] - b[p][k] for r, b in zip(rs, base, strict=True)])
                    for k in [*CATEGORIES, "overall"]} for p in rs[0] if "/" in p
            }  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--val", type=int, default=600)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--overlap", type=float, default=0.6)
    parser.add_argument("--missing", type=float, default=0.3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "hvu_heads.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    train, val = tensors(args.train, 1, args), tensors(args.val, 2, args)
    runs: dict[str, list[dict]] = {}
    for name in args.variants.split(","):
        runs[name] = []
        for seed in seeds:
            runs[name].append(train_and_score(VARIANTS[name], seed, train, val, args))
            r = runs[name][-1]
            print(name, seed, {k: round(v, 1) for k, v in r["step/labelled"].items()}, round(r["train_s"]), flush=True)
    result = {"settings": {k: v for k, v in vars(args).items() if k != "out"}, "seeds": seeds,
              "network": "resnet3d_18", "threads": torch.get_num_threads(), **summarise(runs)}  # fmt: skip
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
