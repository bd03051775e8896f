"""Efficiency, measured side by side in one run (timings on shared machines vary; compare within a run).

1. Segmentation models at the papers' setting (2048-d input, 19 classes, T = 5,750 = an average 50Salads video at
   sample rate 2): parameters, GMACs (conv + linear as the papers count; and every product that runs, attention
   included), peak memory, and, in interleaved rounds with the fp32 matmul peak timed in every round (each model
   called twice back to back, the second call timed, as in a job over many videos; the first call is reported too):
   - inference: forward + decode, batch 1, ``inference_mode``;
   - training: one step of forward, the model's loss, backward and Adam, on labels of 300-frame segments.
   Each is stated as a fraction of the peak: GMACs (all products; 3x for a training step, forward + the two
   products of each backward) per second, divided by the best matmul GMAC/s of the run.
   In every round each workload's own products are also replayed alone (`product_floor.py`): their summed time
   is the floor under its latency on this BLAS, and the GMACs over that floor the highest fraction of the peak
   the workload could reach with these products (its ceiling).
   The official code is timed beside ours by `official.py`; the reference-style re-implementations of its
   computation (tests/reference_encoders.py) are equivalence tests only (tests/test_encoder_equivalence.py).
2. Metrics: our vectorised Acc/Edit/F1 over all 1,712 Breakfast ground-truth files (against perturbed copies)
   vs. the MS-TCN ``eval.py`` loops written out in plain Python (tests/test_metrics_segmentation.py's oracle),
   with a check that both give identical numbers.

Reference timings of the official code are dated facts (`specs/performance-anchors.md`), never divisors here.
Writes ``results/efficiency.json`` and ``.md``.  ``python benchmarks/efficiency.py [--rounds 7]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

import tables
from actionline.data.layout import SegmentationData
from actionline.engine.allocator import tune_allocator
from actionline.engine.profiler import profile_model
from actionline.engine.trainer import TrainConfig, build_optimizer
from actionline.io import atomic_write_text
from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation
from actionline.models.registry import build_model
from product_floor import ProductFloor

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from test_metrics_segmentation import oracle_edit, oracle_f1  # noqa: E402


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
    names = np.array(data.classes)  # the same labels as names: factorised run by run, not frame by frame
    named_preds, named_gts = [names[p] for p in preds], [names[g] for g in gts]
    t0 = time.perf_counter()
    named = evaluate_segmentation(named_preds, named_gts, SegmentationSettings(background=()))
    t_named = time.perf_counter() - t0
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
        "ours_names_s": t_named,
        "names_identical": named.as_dict() | {"settings": None} == ours.as_dict() | {"settings": None},
        "reference_loops_s": t_loop,
        "speedup": t_loop / t_ours,
        "identical": bool(same),
        "scores": ours.headline(),
    }


MODELS = ("mstcn", "asformer", "baformer", "rtk")


def segment_labels(length: int, classes: int, segment: int = 300) -> torch.Tensor:
    """[1, T] labels of consecutive ``segment``-frame actions cycling through the classes."""
    return (torch.arange(length)[None] // segment) % classes


class Workload:
    """One model's inference and training step on one random video, timed one call at a time."""

    def __init__(self, name: str, length: int, classes: int = 19):
        torch.manual_seed(0)
        self.name = name
        self.model = build_model(name, {"input_dim": 2048, "num_classes": classes})
        self.x, self.mask = self.model.example_inputs(length)
        self.targets = {"labels": segment_labels(length, classes), "mask": self.mask}
        self.classes = [str(i) for i in range(classes)]
        train = TrainConfig(lr=5e-4)  # Adam, as training builds it (`build_optimizer`)
        self.optimizer = build_optimizer(self.model.parameter_groups(train.weight_decay), train)
        self.inference()  # warm-up
        self.train_step()
        self.products = {"inference": ProductFloor(self.inference), "train": ProductFloor(self.train_step)}

    def inference(self) -> float:
        self.model.eval()
        started = time.perf_counter()
        with torch.inference_mode():
            self.model.decode(self.model(self.x, self.mask), self.mask, ["video"], self.classes)
        return time.perf_counter() - started

    def train_step(self) -> float:
        self.model.train()
        started = time.perf_counter()
        loss = self.model.loss(self.model(self.x, self.mask), self.targets)["total"]
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return time.perf_counter() - started


