"""Plug-and-play ATS on a converged ViT (dissertation ch. 7, Sec. 7.4.2 "without any training"; issue 39).

A small ViT (32 x 32 images, patch 4: 64 tokens + CLS; d 64, 8 blocks, 4 heads) is trained to convergence on
cluttered-object images (`data.synthetic.clutter`: the colour of the one large object among 0-16 small blobs).
Then, without fine-tuning, multi-stage ATS goes into blocks L/4 .. L-1 (the thesis' placement for DeiT-S: blocks
3-11 of 12) with ρ in {1, 0.87, 0.72}: Δ top-1 against the vanilla model with a 95 % interval (paired per image), top-1
agreement with it, average MACs (analytic, `VisionTransformer.macs`), and top-K at matched MACs (its ρ chosen so that
its analytic MACs are nearest ATS's average) with the ATS - top-K difference and its interval. Latency (ms per image at
batch 1 and batch 64, medians of interleaved repeats, on the ``--latency-seed`` model only) with the machine's load
average, which it depends on. Pooled over seeds: each ρ's Δ top-1 and ATS - top-K as a mean with its 95 % Student-t
interval (one value per seed). Writes ``results/ats_plugin.json``; ``--merge`` adds the given seeds' runs to that
file's (same settings but the seeds; a seed run again replaces its record) and pools them all.

    OMP_NUM_THREADS=1 python benchmarks/ats_plugin.py --seeds 0,1 --steps 150 --test 5000 --repeats 9
    OMP_NUM_THREADS=1 python benchmarks/ats_plugin.py --seeds 2,3,4 --steps 150 --test 5000 --repeats 9 --merge
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
import torch.nn.functional as F

from actionline.data.synthetic.clutter import cluttered_objects
from actionline.io import atomic_write_text
from actionline.nn.networks.vit import VisionTransformer, block_macs
from actionline.nn.sampling.ats import MIN_TOKENS, TokenSampler
from clip_runs import interval, verdict

HERE = Path(__file__).resolve().parent
MEAN, STD = 0.45, 0.25
RATIOS = (1.0, 0.87, 0.72)


def data(n: int, rng: np.random.Generator, target: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x, y, clutter = cluttered_objects(n, rng, target)
    return (x - MEAN) / STD, y, clutter


def build(args, samplers: dict | None = None) -> VisionTransformer:
    return VisionTransformer(32, 4, args.dim, args.depth, args.heads, 4, samplers=samplers)


def train(args, seed: int) -> tuple[VisionTransformer, float]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build(args)
    opt = torch.optim.AdamW(model.parameters(), args.lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.steps, pct_start=0.1)
    t0 = time.process_time()
    for _ in range(args.steps):
        x, y, _ = data(args.batch, rng, args.target)
        loss = F.cross_entropy(model(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model.eval(), time.process_time() - t0


def with_samplers(model: VisionTransformer, args, method: str, ratio: float) -> VisionTransformer:
    blocks = range(args.depth // 4, args.depth)
    sampled = build(args, {i: TokenSampler(method, ratio=ratio) for i in blocks})
    sampled.load_state_dict(model.state_dict())
    return sampled.eval()


@torch.no_grad()
def evaluate(model: VisionTransformer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Predictions, MACs and the tokens kept after the last block, per image."""
    out = [model(x[i : i + 500]) for i in range(0, len(x), 500)]
    kept = torch.cat([k for _, k in out])
    return torch.cat([logits.argmax(1) for logits, _ in out]), model.macs(kept).double(), kept[:, -1]


def topk_macs(args, ratio: float) -> float:
    """Analytic MACs of multi-stage top-K at ``ratio`` (its token counts are fixed)."""
    n, total = 64, 0
    for b in range(args.depth):
        kept = min(max(math.ceil(ratio * n), MIN_TOKENS), n) if b >= args.depth // 4 else n
        total += block_macs(n + 1, kept + 1, args.dim)
        n = kept
    return float(total + 64 * 3 * 16 * args.dim + args.dim * 4)


def paired(a: torch.Tensor, b: torch.Tensor) -> dict:
    """Mean of a - b (per image, percent) with its 95 % normal interval."""
    d = (a.double() - b.double()) * 100
    return {"mean": float(d.mean()), "ci95": float(1.96 * d.std() / math.sqrt(len(d)))}


@torch.no_grad()
def latency(models: dict[str, VisionTransformer], x: torch.Tensor, repeats: int) -> dict:
    """ms per image at batch 1 and batch 64, medians of interleaved repeats."""
    out = {}
    for batch in (1, 64):
        times: dict[str, list[float]] = {k: [] for k in models}
        for _ in range(repeats):
            for name, model in models.items():
                t0 = time.perf_counter()
                model(x[:batch])
                times[name].append(time.perf_counter() - t0)
        out[f"batch_{batch}"] = {k: 1000 * statistics.median(v) / batch for k, v in times.items()}
    return out


