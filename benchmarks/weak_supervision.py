"""Weak supervision benchmark: SCT (action sets) and MuCon (transcripts) on synthetic features built from the real
Breakfast label sequences (48 classes), evaluated against the dense ground truth.

Reports, over several seeds (mean ± std): MoF, MoF-BG, matching score, Edit and F1@{10,25,50} for SCT, MuCon-Y,
MuCon-S, MuCon-full and the majority-class baseline (the class that occurs in the most training transcripts,
predicted for every frame). Also: SCT's loss ablation (Table 8.2 trend), MuCon with a growing fully labelled
fraction (Table 9.11 trend), and the speed claim: MuCon-full inference time per video against an NNV-style
alignment that runs the Viterbi over every distinct training transcript, as the number of transcripts grows.
Writes ``results/weak_supervision.json``, ``.md`` and ``weak_supervision_speed.png``.

    python benchmarks/weak_supervision.py --max-videos 50 --epochs 40 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import tables
from actionline.config import load_yaml, merge
from actionline.data.layout import SegmentationData
from actionline.data.synthetic.features import synthesize_segmentation
from actionline.engine.predictor import load_run
from actionline.io import atomic_write_text
from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation
from actionline.nn.decoding.viterbi import covering_max_length, viterbi_align
from actionline.tasks.segmentation import train_segmentation
from actionline.timeline import transcript_of

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
PRESETS = HERE.parent / "src" / "actionline" / "configs"
METRICS = ("acc", "acc_no_bg", "matching", "edit", "f1@10", "f1@25", "f1@50")


def score(preds: list[np.ndarray], data: SegmentationData, videos: list[str]) -> dict[str, float]:
    gts = [data.labels(v) for v in videos]
    s = evaluate_segmentation(preds, gts, SegmentationSettings(background=("SIL",)), videos, data.classes)
    d = s.as_dict()
    return {k: float(d[k]) for k in METRICS}


def predict(run: Path, data: SegmentationData, videos: list[str], variant: str | None = None):
    """Frame labels per video and the median seconds per video of forward + decode."""
    model, meta = load_run(run, device="cpu", overrides={"inference": variant} if variant else None)
    preds, times = [], []
    with torch.inference_mode():
        for v in videos:
            x = torch.from_numpy(data.features(v))[None]
            mask = torch.ones(1, x.shape[-1])
            t0 = time.perf_counter()
            (tl,) = model.decode(model(x, mask), mask, [v], meta.classes)
            times.append(time.perf_counter() - t0)
            preds.append(tl.to_labels(meta.classes))
    return preds, statistics.median(times)


def train(name: str, data: SegmentationData, run: Path, epochs: int, seed: int, supervision: str, extra=None):
    """Train into ``run``; a finished run is kept and an interrupted one resumes from its last checkpoint."""
    started = (run / "checkpoints" / "last.pt").is_file()
    if started and len((run / "log.jsonl").read_text().splitlines()) >= epochs:
        return
    settings = merge(load_yaml(PRESETS / f"{name}.yaml"), {"train": {"epochs": epochs, "seed": seed}})
    settings = merge(settings, extra or {})
    train_segmentation(name, data, 1, run, settings, resume=started, supervision=supervision)


def speed_curve(run: Path, data: SegmentationData, test_videos: list[str], label_sources, counts):
    """MuCon-full vs NNV-style alignment over the first n distinct training transcripts. ``label_sources``:
    (dataset, videos) pairs whose ground truth supplies the transcripts and mean lengths, the benchmark's own
    training videos first, then (labels only, no features needed) every training video of the real dataset, so
    the curve reaches the number of distinct transcripts a full Breakfast split has."""
    model, meta = load_run(run, device="cpu", overrides={"inference": "full"})
    transcripts, seen, mean_len = [], set(), {}
    for source, videos in label_sources:
        for v in videos:
            labels = source.labels(v)
            t = tuple(transcript_of(labels).tolist())
            if t not in seen:
                seen.add(t)
                transcripts.append(t)
            run_lengths = np.diff(np.flatnonzero(np.r_[1, np.diff(labels), 1]))
            for cls, length in zip(t, run_lengths, strict=True):
                mean_len.setdefault(int(cls), []).append(length)
    rate = {k: float(np.mean(v)) for k, v in mean_len.items()}
    rows = []
    videos = test_videos[:8]
    for n in sorted({c for c in counts if c < len(transcripts)} | {len(transcripts)}):
        mucon_t, nnv_t = [], []
        with torch.inference_mode():
            for v in videos:
                x = torch.from_numpy(data.features(v))[None]
                mask = torch.ones(1, x.shape[-1])
                t0 = time.perf_counter()
                out = model(x, mask)
                model.decode(out, mask, [v], meta.classes)
                mucon_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                log_probs = torch.log_softmax(model(x, mask)["logits"][-1, 0], dim=0).T.numpy()
                best = -np.inf
                for t in transcripts[:n]:
                    if len(t) * 30 > len(log_probs):
                        continue
                    rates = np.array([rate.get(c, 100.0) for c in t])
                    longest = covering_max_length(2000, len(log_probs), len(t), 30)  # as MuCon-full does
                    _, s = viterbi_align(log_probs, np.array(t), rates, 30, longest, return_score=True)
                    best = max(best, s)
                nnv_t.append(time.perf_counter() - t0)
        rows.append({"transcripts": n, "mucon_full_s": statistics.median(mucon_t), "nnv_s": statistics.median(nnv_t)})
        print(json.dumps(rows[-1]), flush=True)
    return rows, len(transcripts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-videos", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--feature-dim", type=int, default=32)
    ap.add_argument("--difficulty", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam for every run (CPU budget; the thesis uses SGD 0.01)")
    ap.add_argument("--mixed", default="10,50,100", help="fully labelled percentages for the mixed-supervision run")
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument(
        "--methods", default="sct,mucon", help="sct, mucon or both (the speed and mixed studies need mucon)"
    )
    ap.add_argument("--name", default="weak_supervision", help="results/<name>.json")
    args = ap.parse_args()
    methods = set(args.methods.split(","))
    work = Path(args.work) / "weak"
    data_dir = work / "data"
    if not (data_dir / "actionline.json").is_file():
        synthesize_segmentation(
            data_dir,
            labels_from=SHARED / "breakfast",
            feature_dim=args.feature_dim,
            difficulty=args.difficulty,
            seed=0,
            max_videos=args.max_videos,
        )
    data = SegmentationData(data_dir)
    train_videos, test_videos = data.split("train", 1), data.split("test", 1)
    opt = {"train": {"optimizer": "adam", "lr": args.lr, "scheduler": "none"}}
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict = {"protocol": vars(args) | {"train_videos": len(train_videos), "test_videos": len(test_videos)}}

    # majority class: the label in most training transcripts, everywhere
    counts = np.zeros(len(data.classes))
    for v in train_videos:
        counts[np.unique(data.labels(v))] += 1
    majority = int(counts.argmax())
    results["majority"] = score([np.full(len(data.labels(v)), majority) for v in test_videos], data, test_videos)
    results["sets"] = set_statistics(data, train_videos)

    per_seed: dict[str, list] = {}
    for seed in seeds:
        sct_run, mucon_run = work / f"sct-s{seed}", work / f"mucon-s{seed}"
        if "sct" in methods:
            train("sct", data, sct_run, args.epochs, seed, "set", opt)
            preds, t = predict(sct_run, data, test_videos)
            per_seed.setdefault("SCT", []).append(score(preds, data, test_videos) | {"s_per_video": t})
        if "mucon" in methods:
            train("mucon", data, mucon_run, args.epochs, seed, "transcript", opt)
        for variant, label in (
            (("y", "MuCon-Y"), ("s", "MuCon-S"), ("full", "MuCon-full")) if "mucon" in methods else ()
        ):
            preds, t = predict(mucon_run, data, test_videos, variant)
            per_seed.setdefault(label, []).append(score(preds, data, test_videos) | {"s_per_video": t})
        print(json.dumps({k: v[-1] for k, v in per_seed.items()}), flush=True)
        results["methods"] = {
            k: {m: [float(np.mean([r[m] for r in v])), float(np.std([r[m] for r in v]))] for m in v[0]}
            for k, v in per_seed.items()
        }
        write(results, args.name)
        if seed == seeds[0] and "mucon" in methods:  # the speed claim needs one trained MuCon; measure it first
            sources = [(data, train_videos)]
            if (SHARED / "breakfast" / "groundTruth").is_dir():
                real = SegmentationData(SHARED / "breakfast")
                sources.append((real, real.split("train", 1)))
            rows, distinct = speed_curve(
                work / f"mucon-s{seed}", data, test_videos, sources, (1, 2, 5, 10, 20, 50, 100, 200, 400, 800)
            )
            results["speed"] = {"distinct_training_transcripts": distinct, "rows": rows}
            write(results, args.name)
            plot_speed(rows)

    ablations = {
        "all losses": {},
        "without L_T": {"self_supervision_weight": 0.0},
        "without R_I": {"sparsity_weight": 0.0},
    }
    results["sct_ablation"] = {}
    for label, extra in ablations.items() if "sct" in methods else ():
        run = work / "sct-s0" if not extra else work / f"sct-abl-{label.split()[-1]}"
        train("sct", data, run, args.epochs, 0, "set", merge(opt, {"model": extra}))
        preds, _ = predict(run, data, test_videos)
        results["sct_ablation"][label] = score(preds, data, test_videos)
        write(results, args.name)
    if "mucon" not in methods:
        return
    results["mixed"] = {"0": per_seed["MuCon-full"][0]["acc"]}
    for pct in args.mixed.split(","):
        run = work / f"mucon-mixed{pct}"
        train("mucon", data, run, args.epochs, 0, "full" if pct == "100" else f"mixed:{pct}", opt)
        preds, _ = predict(run, data, test_videos, "full")
        results["mixed"][pct] = score(preds, data, test_videos)["acc"]
        write(results, args.name)


def set_statistics(data: SegmentationData, train_videos: list[str]) -> dict:
    """What action sets can carry: their mean size against the class count, and how many training videos share
    their set with another (a set shared by many videos says little about any one of them). For this
    benchmark's training videos and, when ../shared is present, the full training splits of Breakfast and
    50Salads (labels only)."""
    sources = {"this benchmark (Breakfast subset)": (data, train_videos)}
    for name in ("breakfast", "50salads"):
        if (SHARED / name / "groundTruth").is_dir():
            real = SegmentationData(SHARED / name)
            sources[f"{name}, training split 1"] = (real, real.split("train", 1))
    out = {}
    for label, (source, videos) in sources.items():
        sets = [tuple(np.unique(source.labels(v)).tolist()) for v in videos]
        shared = sum(sets.count(s) > 1 for s in sets)
        out[label] = {
            "videos": len(videos),
            "classes": len(source.classes),
            "mean_set_size": float(np.mean([len(s) for s in sets])),
            "distinct_sets": len(set(sets)),
            "videos_sharing_their_set": shared,
        }
    return out


def write(results: dict, name: str = "weak_supervision") -> None:
    out = HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / f"{name}.json", json.dumps(results, indent=1))
    atomic_write_text(out / f"{name}.md", tables.weak_supervision(results))


def plot_speed(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from actionline.io import atomic_write

    n = [x["transcripts"] for x in rows]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(n, [x["mucon_full_s"] for x in rows], "o-", label="MuCon-full (one transcript)")
    ax.plot(n, [x["nnv_s"] for x in rows], "s-", label="alignment over all training transcripts")
    ax.set_xscale("log")
    ax.set_xlabel("distinct training transcripts")
    ax.set_ylabel("seconds per video")
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(HERE / "results" / "weak_supervision_speed.png", lambda tmp: fig.savefig(tmp, dpi=120, format="png"))


if __name__ == "__main__":
    main()
