"""STC ablation (dissertation Sec. 4.2, Fig. 4.1; Tables 4.3 and 4.5), scaled to a CPU: plain 3D-ResNet-18,
TCB only, SCB only, both branches (STC) at r = 4, and a plain 3D-ResNet-18 one channel wider per width unit that has
at least the STC network's parameters, on the in-memory distractor clips (`data/synthetic/distractor_clips.py`:
the direction of a red disc among orange and magenta ones, 8 classes).

Every arm trains on the same ``--train`` clips with the same seeds (initialisation and batch order) and is tested on
the same ``--test`` clips; 95 % Student-t intervals over seeds, and of each difference paired by seed. Also the
parameter overhead of STC (both branches; the SCB's T·C x T·C/r layer) at the published width, counted on the
networks this package builds.

Writes ``results/stc_ablation.json``. One thread:

    python benchmarks/stc_ablation.py --seeds 0,1,2,3,4
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import actionline.models  # noqa: F401  (registers the models)
from actionline.data.synthetic.distractor_clips import DIRECTIONS, distractor_clips
from actionline.io import atomic_write_text
from actionline.models.registry import build_model
from clip_runs import correct, interval, train_classifier, verdict

HERE = Path(__file__).resolve().parent
FRAMES, SIZE, REDUCTION = 8, 32, 4
COMPARISONS = {
    "STC - 3D": ("STC", "3D"),
    "STC - 3D (width + 1)": ("STC", "3D (width + 1)"),
    "TCB only - 3D": ("TCB only", "3D"),
    "SCB only - 3D": ("SCB only", "3D"),
    "STC - TCB only": ("STC", "TCB only"),
    "STC - SCB only": ("STC", "SCB only"),
}


def arms(width: int) -> dict[str, tuple[str, dict]]:
    stc = {"reduction": REDUCTION}
    return {
        "3D": ("resnet3d_18", {"width": width}),
        "TCB only": ("stc_resnet3d_18", {"width": width, **stc, "stc_branches": "tcb"}),
        "SCB only": ("stc_resnet3d_18", {"width": width, **stc, "stc_branches": "scb"}),
        "STC": ("stc_resnet3d_18", {"width": width, **stc}),
        "3D (width + 1)": ("resnet3d_18", {"width": width + 1}),
    }


def parameters(name: str, settings: dict) -> int:
    return sum(p.numel() for p in build_model(name, settings).parameters())


def overhead() -> dict[str, dict]:
    """Parameters of 3D-ResNet-18 / 50 / 101 and their STC versions at r = 4 and 16 (width 64, 16 frames, 400
    classes)."""
    out = {}
    for depth in (18, 50, 101):
        plain = parameters(f"resnet3d_{depth}", {"num_classes": 400})
        row = {"plain": plain}
        for r in (4, 16):
            stc = parameters(f"stc_resnet3d_{depth}", {"num_classes": 400, "reduction": r})
            row[f"stc_r{r}"], row[f"overhead_r{r}"] = stc, stc / plain - 1
        out[f"ResNet-{depth}"] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--train", type=int, default=1500, help="training clips")
    parser.add_argument("--test", type=int, default=2000, help="test clips")
    parser.add_argument("--noise", type=float, default=75.0, help="sensor noise (std of grey levels)")
    parser.add_argument("--steps", type=int, default=200, help="training steps (batch 32)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "stc_ablation.json")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    x_train, y_train = distractor_clips(args.train, frames=FRAMES, size=SIZE, noise=args.noise, seed=1)
    x_test, y_test = distractor_clips(args.test, frames=FRAMES, size=SIZE, noise=args.noise, seed=2)
    settings = {name: (model, {**s, "frames": FRAMES, "size": SIZE, "num_classes": DIRECTIONS})
                for name, (model, s) in arms(args.width).items()}  # fmt: skip
    runs: dict[str, list[float]] = {name: [] for name in settings}
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    fixed = {"parameters": {name: parameters(*settings[name]) for name in settings}, "overhead_full_width": overhead()}
    for seed in seeds:
        for name, (model_name, s) in settings.items():
            torch.manual_seed(seed)
            model = build_model(model_name, s)
            seconds[name].append(
                train_classifier(model, x_train, y_train, frames=FRAMES, steps=args.steps, batch=32, lr=3e-3, seed=seed)
            )
            runs[name].append(100.0 * float(correct(model, x_test, y_test, FRAMES).mean()))
            print(name, seed, f"{runs[name][-1]:.1f}", flush=True)
        write(args, runs, seconds, fixed, time.perf_counter() - t0)  # after every seed: a stopped run keeps its seeds


def write(args, runs: dict[str, list[float]], seconds: dict[str, list[float]], fixed: dict, elapsed: float) -> None:
    differences = {}
    for label, (a, b) in COMPARISONS.items():
        differences[label] = interval([x - y for x, y in zip(runs[a], runs[b], strict=True)])
        differences[label]["verdict"] = verdict(differences[label])
    result = {
        "setup": {
            "seeds": [int(s) for s in args.seeds.split(",")][: len(runs["3D"])], "seeds_requested": args.seeds,
            "width": args.width,
            "clip": [FRAMES, SIZE, SIZE], "reduction": REDUCTION, "train_clips": args.train, "test_clips": args.test,
            "noise": args.noise, "steps": args.steps, "batch": 32, "classes": DIRECTIONS,
            "threads": torch.get_num_threads(), "machine": platform.machine(), "seconds": elapsed,
        },
        "accuracy": {name: {**interval(v), "values": v} for name, v in runs.items()},
        "train_seconds": {name: float(np.mean(v)) for name, v in seconds.items()},
        "differences": differences,
        **fixed,
    }  # fmt: skip
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
