"""HVU-style multi-label, multi-task tagging (dissertation ch. 5, Table 5.x) on HVU-lite (`actionline synth hvu`):
3D-ResNet-18, STC-ResNet-18 and HATNet with one flat sigmoid head, and HATNet with one head per category
(multi-task), several seeds. Per-category mAP (step-wise AP; clips without a label of a category left out of it)
and Overall, mean ± std over seeds. Writes ``results/hvu.json``.

    python benchmarks/hvu.py --seeds 0,1,2 --epochs 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console

from actionline.cli import commands
from actionline.cli.commands import TaskOptions
from actionline.data.synthetic.hvu import synthesize_hvu
from actionline.io import atomic_write_text

HERE = Path(__file__).resolve().parent
MODELS = {
    "3D-ResNet-18": {"backbone": "resnet3d_18", "heads": "flat"},
    "STC-ResNet-18": {"backbone": "stc_resnet3d_18", "heads": "flat"},
    "HATNet": {"backbone": "hatnet", "heads": "flat"},
    "HATNet multi-task": {"backbone": "hatnet", "heads": "category"},
}


def settings(model: dict, seed: int, epochs: int) -> dict:
    return {
        "model": {**model, "width": 16, "frames": 16, "size": 56},
        "train": {"epochs": epochs, "seed": seed, "batch_size": 8, "optimizer": "adamw", "lr": 2e-3,
                  "weight_decay": 1e-4, "scheduler": "cosine", "val_fraction": 0.15},
        "clips": {"short_side": 64, "scale_min": 0.5, "test_clips": 2},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "hvu.json")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="actionline-hvu-"))
    data = synthesize_hvu(work / "hvu", seed=11)
    quiet = Console(stderr=True, quiet=True)
    result: dict = {"seeds": seeds, "epochs": args.epochs, "clip": [16, 56, 56], "width": 16, "models": {}}
    for name, model in MODELS.items():
        runs = []
        for seed in seeds:
            run = work / f"{name.replace(' ', '_')}_{seed}"
            t0 = time.perf_counter()
            commands.train("tagger", data, run, TaskOptions(), None, settings(model, seed, args.epochs), False, quiet)
            seconds = time.perf_counter() - t0
            commands.predict(run, data, run / "pred", TaskOptions(), "best", {})
            scores = commands.evaluate(run / "pred", data, TaskOptions()).as_dict
            runs.append({**{k: v for k, v in scores.items() if isinstance(v, float)}, "train_s": seconds})
        keys = [k for k in runs[0] if k != "train_s"]
        result["models"][name] = {
            k: {"mean": statistics.mean(r[k] for r in runs), "std": statistics.stdev(r[k] for r in runs)
                if len(runs) > 1 else 0.0} for k in keys
        }  # fmt: skip
        result["models"][name]["train_s"] = statistics.mean(r["train_s"] for r in runs)
        print(name, result["models"][name]["overall"], flush=True)
    result["threads"] = torch.get_num_threads()
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
