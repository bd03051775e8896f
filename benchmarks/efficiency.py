"""Efficiency, measured side by side in one run (timings on shared machines vary; compare ratios).

1. Models at the papers' setting (2048-d input, 19 classes, T = 5,750 = an average 50Salads video at sample
   rate 2): parameters, GMACs (conv + linear, as the papers count), median latency of forward + decode, peak memory.
2. Metrics: our vectorised Acc/Edit/F1 over all 1,712 Breakfast ground-truth files (against perturbed copies)
   vs. the MS-TCN ``eval.py`` loops written out in plain Python (tests/test_metrics_segmentation.py's oracle),
   with a check that both give identical numbers.

Writes ``results/efficiency.json`` and ``.md``.  ``python benchmarks/efficiency.py [--repeats 9]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import tables
from actionline.data.layout import SegmentationData
from actionline.engine.profiler import profile_model
from actionline.io import atomic_write_text
from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from test_metrics_segmentation import oracle_edit, oracle_f1  # noqa: E402

# Reference timings are dated facts (specs/performance-anchors.md), not divisors: what this script reports is
# measured in its own run, next to the CPU's fp32 matmul peak measured in the same run.


def matmul_peak_gmacs(size: int = 2048, repeats: int = 5) -> float:
    """The best fp32 GMAC/s of a size x size matmul on this CPU at the current thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return size**3 / best / 1e9


def perturb(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.roll(labels, int(rng.integers(-20, 21)))
    flips = rng.random(len(out)) < 0.002
    out[flips] = rng.integers(0, labels.max() + 1, flips.sum())
    return out


def metrics_speed(root: Path) -> dict:
    data = SegmentationData(root)
    videos = sorted({v for s in range(1, 5) for part in ("train", "test") for v in data.split(part, s)})
    rng = np.random.default_rng(0)
    gts = [data.labels(v) for v in videos]
    preds = [perturb(g, rng) for g in gts]
    t0 = time.perf_counter()
    ours = evaluate_segmentation(preds, gts, SegmentationSettings(background=()))
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    counts = np.zeros((3, 3))
    correct = total = 0
    edits = []
    for p, g in zip(preds, gts, strict=True):
        pl, gl = p.tolist(), g.tolist()
        correct += sum(a == b for a, b in zip(pl, gl, strict=True))
        total += len(gl)
        edits.append(oracle_edit(pl, gl, []))
        for k, thr in enumerate((0.1, 0.25, 0.5)):
            counts[k] += oracle_f1(pl, gl, thr, [])
    t_loop = time.perf_counter() - t0
    f1 = [2 * tp / (2 * tp + fp + fn) * 100 for tp, fp, fn in counts]
    same = (
        abs(ours.acc - 100 * correct / total) < 1e-9
        and abs(ours.edit - np.mean(edits)) < 1e-9
        and all(abs(a - b) < 1e-9 for a, b in zip(ours.f1.values(), f1, strict=True))
    )
    return {
        "videos": len(videos),
        "frames": int(total),
        "ours_s": t_ours,
        "reference_loops_s": t_loop,
        "speedup": t_loop / t_ours,
        "identical": bool(same),
        "scores": ours.headline(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--length", type=int, default=5750)
    args = ap.parse_args()
    models = {}
    peak = matmul_peak_gmacs()
    for name in ("mstcn", "asformer", "baformer"):
        p = profile_model(name, 2048, 19, args.length, repeats=args.repeats)
        models[name] = p.as_dict()
        print(json.dumps(models[name]))
    payload = {
        "length": args.length,
        "threads": torch.get_num_threads(),
        "models": models,
        "matmul_peak_gmacs_per_s": peak,
    }
    breakfast = HERE.parents[1] / "shared" / "data" / "breakfast"
    if breakfast.is_dir():
        payload["metrics"] = metrics_speed(breakfast)
        print(json.dumps(payload["metrics"]))
    atomic_write_text(HERE / "results" / "efficiency.json", json.dumps(payload, indent=1))
    table = tables.efficiency(payload)
    atomic_write_text(HERE / "results" / "efficiency.md", table)
    print(table)


if __name__ == "__main__":
    main()
