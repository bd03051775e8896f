"""SCT against the majority and uniform-set baselines over seeds, with the collapse measured (issue 39).

Synthetic features on real Breakfast label sequences (``synthesize_segmentation --labels-from``), split 1, batch 1,
Adam 1e-3 (the CPU budget of ``weak_supervision.py``) or the code's SGD (``--optimizer sgd --lr 0.01``), gradient
norm clipped at 10 as in the code. Each epoch logs every loss term and, on the test split, MoF, the share of frames
of the most predicted class, and the share of frames whose predicted class is in the video's own action set.
Baselines: the test split's majority class predicted everywhere (an oracle constant), and the uniform-set oracle
(each test video's true set spread over equal parts in random order, mean of 50 orders). One process per
``--variant``/``--seeds`` writes ``work/<variant>-<seed>.json``; ``--summarise`` collects them into
``results/<name>.json`` (95 % t-intervals; differences paired by seed).

    python benchmarks/sct_baselines.py --variant code --seeds 0,1,2
    python benchmarks/sct_baselines.py --variant negatives --set set_negative_weight=1 --seeds 0,1,2
    python benchmarks/sct_baselines.py --variant sgd --optimizer sgd --lr 0.01 --seeds 0,1,2
    python benchmarks/sct_baselines.py --summarise code,negatives,sgd
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from actionline.data.layout import SegmentationData
from actionline.io import atomic_write_text
from actionline.models.registry import build_model
from actionline.models.segmentation.sct import SCT
from equal_budget import breakfast_labels_set, interval

HERE = Path(__file__).resolve().parent
ROWS = ("mof", "top_class_share", "pred_in_set")


def probe(model, test) -> dict[str, float]:
    correct = frames = in_set = 0
    counts = np.zeros(model.config.num_classes)
    with torch.no_grad():
        for x, y in test:
            pred = model(x, torch.ones(1, x.shape[2]))["upsampled"][0].argmax(0).numpy()
            correct += int((pred == y).sum())
            frames += len(y)
            counts += np.bincount(pred, minlength=len(counts))
            in_set += int(np.isin(pred, np.unique(y)).sum())
    return {
        "mof": 100 * correct / frames,
        "top_class_share": 100 * counts.max() / frames,
        "pred_in_set": 100 * in_set / frames,
    }


def train_one(data: SegmentationData, settings: dict, epochs: int, seed: int, lr: float, optimizer: str) -> dict:
    classes = list(data.classes)
    load = [data.pair(v) for v in data.split("train", 1)], [data.pair(v) for v in data.split("test", 1)]
    train, test = ([(torch.as_tensor(f, dtype=torch.float32)[None], y) for f, y in part] for part in load)
    torch.manual_seed(seed)
    background = SCT.data_settings(classes, data.info.background)
    model = build_model(
        "sct", {**background, **settings, "input_dim": train[0][0].shape[1], "num_classes": len(classes)}
    )
    if optimizer == "sgd":  # the code's (sct.yaml): momentum 0.009, no weight decay
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.009)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    log = []
    for epoch in range(1, epochs + 1):
        model.train()
        terms: dict[str, float] = {}
        for i in torch.randperm(len(train), generator=order).tolist():
            x, y = train[i]
            mask = torch.ones(1, x.shape[2])
            loss = model.loss(model(x, mask), {"mask": mask, "set": torch.as_tensor(np.unique(y))[None]})
            opt.zero_grad()
            loss["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            for k, v in loss.items():
                terms[k] = terms.get(k, 0.0) + float(v.detach()) / len(train)
        model.eval()
        log.append({"epoch": epoch, "train": terms, **probe(model, test)})
        print(json.dumps(log[-1]), flush=True)
    return {"seed": seed, **{k: log[-1][k] for k in ROWS}, "log": log}


def baselines(data: SegmentationData, orders: int = 50) -> dict[str, float]:
    ys = [data.labels(v) for v in data.split("test", 1)]
    frames = np.concatenate(ys)
    rng = np.random.default_rng(0)
    uniform = []
    for _ in range(orders):
        correct = 0
        for y in ys:
            s = rng.permutation(np.unique(y))
            correct += int((s[np.arange(len(y)) * len(s) // len(y)] == y).sum())
        uniform.append(100 * correct / len(frames))
    return {
        "majority (test split, oracle)": 100 * np.bincount(frames).max() / len(frames),
        "uniform set (oracle set, random order)": float(np.mean(uniform)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="code")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an SCT setting")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--max-videos", type=int, default=40)
    ap.add_argument("--work", default=str(HERE / "work" / "sct_baselines"))
    ap.add_argument("--summarise", metavar="VARIANTS", help="collect the runs of these variants into results/")
    ap.add_argument("--name", default="sct_baselines")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    data = breakfast_labels_set(work, args.max_videos)
    if args.summarise:
        summarise(data, work, args)
        return
    settings = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    for seed in (int(s) for s in args.seeds.split(",")):
        trained = train_one(data, settings, args.epochs, seed, args.lr, args.optimizer)
        run = {"variant": args.variant, "settings": settings, "optimizer": f"{args.optimizer} {args.lr}", **trained}
        atomic_write_text(work / f"{args.variant}-{seed}.json", json.dumps(run) + "\n")


def summarise(data: SegmentationData, work: Path, args) -> None:
    variants = args.summarise.split(",")
    runs = {v: [json.loads(p.read_text()) for p in sorted(work.glob(f"{v}-*.json"))] for v in variants}
    summary = {v: {k: interval([r[k] for r in rs]) for k in ROWS} for v, rs in runs.items()}
    for name, value in baselines(data).items():
        summary[name] = {"mof": {"mean": value, "lo": value, "hi": value, "n": 1}}
    base = {r["seed"]: r for r in runs[variants[0]]}
    for v in variants[1:]:
        summary[f"{v} - {variants[0]}"] = {
            k: interval([r[k] - base[r["seed"]][k] for r in runs[v] if r["seed"] in base]) for k in ROWS
        }
    result = {
        "benchmark": "sct_baselines",
        "dataset": f"synthetic features (D = 32) on {len(data.split('train', 1)) + len(data.split('test', 1))} "
        f"real Breakfast label sequences, split 1 ({len(data.split('train', 1))} train / "
        f"{len(data.split('test', 1))} test)",
        "protocol": f"{args.epochs} epochs, batch 1, clip 10, last epoch; mean [95 % t-interval] over seeds; "
        "differences paired by seed",
        "variants": {
            v: {**rs[0]["settings"], "optimizer": rs[0].get("optimizer", "adam 0.001")} for v, rs in runs.items() if rs
        },
        "summary": summary,
        "runs": runs,
    }
    atomic_write_text(HERE / "results" / f"{args.name}.json", json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
