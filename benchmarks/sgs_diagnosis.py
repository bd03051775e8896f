"""Why SGS loses the ``content`` task in Table 6.12's network (issue 39; `sgs_atfr.py` trained to convergence: plain
97-99.5 %, SGS 52-55 %). Same data, budget, schedule and seeds as ``sgs_atfr.py --epochs 20``; per variant and seed:
test top-1, the 4 x 4 confusion matrix and per-factor accuracy (shape, axis of travel), training-set top-1 (eval
mode), the kept bins B', how the bins mix the clip's moments, and the gradient norms of the layers before and after
SGS per epoch (the 2 x 2 of sum / mean bins and gradient through Δ or not is linear, linear_normalised,
similarity_detached, kronecker). Variants (all but ``plain`` put SGS after res2 with B = 32 unless stated):

- ``plain``: no SGS; ``linear``: the thesis' default (Eq. 6.6, a sum); ``kronecker``: Eq. 6.5 (a mean);
- ``linear_normalised``: the linear kernel's weights divided by their sum per bin (not in the thesis);
- ``similarity_detached``: ``linear`` with Δ detached (``sgs_similarity_grad=0``), so no gradient passes through Δ
  (Eq. 6.8): the similarity space stays at its initialisation and res2 learns only through O (Eq. 6.7), as under the
  Kronecker kernel;
- ``range_gradient``: ``linear`` with γ and β following Δ_max in the backward (the released code's exact gradient
  of a function of Δ / Δ_max) instead of constants (Eq. 6.8 as written);
- ``time_linear`` / ``time_kronecker``: the same sampling on B = 8 chronological windows of 4 frames (a control).

    OMP_NUM_THREADS=1 python benchmarks/sgs_diagnosis.py --variants linear,kronecker --seeds 0 \
        --out benchmarks/results/sgs_diagnosis_kernels.json
    python benchmarks/sgs_diagnosis.py --combine benchmarks/results/sgs_diagnosis_*.json \
        --out benchmarks/results/sgs_diagnosis.json    # runs of several processes, same settings, in one file
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from actionline.data.synthetic.held_moments import CLASSES, held_moments
from actionline.io import atomic_write_text
from actionline.models.registry import build_model
from actionline.nn.sampling.sgs import bin_weights
from sgs_atfr import FRAMES, tensor

HERE = Path(__file__).resolve().parent
VARIANTS = {
    "plain": {"sgs_after": 0},
    "linear": {"sgs_after": 1},
    "kronecker": {"sgs_after": 1, "sgs_kernel": "kronecker"},
    "linear_normalised": {"sgs_after": 1, "sgs_kernel": "linear_normalised"},
    "similarity_detached": {"sgs_after": 1, "sgs_similarity_grad": 0.0},
    "range_gradient": {"sgs_after": 1},
    "time_linear": {"sgs_after": 1, "sgs_similarity": "time", "sgs_bins": 8},
    "time_kronecker": {"sgs_after": 1, "sgs_similarity": "time", "sgs_bins": 8, "sgs_kernel": "kronecker"},
}


def grad_norm(params: list[torch.nn.Parameter]) -> float:
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params if p.grad is not None])))


def train(variant: str, seed: int, x: torch.Tensor, y: torch.Tensor, args):
    """The schedule of `sgs_atfr.train`, with the mean gradient norm before / after SGS per epoch and how far the
    layers before SGS moved in it (||θ_end - θ_start|| / ||θ_start||)."""
    torch.manual_seed(seed)
    settings = {"num_classes": len(CLASSES["content"]), "frames": FRAMES, "size": args.size, **VARIANTS[variant]}
    model = build_model("atfr_resnet3d_18", settings)
    net = model.net
    if variant == "range_gradient":
        net.sgs.value_range = lambda delta, mask=None: delta.amax(dim=1, keepdim=True)
    before = [p for m in (net.conv1, net.bn1, net.layer1) for p in m.parameters()]
    after = [p for m in (net.layer2, net.layer3, net.layer4, net.fc) for p in m.parameters()]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, args.lr, weight_decay=1e-4)
    steps = args.epochs * (len(x) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps, pct_start=0.15)
    order = torch.Generator().manual_seed(seed)
    curve, t0 = [], time.process_time()
    model.train()
    for _ in range(args.epochs):
        perm = torch.randperm(len(x), generator=order)
        norms, losses, start = [], [], torch.cat([p.detach().flatten() for p in before])
        for i in range(0, len(perm) - args.batch + 1, args.batch):
            idx = perm[i : i + args.batch]
            loss = model.loss(model(x[idx]), {"labels": y[idx]})["total"]
            opt.zero_grad()
            loss.backward()
            norms.append((grad_norm(before), grad_norm(after)))
            losses.append(loss.item())
            opt.step()
            sched.step()
        b, a = np.mean(norms, axis=0)
        moved = float((torch.cat([p.detach().flatten() for p in before]) - start).norm() / start.norm())
        curve.append({"loss": float(np.mean(losses)), "grad_before_sgs": float(b), "grad_after_sgs": float(a),
                      "update_before_sgs": moved})  # fmt: skip
    return model.eval(), curve, time.process_time() - t0


@torch.no_grad()
def predictions(model, x: torch.Tensor, batch: int = 50) -> np.ndarray:
    """Eval-mode predictions (padded bins are masked, so a batch gives what each clip gives alone)."""
    return np.concatenate([model(x[i : i + batch])["logits"].argmax(1).numpy() for i in range(0, len(x), batch)])


@torch.no_grad()
def bin_mixing(model, x: torch.Tensor, moment_of_frame: np.ndarray, moments: np.ndarray) -> dict:
    """B' per clip; purity: the share of a bin's weight from its largest moment; span: the distance along the path
    between the first and last moment a bin draws from, over the path's length (0 = one position, 1 = both ends)."""
    net, kept, purity, span = model.net, [], [], []
    for i in range(len(x)):
        sgs = net.sgs
        feats = net.layer1(net.stem(x[i : i + 1]))
        delta = sgs.similarity_values(feats)
        w = bin_weights(delta, sgs.bins, sgs.kernel, None, sgs.value_range(delta))[0].numpy()  # [B, T]
        w = w[w.sum(1) > 0]
        kept.append(len(w))
        onehot = np.eye(moments[i])[moment_of_frame[i]]  # [T, K]
        per_moment = w @ onehot  # [B', K]
        purity.append(float(per_moment.max(1).sum() / per_moment.sum()))
        used = per_moment > 0
        first, last = used.argmax(1), moments[i] - 1 - used[:, ::-1].argmax(1)
        span.append(float(((last - first) / (moments[i] - 1)).mean()))
    return {"bins_mean": float(np.mean(kept)), "bins_min": int(np.min(kept)), "bins_max": int(np.max(kept)),
            "moment_purity": float(np.mean(purity)), "path_span": float(np.mean(span))}  # fmt: skip


