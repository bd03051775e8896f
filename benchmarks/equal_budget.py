"""Segmentation models at an equal budget over several seeds, with confidence intervals (issue 39).

Every model trains the same number of epochs on the same small synthetic dataset (the built-in activity grammar,
``synthesize_segmentation``), batch 1, Adam at its preset's learning rate, its staged schedule through
``set_epoch``; the last epoch is scored on the test split (no validation choice, so nothing depends on a decoded
validation metric). Each process writes one file per run under ``--work``; ``--summarise`` collects them. Per
epoch the log keeps every loss term, the class head of the last stage read frame by frame (``head_acc``), the
decoded timeline (``acc``) and, for RTK, the keypoint candidates per video, so a slow start can be located.
Differences are paired by seed; the interval is Student's t at 95 %.

    python benchmarks/equal_budget.py --models mstcn,rtk --seeds 0,1,2,3,4 --epochs 20
    python benchmarks/equal_budget.py --models mstcn,rtk --epochs 20 --summarise --name equal_budget_rtk
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from actionline.config import load_yaml
from actionline.data.layout import SegmentationData
from actionline.data.synthetic.features import synthesize_segmentation
from actionline.io import atomic_write_text
from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation
from actionline.models.registry import build_model
from clip_runs import interval

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
PRESETS = HERE.parent / "src" / "actionline" / "configs"
METRICS = ("acc", "edit", "f1@10", "f1@25", "f1@50")


def load_split(data: SegmentationData, part: str) -> list[tuple[str, torch.Tensor, np.ndarray]]:
    out = []
    for video in data.split(part, 1):
        features, labels = data.pair(video)
        out.append((video, torch.as_tensor(features, dtype=torch.float32)[None], labels))
    return out


def supervised_epoch(model, train, opt, order: torch.Generator) -> dict[str, float]:
    """One epoch over ``train`` (name, features, frame labels), one video per step in ``order``'s shuffle; returns
    each loss term averaged over the videos."""
    model.train()
    terms: dict[str, float] = {}
    for i in torch.randperm(len(train), generator=order).tolist():
        _, x, y = train[i]
        mask = torch.ones(1, x.shape[2])
        loss = model.loss(model(x, mask), {"labels": torch.as_tensor(y)[None], "mask": mask})
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
        for k, v in loss.items():
            terms[k] = terms.get(k, 0.0) + float(v.detach()) / len(train)
    return terms


def breakfast_labels_set(work: Path, max_videos: int) -> SegmentationData:
    """Synthetic 32-d features on the first ``max_videos`` real Breakfast label sequences, made once under ``work``."""
    data_dir = work / f"breakfast_v{max_videos}"
    if not data_dir.is_dir():
        synthesize_segmentation(data_dir, labels_from=SHARED / "breakfast", max_videos=max_videos, feature_dim=32)
    return SegmentationData(data_dir)


def epoch_probe(model, test, classes) -> dict[str, float]:
    """Decoded accuracy, the last stage's class head alone and (RTK) candidates per video on ``test``."""
    decoded = head = frames = candidates = 0
    with torch.no_grad():
        for video, x, y in test:
            mask = torch.ones(1, x.shape[2])
            out = model(x, mask)
            decoded += int((model.decode(out, mask, [video], classes)[0].to_labels(classes) == y).sum())
            head += int((out["logits"][-1, 0].argmax(0).numpy() == y).sum())
            frames += len(y)
            if "action" in out:
                candidates += len(model._candidates(out, 0, len(y))[0])
    probe = {"acc": 100 * decoded / frames, "head_acc": 100 * head / frames}
    if candidates or "rtk" in type(model).__name__.lower():
        probe["candidates_per_video"] = candidates / len(test)
    return probe


def fit(name: str, data: SegmentationData, epochs: int, seed: int, overrides: dict) -> tuple[torch.nn.Module, list]:
    """``name`` trained ``epochs`` epochs on the train split (in eval mode) and its per-epoch log."""
    preset = load_yaml(PRESETS / f"{name}.yaml")
    classes = list(data.classes)
    train, test = load_split(data, "train"), load_split(data, "test")
    torch.manual_seed(seed)
    settings = {**preset.get("model", {}), **overrides, "input_dim": train[0][1].shape[1], "num_classes": len(classes)}
    model = build_model(name, settings)
    opt = torch.optim.Adam(model.parameters(), lr=preset["train"]["lr"], weight_decay=preset["train"]["weight_decay"])
    order = torch.Generator().manual_seed(seed)
    log = []
    for epoch in range(1, epochs + 1):
        model.set_epoch(epoch, epochs)
        terms = supervised_epoch(model, train, opt, order)
        model.eval()
        log.append({"epoch": epoch, "train": terms, **epoch_probe(model, test, classes)})
    return model, log


