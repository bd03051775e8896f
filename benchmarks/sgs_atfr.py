"""Similarity Guided Sampling in Table 6.12's network (dissertation ch. 6, Sec. 6.4; issue 39): ``atfr_resnet3d_18``
(width 8, the table's) with B = T = 32 after res2, against the same network without SGS, at a reduced resolution.

Data (`data.synthetic.held_moments`): a shape visits K = 2..32 distinct positions, each held for a random number of
frames, so redundancy (1 - K / T) varies between clips. ``content`` classes (shape x axis of the path) survive SGS's
merging and reordering of moments; ``order`` classes (the direction of travel) are the declared control that order
loss must break. Per task and seed: test top-1 of both networks and Δ (paired per clip, 95 % interval), average
GMACs counted clip by clip at batch size 1 (empty bins dropped, as at test time in the thesis), median CPU latency per
clip at batch 1 (both networks interleaved, with the load average), Spearman(B', redundancy), and invariance to
frame duplication: each test clip re-timed (same moments, other hold lengths), the agreement of the predictions and
the mean |B'(clip) - B'(re-timed)|. Writes ``results/sgs_atfr.json``.

    OMP_NUM_THREADS=1 python benchmarks/sgs_atfr.py --tasks content,order --seeds 0 --epochs 6
    OMP_NUM_THREADS=1 python benchmarks/sgs_atfr.py --tasks content --kernel kronecker \
        --out benchmarks/results/sgs_atfr_kronecker.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from actionline.data.synthetic.held_moments import CLASSES, held_moments, retimed
from actionline.io import atomic_write_text
from actionline.models.registry import build_model
from actionline.tasks.clips import clip_scores

HERE = Path(__file__).resolve().parent
FRAMES = 32


def tensor(clips: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(clips).permute(0, 4, 1, 2, 3).float().div_(255).sub_(0.45).div_(0.225)


def train(task: str, sgs: bool, seed: int, x: torch.Tensor, y: torch.Tensor, args):
    torch.manual_seed(seed)
    settings = {"num_classes": len(CLASSES[task]), "frames": FRAMES, "size": args.size, "sgs_after": int(sgs),
                "sgs_bins": FRAMES, "sgs_kernel": args.kernel}  # fmt: skip
    model = build_model("atfr_resnet3d_18", settings)
    opt = torch.optim.AdamW(model.parameters(), args.lr, weight_decay=1e-4)
    steps = args.epochs * (len(x) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps, pct_start=0.15)
    order = torch.Generator().manual_seed(seed)
    t0 = time.process_time()
    model.train()
    for _ in range(args.epochs):
        perm = torch.randperm(len(x), generator=order)
        for i in range(0, len(perm) - args.batch + 1, args.batch):
            idx = perm[i : i + args.batch]
            loss = model.loss(model(x[idx]), {"labels": y[idx]})["total"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval(), time.process_time() - t0


@torch.no_grad()
def kept_bins(model, x: torch.Tensor) -> np.ndarray:
    """B' of every clip (one at a time: empty bins are dropped per clip)."""
    net = model.net
    return np.array([int(net.sgs(net.layer1(net.stem(x[i : i + 1])))[1].sum()) for i in range(len(x))])


@torch.no_grad()
def scored(models: dict, x: torch.Tensor) -> dict:
    """Predictions, MACs and wall-clock ms of every clip at batch 1, the models interleaved clip by clip."""
    out = {k: {"pred": [], "macs": [], "ms": []} for k in models}
    for i in range(len(x)):
        for name, model in models.items():
            t0 = time.perf_counter()
            scores = clip_scores(model, [x[i : i + 1]], out[name]["macs"])
            out[name]["ms"].append(1000 * (time.perf_counter() - t0))
            out[name]["pred"].append(int(scores.argmax()))
    return {k: {f: np.asarray(v) for f, v in d.items()} for k, d in out.items()}


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    d = (a.astype(float) - b.astype(float)) * 100
    return {"mean": float(d.mean()), "ci95": float(1.96 * d.std(ddof=1) / math.sqrt(len(d)))}


def one_run(task: str, seed: int, args) -> dict:
    train_set = held_moments(args.train, task=task, frames=FRAMES, size=args.size, seed=100 + seed)
    test_set = held_moments(args.test, task=task, frames=FRAMES, size=args.size, seed=10_000)
    x, y = tensor(train_set.clips), torch.from_numpy(train_set.labels)
    xt, yt = tensor(test_set.clips), test_set.labels
    models, train_s = {}, {}
    for name, sgs in (("plain", False), ("sgs", True)):
        models[name], train_s[name] = train(task, sgs, seed, x, y, args)
    out = scored(models, xt)
    again = scored(models, tensor(retimed(test_set, seed=7)))
    bins, bins_again = kept_bins(models["sgs"], xt), kept_bins(models["sgs"], tensor(retimed(test_set, seed=7)))
    correct = {k: out[k]["pred"] == yt for k in models}
    result = {"task": task, "seed": seed, "classes": list(CLASSES[task]), "load_average": os.getloadavg()[0]}
    for k in models:
        result[k] = {"top1": float(correct[k].mean() * 100), "gmacs": float(out[k]["macs"].mean() / 1e9),
                     "latency_ms": float(statistics.median(out[k]["ms"])), "train_cpu_s": train_s[k],
                     "retimed_agreement": float((out[k]["pred"] == again[k]["pred"]).mean() * 100),
                     "retimed_top1": float((again[k]["pred"] == yt).mean() * 100)}  # fmt: skip
    rho = stats.spearmanr(bins, test_set.redundancy)
    result["delta_top1"] = paired(correct["sgs"], correct["plain"])
    result["macs_saved"] = 1 - result["sgs"]["gmacs"] / result["plain"]["gmacs"]
    result["bins"] = {"mean": float(bins.mean()), "min": int(bins.min()), "max": int(bins.max()),
                      "spearman_vs_redundancy": float(rho.statistic), "p": float(rho.pvalue),
                      "retimed_mean_abs_change": float(np.abs(bins - bins_again).mean())}  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="content,order")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train", type=int, default=480)
    parser.add_argument("--test", type=int, default=400)
    parser.add_argument("--size", type=int, default=24)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--kernel", choices=("linear", "kronecker"), default="linear", help="SGS's kernel (Sec. 6.3)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "sgs_atfr.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    result = {"settings": settings, "model": "atfr_resnet3d_18", "width": 8, "bins": FRAMES, "frames": FRAMES,
              "threads": torch.get_num_threads(), "runs": []}  # fmt: skip
    for task in args.tasks.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            result["runs"].append(one_run(task, seed, args))
            atomic_write_text(args.out, json.dumps(result, indent=1))  # after every run: the finished ones kept
            print(json.dumps(result["runs"][-1]), flush=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