def factors(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Classes are 2 * square + vertical: per-factor accuracy and the confusion matrix (rows: truth)."""
    confusion = np.zeros((4, 4), dtype=int)
    np.add.at(confusion, (truth, pred), 1)
    return {"top1": float((pred == truth).mean() * 100), "shape_acc": float((pred // 2 == truth // 2).mean() * 100),
            "axis_acc": float((pred % 2 == truth % 2).mean() * 100), "confusion": confusion.tolist()}  # fmt: skip


def one_run(variant: str, seed: int, args) -> dict:
    train_set = held_moments(args.train, task="content", frames=FRAMES, size=args.size, seed=100 + seed)
    test_set = held_moments(args.test, task="content", frames=FRAMES, size=args.size, seed=10_000)
    x, y, xt = tensor(train_set.clips), torch.from_numpy(train_set.labels), tensor(test_set.clips)
    model, curve, cpu_s = train(variant, seed, x, y, args)
    pred = predictions(model, xt)
    result = {"variant": variant, "seed": seed, "train_cpu_s": cpu_s, "load_average": os.getloadavg()[0],
              "test": factors(pred, test_set.labels), "train": factors(predictions(model, x), train_set.labels),
              "test_pred": pred.tolist(), "curve": curve}  # fmt: skip
    if variant != "plain":
        result["bins"] = bin_mixing(model, xt, test_set.moment_of_frame, test_set.moments)
    return result


def combine(parts: list[Path], out: Path) -> None:
    """One result file from the runs of several part files whose settings agree (apart from variants and seeds)."""
    loaded = [json.loads(p.read_text()) for p in parts if p.resolve() != out.resolve()]
    fixed = [{k: v for k, v in r["settings"].items() if k not in ("variants", "seeds")} for r in loaded]
    if not loaded or any(f != fixed[0] for f in fixed):
        raise SystemExit("error: --combine needs part files with the same settings (apart from variants and seeds)")
    result = {**loaded[0], "parts": [p.name for p in parts if p.resolve() != out.resolve()]}
    result["settings"] = {
        **fixed[0],
        "variants": ",".join(dict.fromkeys(r["variant"] for x in loaded for r in x["runs"])),
    }
    order = list(VARIANTS)
    result["runs"] = sorted(
        (r for x in loaded for r in x["runs"]), key=lambda r: (order.index(r["variant"]), r["seed"])
    )
    atomic_write_text(out, json.dumps(result, indent=1))
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train", type=int, default=480)
    parser.add_argument("--test", type=int, default=400)
    parser.add_argument("--size", type=int, default=24)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "sgs_diagnosis.json")
    parser.add_argument("--combine", type=Path, nargs="+", help="part result files to merge into --out (no training)")
    args = parser.parse_args()
    if args.combine:
        return combine(args.combine, args.out)
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(VARIANTS)}")
    torch.set_num_threads(1)
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "combine")}
    result = {"settings": settings, "model": "atfr_resnet3d_18",
              "classes": list(CLASSES["content"]), "threads": torch.get_num_threads(), "runs": []}  # fmt: skip
    for variant in args.variants.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            result["runs"].append(one_run(variant, seed, args))
            atomic_write_text(args.out, json.dumps(result, indent=1))  # after every run: the finished ones kept
            r = result["runs"][-1]
            print(variant, seed, json.dumps({k: r[k] for k in ("test", "train", "bins") if k in r}), flush=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
