"""Plug-and-play Adaptive Token Sampling (dissertation ch. 7, Sec. 7.3) on procedurally generated images.

A small ViT (32 x 32 images, patch 4: 64 tokens + CLS, d 128, 6 blocks, 4 heads) is trained for a few minutes to
name the shape of the one large object (disc, square, triangle, cross) among a varying number of small distractor
blobs (the clutter, 0-16). Then, *without any fine-tuning*, multi-stage ATS is added to blocks 1-5 with budget
ρ in {1, 0.9, 0.8, 0.7}: top-1 accuracy, top-1 agreement with the vanilla model and average GMACs (analytic,
attention products included, per image); top-K at matched GMACs (the top-K budget searched so that its average cost
equals ATS's); the correlation between the tokens ATS keeps and the clutter; images/s of the vanilla and ATS
models measured interleaved in one run.

Then the video transformer (``timesformer``, divided space-time attention, small) trained through the CLI on the
synthetic motion set, and ATS added to blocks 1-3 at prediction (``predict --set model.ats_*``), again without
fine-tuning: video top-1, agreement with the vanilla predictions and the average GMACs that `evaluate` reports.
Writes ``results/ats.json``.

    python benchmarks/ats.py --steps 800 --video-epochs 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from actionline.data.synthetic.clutter import SHAPES, cluttered_objects
from actionline.io import atomic_write_text
from actionline.nn.networks.vit import VisionTransformer
from actionline.nn.sampling.ats import TokenSampler

HERE = Path(__file__).resolve().parent
SIZE, PATCH, DIM, DEPTH, HEADS, CLASSES = 32, 4, 128, 6, 4, SHAPES
ATS_BLOCKS = range(1, DEPTH)
MEAN, STD = 0.45, 0.25


def images(n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n images [n, 3, 32, 32] (normalised), their shape class and their clutter (number of distractors)."""
    x, labels, clutter = cluttered_objects(n, rng, "shape")
    return (x - MEAN) / STD, labels, clutter


