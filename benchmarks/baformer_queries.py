"""Why BaFormer's query voting collapses early on Breakfast while frame voting does not (issue 39).

Synthetic features (D = 32) on real Breakfast label sequences (``synthesize_segmentation --labels-from``), split 1,
every ``--sample-rate``-th frame (train and test), batch 1, Adam at ``--lr``, BaFormer's Breakfast preset (100
queries, no-action weight 0.01, pos_weight 80) with ``--set`` overrides. After every epoch, on the test split:

- accuracy of the decoded timeline with query voting (Algorithm 1, the default), frame voting (Algorithm 2) and
  query voting on ground-truth boundaries (Table 5's oracle), so boundaries and votes are told apart;
- the query-class distribution: queries whose top class is no-action, distinct real classes among the queries;
- who wins the proposals of Algorithm 1: the share of proposals won by a query whose top class is no-action, and by
  a query that Hungarian matching (Eq. 6, the last decoder layer) assigns to a ground-truth segment of the video;
- the matched queries: mask IoU (mask > 0.5) with their segment and class accuracy (top real class);
- the boundary head: peaks per video against ground-truth boundaries, and the share of ground-truth boundaries with
  a peak within ``--tolerance`` frames.

One process per ``--variant``/``--seeds`` writes ``work/baformer_queries/<variant>-<seed>.json``; ``--summarise``
writes ``results/baformer_queries.json`` (95 % t-intervals over seeds at the last epoch; differences paired by
seed against the first variant).

    python benchmarks/baformer_queries.py --variant default --seeds 0,1,2,3,4 --epochs 15
    python benchmarks/baformer_queries.py --variant queries25 --set num_queries=25 --seeds 0,1,2,3,4 --epochs 15
    python benchmarks/baformer_queries.py --summarise default,queries25 --epochs 15

``--summarise`` also gives, per variant, frame minus query voting (paired within each run) and Pearson's r over the
epochs of each run between query-voting accuracy and the share of proposals won by a matched query.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from actionline.config import load_yaml
from actionline.data.layout import SegmentationData
from actionline.io import atomic_write_text
from actionline.models.registry import build_model
from actionline.models.segmentation.baformer import BaFormer
from equal_budget import breakfast_labels_set, interval, supervised_epoch

HERE = Path(__file__).resolve().parent
PRESETS = HERE.parent / "src" / "actionline" / "configs"
ROWS = (
    "acc_query",
    "acc_frame",
    "acc_query_gt_boundaries",
    "queries_no_action",
    "query_classes",
    "winners_no_action",
    "winners_matched",
    "matched_mask_iou",
    "matched_class_acc",
    "peaks_per_video",
    "gt_boundaries_per_video",
    "boundary_recall",
)


def load(data: SegmentationData, part: str, rate: int) -> list[tuple[str, torch.Tensor, np.ndarray]]:
    out = []
    for video in data.split(part, 1):
        features, labels = data.pair(video)
        out.append((video, torch.as_tensor(features[:, ::rate], dtype=torch.float32)[None], labels[::rate]))
    return out


def decoded(model: BaFormer, outputs: dict, video: str, y: np.ndarray, classes: list[str], **settings) -> np.ndarray:
    """Frame labels of one video decoded with ``settings`` (inference settings of the model) in force."""
    saved = {k: getattr(model.config, k) for k in settings}
    for k, v in settings.items():
        setattr(model.config, k, v)
    try:
        mask = torch.ones(1, len(y))
        timeline = model.decode(outputs, mask, [video], classes, {"labels": torch.as_tensor(y)[None]})[0]
        return timeline.to_labels(classes)
    finally:
        for k, v in saved.items():
            setattr(model.config, k, v)


def probe_video(model: BaFormer, outputs: dict, video: str, y: np.ndarray, classes: list[str], tolerance: int) -> dict:
    """Sums over one test video (frames, proposals, matched queries, boundaries) for the quantities of ``ROWS``."""
    K = model.config.num_classes
    class_prob = torch.softmax(outputs["class_logits"][-1, 0], dim=-1)  # [M, K+1]
    mask_prob = torch.sigmoid(outputs["mask_logits"][-1, 0]).numpy()  # [M, T]
    top = class_prob.argmax(dim=-1).numpy()
    gt_classes, gt_masks, starts = model.targets_for(y)
    rows, cols = model.match(outputs["class_logits"][-1, 0], outputs["mask_logits"][-1, 0], gt_classes, gt_masks)
    peaks = model.select_boundaries(torch.sigmoid(outputs["boundary_logits"][-1, 0]).numpy())
    bounds = np.concatenate([[0], peaks, [len(y)]]).astype(int)
    cum = np.concatenate([np.zeros((len(mask_prob), 1)), np.cumsum(mask_prob, axis=1)], axis=1)
    winners = (cum[:, bounds[1:]] - cum[:, bounds[:-1]]).argmax(axis=0)
    matched_masks = mask_prob[rows] > 0.5
    gt = gt_masks[cols].numpy() > 0.5
    iou = (matched_masks & gt).sum(1) / np.maximum((matched_masks | gt).sum(1), 1)
    true_bounds = starts[1:]
    near = np.abs(true_bounds[:, None] - peaks[None, :]) <= tolerance if len(peaks) else np.zeros((len(true_bounds), 0))
    return {
        "frames": len(y),
        "correct_query": int((decoded(model, outputs, video, y, classes) == y).sum()),
        "correct_frame": int((decoded(model, outputs, video, y, classes, voting="frame") == y).sum()),
        "correct_gt": int((decoded(model, outputs, video, y, classes, boundaries="ground_truth") == y).sum()),
        "queries_no_action": int((top == K).sum()),
        "query_classes": len(np.unique(class_prob[:, :K].argmax(dim=-1).numpy())),
        "proposals": len(winners),
        "winners_no_action": int((top[winners] == K).sum()),
        "winners_matched": int(np.isin(winners, rows).sum()),
        "matched": len(rows),
        "matched_iou": float(iou.sum()),
        "matched_class": int((class_prob[rows, :K].argmax(dim=-1).numpy() == gt_classes[cols].numpy()).sum()),
        "peaks": len(peaks),
        "gt_boundaries": len(true_bounds),
        "recalled": int(near.any(axis=1).sum()) if len(true_bounds) else 0,
    }


def probe(model: BaFormer, test, classes: list[str], tolerance: int) -> dict[str, float]:
    model.eval()
    s: dict[str, float] = {}
    with torch.no_grad():
        for video, x, y in test:
            for k, v in probe_video(model, model(x, torch.ones(1, x.shape[2])), video, y, classes, tolerance).items():
                s[k] = s.get(k, 0) + v
    n = len(test)
    return {
        "acc_query": 100 * s["correct_query"] / s["frames"],
        "acc_frame": 100 * s["correct_frame"] / s["frames"],
        "acc_query_gt_boundaries": 100 * s["correct_gt"] / s["frames"],
        "queries_no_action": s["queries_no_action"] / n,
        "query_classes": s["query_classes"] / n,
        "winners_no_action": 100 * s["winners_no_action"] / s["proposals"],
        "winners_matched": 100 * s["winners_matched"] / s["proposals"],
        "matched_mask_iou": 100 * s["matched_iou"] / max(s["matched"], 1),
        "matched_class_acc": 100 * s["matched_class"] / max(s["matched"], 1),
        "peaks_per_video": s["peaks"] / n,
        "gt_boundaries_per_video": s["gt_boundaries"] / n,
        "boundary_recall": 100 * s["recalled"] / max(s["gt_boundaries"], 1),
    }


def train_one(data: SegmentationData, overrides: dict, args, seed: int, save: Callable[[dict], None]) -> None:
    """Train one seed; ``save`` receives the run's record after every epoch (a summary can read a cut-short run)."""
    classes = list(data.classes)
    train, test = load(data, "train", args.sample_rate), load(data, "test", args.sample_rate)
    preset = {
        **load_yaml(PRESETS / "baformer.yaml")["model"],
        **load_yaml(PRESETS / "baformer_breakfast.yaml")["model"],
    }
    torch.manual_seed(seed)
    model = build_model(
        "baformer", {**preset, **overrides, "input_dim": train[0][1].shape[1], "num_classes": len(classes)}
    )
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    order = torch.Generator().manual_seed(seed)
    log, start = [], time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        terms = supervised_epoch(model, train, opt, order)
        log.append({"epoch": epoch, "train": terms, **probe(model, test, classes, args.tolerance)})
        print(json.dumps(log[-1]), flush=True)
        save({"seed": seed, **{k: log[-1][k] for k in ROWS}, "train_s": time.perf_counter() - start, "log": log})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="default")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a BaFormer setting")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--max-videos", type=int, default=40)
    ap.add_argument("--sample-rate", type=int, default=8)
    ap.add_argument("--tolerance", type=int, default=2, help="frames (at the sample rate) for a recalled boundary")
    ap.add_argument("--work", default=str(HERE / "work" / "baformer_queries"))
    ap.add_argument("--summarise", metavar="VARIANTS", help="collect the runs of these variants into results/")
    ap.add_argument("--at-epoch", type=int, default=None, help="summarise this epoch (default: --epochs)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    data = breakfast_labels_set(work, args.max_videos)
    if args.summarise:
        summarise(data, work, args)
        return
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    for seed in (int(s) for s in args.seeds.split(",")):
        path = work / f"{args.variant}-{seed}.json"

        def save(record: dict, path: Path = path) -> None:
            atomic_write_text(path, json.dumps({"variant": args.variant, "settings": overrides, **record}) + "\n")

        train_one(data, overrides, args, seed, save)


def at_epoch(run: dict, epoch: int) -> dict:
    """A run's probe at ``epoch`` (a longer run of the same seed passes through the same state: constant rate)."""
    if len(run["log"]) < epoch:
        raise SystemExit(f"error: the {run['variant']} run of seed {run['seed']} has only {len(run['log'])} epochs")
    return {**run, **{k: run["log"][epoch - 1][k] for k in ROWS}, "log": run["log"][:epoch]}


def tracking(runs: list[dict]) -> dict[str, float]:
    """Pearson's r over the epochs of each run between query-voting accuracy and the share of proposals won by a
    matched query (does the vote follow who wins?), as an interval over runs."""
    r = [np.corrcoef([e["acc_query"] for e in x["log"]], [e["winners_matched"] for e in x["log"]])[0, 1] for x in runs]
    return interval(r)


def summarise(data: SegmentationData, work: Path, args) -> None:
    variants = args.summarise.split(",")
    epoch = args.at_epoch or args.epochs
    found = {
        v: [at_epoch(json.loads(p.read_text()), epoch) for p in sorted(work.glob(f"{v}-*.json"))] for v in variants
    }
    summary = {
        v: {k: interval([r[k] for r in rs]) for k in ROWS}
        | {"frame - query voting": interval([r["acc_frame"] - r["acc_query"] for r in rs])}
        | {"r(acc_query, winners_matched)": tracking(rs)}
        for v, rs in found.items()
    }
    base = {r["seed"]: r for r in found[variants[0]]}
    for v in variants[1:]:
        summary[f"{v} - {variants[0]}"] = {
            k: interval([r[k] - base[r["seed"]][k] for r in found[v] if r["seed"] in base]) for k in ROWS
        }
    train, test = data.split("train", 1), data.split("test", 1)
    result = {
        "benchmark": "baformer_queries",
        "dataset": f"synthetic features (D = 32) on {len(train) + len(test)} real Breakfast label sequences, split 1 "
        f"({len(train)} train / {len(test)} test), every {args.sample_rate}th frame",
        "protocol": f"epoch {epoch}, batch 1, Adam {args.lr:g}, Breakfast preset; mean [95 % "
        "t-interval] over seeds; differences paired by seed",
        "variants": {v: rs[0]["settings"] for v, rs in found.items() if rs},
        "summary": summary,
        "runs": found,
    }
    atomic_write_text(HERE / "results" / "baformer_queries.json", json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
