"""Clip classification benchmark (dissertation ch. 4) on the synthetic motion set (`actionline synth clips`), whose
classes only motion or temporal order tells apart.

1. 3D-ResNet-18 vs STC-ResNet-18 from scratch, several seeds (mean ± std): video top-1 on the test part,
   parameters, GMACs (at this size and at the thesis' 16 x 112 x 112 with full width), training time.
2. Random init vs inflation vs 2D -> 3D transfer for the same student (3D-ResNet-18). The 2D network behind both
   is a torchvision-layout ResNet-18 of the same width trained here on single synthetic frames to name the shape and
   colour drawn (appearance only: no ImageNet ResNet is available offline); inflation repeats its kernels over
   time, transfer uses it as the frozen teacher of the correspondence pre-training on the (unlabeled) videos.

Writes ``results/video_classification.json``. CPU, a few minutes per seed:

    python benchmarks/video_classification.py --seeds 0,1,2 --epochs 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from actionline.cli import commands
from actionline.cli.commands import TaskOptions
from actionline.data.synthetic.clips import PALETTE, _shape_mask, synthesize_video_classification
from actionline.engine.profiler import profile_model
from actionline.io import atomic_write_text
from actionline.models.backbone import scale_pixels
from actionline.models.video.resnet2d import ResNet18
from clip_runs import summary

HERE = Path(__file__).resolve().parent
WIDTH, SIZE, FRAMES = 16, 56, 16


def settings(seed: int, epochs: int, init: str | None = None) -> dict:
    model = {"width": WIDTH, "size": SIZE, "frames": FRAMES, **({"init": init} if init else {})}
    return {"model": model, "train": {"epochs": epochs, "seed": seed}}


def train_and_test(model: str, data: Path, out: Path, seed: int, epochs: int, init: str | None = None) -> dict:
    from rich.console import Console

    quiet = Console(stderr=True, quiet=True)
    t0 = time.perf_counter()
    commands.train(model, data, out, TaskOptions(), "motion", settings(seed, epochs, init), False, quiet)
    seconds = time.perf_counter() - t0
    commands.predict(out, data, out / "pred", TaskOptions(), "best", {})
    report = commands.evaluate(out / "pred", data, TaskOptions())
    return {"top1": report.as_dict["video_top1"], "clip_top1": report.as_dict["clip_top1"], "train_s": seconds}


def frames_teacher(path: Path, seed: int, steps: int = 300) -> float:
    """A ResNet-18 (width 16) trained on single frames to name shape x colour (10 classes); returns its accuracy
    on fresh frames. Saved in torchvision's layout to ``path``."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE

    def batch(n: int):
        images = np.clip(rng.uniform(60, 160, (n, 1, 1, 1)) + rng.normal(0, 8, (n, SIZE, SIZE, 1)), 0, 255)
        images = images.repeat(3, axis=3).astype(np.uint8)
        labels = rng.integers(0, 10, n)
        for i, y in enumerate(labels):
            mask = _shape_mask(xx, yy, *rng.uniform(0.2, 0.8, 2), rng.uniform(0.08, 0.16), bool(y // 5))
            images[i][mask] = PALETTE[y % 5]
        return scale_pixels(torch.from_numpy(images).permute(0, 3, 1, 2), "imagenet"), torch.from_numpy(labels)

    net = ResNet18(num_classes=10, width=WIDTH)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    for _ in range(steps):
        x, y = batch(32)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        x, y = batch(500)
        accuracy = float((net(x).argmax(1) == y).float().mean()) * 100
    torch.save(net.state_dict(), path)
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "video_classification.json")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="actionline-clips-"))
    data = synthesize_video_classification(work / "motion", seed=123)
    result: dict = {"seeds": seeds, "epochs": args.epochs, "width": WIDTH, "clip": [FRAMES, SIZE, SIZE], "models": {}}

    for model in ("resnet3d_18", "stc_resnet3d_18"):
        runs = [train_and_test(model, data, work / f"{model}_{s}", s, args.epochs) for s in seeds]
        small = profile_model(model, 3, 6, FRAMES, 3, settings={"width": WIDTH, "size": SIZE})
        full = profile_model(model, 3, 400, 16, 1)
        result["models"][model] = {
            "top1": summary([r["top1"] for r in runs]),
            "clip_top1": summary([r["clip_top1"] for r in runs]),
            "train_s": statistics.mean(r["train_s"] for r in runs),
            "params": small.params,
            "gmacs": small.gmacs,
            "latency_ms": small.latency_ms,
            "params_full": full.params,
            "gmacs_full": full.gmacs,
        }
        print(model, result["models"][model]["top1"], flush=True)

    teacher = work / "teacher.pth"
    result["teacher_frame_accuracy"] = frames_teacher(teacher, 0)
    pre = work / "pretrain"
    t0 = time.perf_counter()
    overrides = {
        "model": {"student": "resnet3d_18", "teacher": "resnet18", "teacher_weights": str(teacher),
                  "teacher_width": WIDTH, "width": WIDTH, "size": SIZE, "frames": FRAMES},
        "train": {"epochs": args.pretrain_epochs},
    }  # fmt: skip
    from rich.console import Console

    best, _ = commands.train("transfer", data / "videos", pre, TaskOptions(), "motion", overrides, False,
                             Console(stderr=True, quiet=True))  # fmt: skip
    result["pretrain"] = {"seconds": time.perf_counter() - t0, "epochs": args.pretrain_epochs, "best": best["metrics"]}
    inits = {"random": result["models"]["resnet3d_18"]["top1"]}
    for name, init in (("inflation", f"inflate:{teacher}"), ("transfer", str(pre))):
        runs = [train_and_test("resnet3d_18", data, work / f"{name}_{s}", s, args.epochs, init) for s in seeds]
        inits[name] = summary([r["top1"] for r in runs])
        print(name, inits[name], flush=True)
    result["inits"] = inits
    result["threads"] = torch.get_num_threads()
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