def train(steps: int, seed: int) -> tuple[VisionTransformer, float]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = VisionTransformer(SIZE, PATCH, DIM, DEPTH, HEADS, len(CLASSES))
    opt = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-3, total_steps=steps, pct_start=0.1)
    t0 = time.perf_counter()
    for _ in range(steps):
        x, y, _ = images(64, rng)
        loss = F.cross_entropy(model(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model.eval(), time.perf_counter() - t0


def with_samplers(model: VisionTransformer, method: str, ratio: float) -> VisionTransformer:
    sampled = VisionTransformer(SIZE, PATCH, DIM, DEPTH, HEADS, len(CLASSES),
                                samplers={i: TokenSampler(method, ratio=ratio) for i in ATS_BLOCKS})  # fmt: skip
    sampled.load_state_dict(model.state_dict())
    return sampled.eval()


@torch.no_grad()
def evaluate(model: VisionTransformer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Predictions, GMACs and the tokens kept after the last block, per image."""
    preds, macs, kept = [], [], []
    for i in range(0, len(x), 250):
        logits, k = model(x[i : i + 250])
        preds.append(logits.argmax(1))
        macs.append(model.macs(k) / 1e9)
        kept.append(k[:, -1])
    return torch.cat(preds), torch.cat(macs), torch.cat(kept)


def matched_topk(model: VisionTransformer, x: torch.Tensor, target_gmacs: float) -> tuple[float, VisionTransformer]:
    """The top-K budget ρ whose average cost is nearest ``target_gmacs``."""
    best = None
    for ratio in np.round(np.arange(0.3, 1.0001, 0.02), 2):
        candidate = with_samplers(model, "topk", float(ratio))
        gmacs = float(evaluate(candidate, x[:200])[1].mean())
        if best is None or abs(gmacs - target_gmacs) < best[0]:
            best = (abs(gmacs - target_gmacs), float(ratio), candidate)
    return best[1], best[2]


@torch.no_grad()
def throughput(models: dict[str, VisionTransformer], x: torch.Tensor, repeats: int = 7) -> dict[str, float]:
    """Images per second at batch 64, the models' repetitions interleaved, medians."""
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(repeats):
        for name, model in models.items():
            t0 = time.perf_counter()
            model(x[:64])
            times[name].append(time.perf_counter() - t0)
    return {k: 64 / statistics.median(v) for k, v in times.items()}


VIDEO = {"size": 32, "patch": 4, "frames": 8, "dim": 64, "depth": 4, "heads": 4}


def video_part(epochs: int, work: Path) -> dict:
    """The small TimeSformer on the motion set, then ATS at prediction for several budgets."""
    from rich.console import Console

    from actionline.cli import commands
    from actionline.cli.commands import TaskOptions
    from actionline.data.synthetic.clips import synthesize_video_classification

    data = synthesize_video_classification(work / "motion", seed=123, size=32)
    run = work / "timesformer"
    settings = {
        "model": VIDEO,
        "train": {"epochs": epochs, "batch_size": 8, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05,
                  "scheduler": "cosine", "val_fraction": 0.15},
        "clips": {"stride": 2, "short_side": 32, "scale_min": 0.6, "test_clips": 3},
    }  # fmt: skip
    t0 = time.perf_counter()
    commands.train("timesformer", data, run, TaskOptions(), None, settings, False, Console(stderr=True, quiet=True))
    out = {"settings": VIDEO, "epochs": epochs, "train_s": time.perf_counter() - t0, "budgets": []}

    def predict(name: str, overrides: dict) -> tuple[dict, list[str]]:
        commands.predict(run, data, work / name, TaskOptions(), "best", overrides)
        report = commands.evaluate(work / name, data, TaskOptions()).as_dict
        payload = json.loads((work / name / "classification.json").read_text())
        return report, [v["top5"][0][0] for v in payload["videos"]]

    vanilla, base = predict("vanilla", {})
    out["vanilla"] = {"top1": vanilla["video_top1"]}
    for ratio in (1.0, 0.9, 0.8, 0.7):
        report, top = predict(f"ats_{ratio}", {"model": {"ats_blocks": [1, 2, 3], "ats_ratio": ratio}})
        out["budgets"].append({
            "ratio": ratio, "top1": report["video_top1"], "gmacs": report["gmacs_mean"],
            "gmacs_fixed": report["gmacs_fixed"],
            "agreement": 100.0 * float(np.mean([a == b for a, b in zip(top, base, strict=True)])),
        })  # fmt: skip
        print(out["budgets"][-1], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--video-epochs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ats.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, seconds = train(args.steps, args.seed)
    x, y, clutter = images(args.test, np.random.default_rng(10_000 + args.seed))
    base_pred, base_macs, _ = evaluate(model, x)
    result = {
        "model": {
            "size": SIZE,
            "patch": PATCH,
            "dim": DIM,
            "depth": DEPTH,
            "heads": HEADS,
            "ats_blocks": list(ATS_BLOCKS),
        },
        "train": {"steps": args.steps, "batch": 64, "seconds": seconds},
        "test_images": args.test,
        "vanilla": {"top1": float((base_pred == y).float().mean() * 100), "gmacs": float(base_macs.mean())},
        "ats": [],
    }
    for ratio in (1.0, 0.9, 0.8, 0.7):
        ats = with_samplers(model, "ats", ratio)
        pred, macs, kept = evaluate(ats, x)
        topk_ratio, topk = matched_topk(model, x, float(macs.mean()))
        tk_pred, tk_macs, _ = evaluate(topk, x)
        result["ats"].append({
            "ratio": ratio,
            "top1": float((pred == y).float().mean() * 100),
            "agreement": float((pred == base_pred).float().mean() * 100),
            "gmacs": float(macs.mean()),
            "kept_last_block": float(kept.mean()),
            "kept_vs_clutter_pearson": float(np.corrcoef(kept.numpy(), clutter.numpy())[0, 1]),
            "topk": {"ratio": topk_ratio, "top1": float((tk_pred == y).float().mean() * 100),
                     "agreement": float((tk_pred == base_pred).float().mean() * 100), "gmacs": float(tk_macs.mean())},
        })  # fmt: skip
        print(result["ats"][-1], flush=True)
    result["images_per_s"] = throughput({"vanilla": model, "ats_0.7": with_samplers(model, "ats", 0.7)}, x)
    import tempfile

    result["video"] = video_part(args.video_epochs, Path(tempfile.mkdtemp(prefix="actionline-ats-")))
    result["threads"] = torch.get_num_threads()
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