def decoded_labels(model: torch.nn.Module, data: SegmentationData) -> list[np.ndarray]:
    """``model``'s decoded frame labels of each test video."""
    classes, preds = list(data.classes), []
    with torch.no_grad():
        for video, x, _ in load_split(data, "test"):
            mask = torch.ones(1, x.shape[2])
            preds.append(model.decode(model(x, mask), mask, [video], classes)[0].to_labels(classes))
    return preds


def test_scores(model: torch.nn.Module, data: SegmentationData) -> dict[str, float]:
    """Acc / Edit / F1 of ``model``'s decoded timelines on the test split."""
    truth = [y for _, _, y in load_split(data, "test")]
    scores = evaluate_segmentation(decoded_labels(model, data), truth, SegmentationSettings(), classes=data.classes)
    return {k: float(scores.as_dict()[k]) for k in METRICS}


def train_one(name: str, data: SegmentationData, epochs: int, seed: int, overrides: dict) -> dict:
    start = time.perf_counter()
    model, log = fit(name, data, epochs, seed, overrides)
    final = test_scores(model, data)
    return {"model": name, "seed": seed, **final, "train_s": time.perf_counter() - start, "log": log}


def summarise(runs: list[dict], models: list[str]) -> dict:
    summary = {m: {k: interval([r[k] for r in runs if r["model"] == m]) for k in METRICS} for m in models}
    base = models[0]
    for other in models[1:]:
        diffs = {}
        for k in METRICS:
            by_seed = {r["seed"]: r[k] for r in runs if r["model"] == base}
            diffs[k] = interval(
                [r[k] - by_seed[r["seed"]] for r in runs if r["model"] == other and r["seed"] in by_seed]
            )
        summary[f"{other} - {base}"] = diffs
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mstcn,rtk")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--videos", type=int, default=48)
    ap.add_argument("--length-scale", type=float, default=1.0)
    ap.add_argument("--difficulty", type=float, default=1.0)
    ap.add_argument("--set", action="append", default=[], metavar="MODEL:KEY=VALUE", help="a model setting")
    ap.add_argument("--work", default=str(HERE / "work" / "equal_budget"))
    ap.add_argument("--summarise", action="store_true", help="collect the runs in --work into results/<name>.json")
    ap.add_argument("--name", default="equal_budget")
    args = ap.parse_args()
    torch.set_num_threads(1)
    models = args.models.split(",")
    overrides: dict[str, dict] = {m: {} for m in models}
    for item in args.set:
        model, _, kv = item.partition(":")
        key, _, value = kv.partition("=")
        overrides[model][key] = json.loads(value)
    data_dir = Path(args.work) / f"grammar_v{args.videos}_l{args.length_scale}_d{args.difficulty}"
    if not data_dir.is_dir():
        synthesize_segmentation(
            data_dir, num_videos=args.videos, seed=0, length_scale=args.length_scale, difficulty=args.difficulty
        )
    data = SegmentationData(data_dir)
    if args.summarise:
        runs = [
            json.loads(p.read_text())
            for m in models
            for p in sorted((data_dir.parent / "runs" / args.name).glob(f"{m}-*.json"))
        ]
        write_result(args, data, models, overrides, runs)
        return
    for seed in (int(s) for s in args.seeds.split(",")):
        for m in models:
            run = train_one(m, data, args.epochs, seed, overrides[m])
            atomic_write_text(data_dir.parent / "runs" / args.name / f"{m}-{seed}.json", json.dumps(run) + "\n")
            print(json.dumps({k: v for k, v in run.items() if k != "log"}), flush=True)


def write_result(args, data: SegmentationData, models: list[str], overrides: dict, runs: list[dict]) -> None:
    result = {
        "benchmark": "equal_budget",
        "dataset": f"synthetic grammar, {args.videos} videos (split 1: {len(data.split('train', 1))} train / "
        f"{len(data.split('test', 1))} test), length scale {args.length_scale}, difficulty {args.difficulty}",
        "protocol": f"{args.epochs} epochs each, batch 1, Adam at the preset's lr, last epoch scored on the test "
        "split; mean [95 % t-interval] over seeds; differences paired by seed",
        "overrides": overrides,
        "settings": SegmentationSettings().describe(),
        "machine": {"cpu_threads": 1, "torch": torch.__version__, "python": platform.python_version()},
        "summary": summarise(runs, models),
        "runs": runs,
    }
    atomic_write_text(HERE / "results" / f"{args.name}.json", json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