def one_seed(args, seed: int, x, y, clutter) -> dict:
    model, seconds = train(args, seed)
    base, base_macs, _ = evaluate(model, x)
    correct = base == y
    result = {"seed": seed, "train_cpu_s": seconds, "top1": float(correct.double().mean() * 100),
              "gmacs": float(base_macs.mean() / 1e9), "ats": []}  # fmt: skip
    candidates = np.round(np.arange(0.3, 1.0001, 0.01), 2)
    for ratio in RATIOS:
        pred, macs, kept = evaluate(with_samplers(model, args, "ats", ratio), x)
        target = float(macs.mean())
        topk_ratio = float(min(candidates, key=lambda r: abs(topk_macs(args, r) - target)))
        tk_pred, tk_macs, _ = evaluate(with_samplers(model, args, "topk", topk_ratio), x)
        result["ats"].append({
            "ratio": ratio, "top1": float((pred == y).double().mean() * 100),
            "delta_top1": paired(pred == y, correct), "agreement": float((pred == base).double().mean() * 100),
            "gmacs": target / 1e9, "macs_saved": 1 - target / float(base_macs.mean()),
            "kept_last_block": float(kept.double().mean()),
            "kept_vs_clutter_spearman": float(np.corrcoef(np.argsort(np.argsort(kept.numpy())),
                                                          np.argsort(np.argsort(clutter.numpy())))[0, 1]),
            "topk": {"ratio": topk_ratio, "top1": float((tk_pred == y).double().mean() * 100),
                     "gmacs": float(tk_macs.mean() / 1e9), "agreement": float((tk_pred == base).double().mean() * 100)},
            "ats_minus_topk": paired(pred == y, tk_pred == y),
        })  # fmt: skip
        print(seed, result["ats"][-1], flush=True)
    if seed == args.latency_seed:
        models = {"vanilla": model, **{f"ats_{r}": with_samplers(model, args, "ats", r) for r in RATIOS}}
        result["latency_ms"] = latency(models, x, args.repeats)
        result["load_average"] = os.getloadavg()[0]
    return result


def pooled(runs: list[dict]) -> list[dict]:
    """Per ρ, over seeds: Δ top-1 and ATS - top-K (mean, 95 % t-interval, verdict), agreement and MACs saved."""
    out = []
    for i, ratio in enumerate(RATIOS):
        rows = [run["ats"][i] for run in runs]
        delta = interval([a["delta_top1"]["mean"] for a in rows])
        minus_topk = interval([a["ats_minus_topk"]["mean"] for a in rows])
        out.append({
            "ratio": ratio, "delta_top1": delta | {"verdict": verdict(delta)},
            "ats_minus_topk": minus_topk | {"verdict": verdict(minus_topk)},
            "agreement": float(np.mean([a["agreement"] for a in rows])),
            "macs_saved": float(np.mean([a["macs_saved"] for a in rows])),
        })  # fmt: skip
    return out


def merged(path: Path, settings: dict, runs: list[dict]) -> tuple[dict, list[dict]]:
    """The recorded file's settings and runs with ``runs`` added (a seed run again replaces its record)."""
    if not path.is_file():
        raise SystemExit(f"error: --merge: no recorded file {path}")
    recorded = json.loads(path.read_text())
    differing = sorted(k for k in settings if k != "seeds" and recorded["settings"].get(k) != settings[k])
    if differing:
        raise SystemExit(f"error: --merge: settings differ from {path.name}'s: {', '.join(differing)}")
    by_seed = {run["seed"]: run for run in recorded["runs"]} | {run["seed"]: run for run in runs}
    all_runs = [by_seed[seed] for seed in sorted(by_seed)]
    return settings | {"seeds": ",".join(str(seed) for seed in sorted(by_seed))}, all_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--target", choices=("shape", "colour"), default="colour")
    parser.add_argument("--test", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--latency-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ats_plugin.json")
    parser.add_argument("--merge", action="store_true", help="add these seeds' runs to those recorded in --out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "merge")}
    if args.merge:
        merged(args.out, settings, [])  # settings checked before any training
    x, y, clutter = data(args.test, np.random.default_rng(10_000), args.target)
    runs = [one_seed(args, int(s), x, y, clutter) for s in args.seeds.split(",")]
    if args.merge:
        settings, runs = merged(args.out, settings, runs)
    result = {"settings": settings, "ats_blocks": list(range(args.depth // 4, args.depth)),
              "threads": torch.get_num_threads(), "runs": runs, "pooled": pooled(runs)}  # fmt: skip
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