def model_speed(names: list[str], length: int, rounds: int) -> tuple[dict, float]:
    """Interleaved rounds: the matmul peak, then every model's inference and training step, per round."""
    static = {name: profile_model(name, 2048, 19, length, repeats=1).as_dict() for name in names}
    workloads = [Workload(name, length) for name in names]
    peaks = []
    keys = ("inference", "train", "inference_first", "train_first")
    times = {w.name: {k: [] for k in keys} for w in workloads}
    products = {name: {} for name in names}  # the best product floor seen, per kind
    for r in range(rounds):
        peaks.append(matmul_peak_gmacs(repeats=3))
        for w in workloads:
            for kind, floor in w.products.items():
                products[w.name][kind] = floor.measure()
        for kind in ("inference", "train"):
            for w in workloads:
                step = w.inference if kind == "inference" else w.train_step
                first = step()
                times[w.name][kind].append(step())  # the second of two back-to-back calls, as in a long job
                times[w.name][kind + "_first"].append(first)
        print(f"round {r + 1}/{rounds}: peak {peaks[-1]:.0f} GMAC/s", flush=True)
    peak = max(peaks)
    models = {}
    for name in names:
        p = static[name]
        inference, train = (statistics.median(times[name][k]) for k in ("inference", "train"))
        models[name] = {
            **{k: p[k] for k in ("params", "gmacs", "gmacs_total", "peak_mem_mb")},
            "inference_ms": 1000 * inference,
            "inference_min_ms": 1000 * min(times[name]["inference"]),
            "inference_first_call_ms": 1000 * statistics.median(times[name]["inference_first"]),
            "train_step_ms": 1000 * train,
            "train_step_min_ms": 1000 * min(times[name]["train"]),
            "train_step_first_call_ms": 1000 * statistics.median(times[name]["train_first"]),
            "inference_fraction_of_peak": p["gmacs_total"] / inference / peak,
            "train_fraction_of_peak": 3 * p["gmacs_total"] / train / peak,
            "inference_products_ms": 1000 * products[name]["inference"],
            "train_products_ms": 1000 * products[name]["train"],
            "inference_ceiling_fraction": p["gmacs_total"] / products[name]["inference"] / peak,
            "train_ceiling_fraction": 3 * p["gmacs_total"] / products[name]["train"] / peak,
        }
        print(json.dumps({name: models[name]}), flush=True)
    return models, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7, help="interleaved repetitions (medians reported)")
    ap.add_argument("--length", type=int, default=5750)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--skip-metrics", action="store_true")
    ap.add_argument("--metrics-only", action="store_true", help="re-measure the metrics; keep the models' results")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "efficiency.json")
    args = ap.parse_args()
    tuned = tune_allocator()  # as the command line does (engine/allocator.py)
    if args.metrics_only:
        payload = json.loads(args.output.read_text())
    else:
        models, peak = model_speed(args.models.split(","), args.length, args.rounds)
        payload = {
            "length": args.length,
            "threads": torch.get_num_threads(),
            "rounds": args.rounds,
            "torch": torch.__version__,
            "allocator_tuned": tuned,
            "models": models,
            "matmul_peak_gmacs_per_s": peak,
        }
    breakfast = HERE.parents[1] / "shared" / "data" / "breakfast"
    if breakfast.is_dir() and not args.skip_metrics:
        payload["metrics"] = metrics_speed(breakfast)
        print(json.dumps(payload["metrics"]))
    atomic_write_text(args.output, json.dumps(payload, indent=1))
    table = tables.efficiency(payload)
    atomic_write_text(args.output.with_suffix(".md"), table)
    print(table)


if __name__ == "__main__":
    main()
