"""Similarity Guided Sampling benchmark (dissertation ch. 6) on synthetic clips whose redundancy varies: a shape
steps through K held positions (K = 2..12 known per clip; `actionline synth clips --kind redundancy`).

A 3D ResNet-18 (Hara's layout, width 16; ``resnet3d_18``) at 32 x 56 x 56 with SGS after its first stage (where
the clip has 16 time steps, so B = 16 = T as the thesis sets it) and without, several seeds: video top-1, the
average GMACs counted clip by clip at batch size 1 (what `evaluate` reports) next to the fixed cost, CPU latency per
clip of both networks measured interleaved in one run; the number of bins B' each test clip keeps against its true
number of distinct moments K; the bins ablation B in {4, 8, 16}; and the test-time B trade-off (the B = 16 network
evaluated with fewer bins). Writes ``results/sgs.json``. (Table 6.12's own network, ``atfr_resnet3d_18`` at width 8,
stayed near chance on this set in 15 epochs in a first run, with and without SGS.)

    python benchmarks/sgs.py --seeds 0,1,2 --epochs 20
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console

from actionline.cli import commands
from actionline.cli.commands import TaskOptions
from actionline.config import build
from actionline.data.clips import ClipData, ClipSampling, ClipSet, collate_clips
from actionline.data.synthetic.clips import synthesize_video_classification
from actionline.engine.predictor import load_run
from actionline.io import atomic_write_text
from actionline.tasks.clips import kinetics_scale
from clip_runs import summary

HERE = Path(__file__).resolve().parent
QUIET = Console(stderr=True, quiet=True)


MODEL, BINS = "resnet3d_18", 16


def settings(seed: int, epochs: int, sgs: bool, bins: int = BINS) -> dict:
    return {
        "model": {"width": 16, "frames": 32, "size": 56, "sgs_after": 1 if sgs else 0, "sgs_bins": bins},
        "train": {"epochs": epochs, "seed": seed, "batch_size": 8},
        "clips": {"short_side": 64, "test_clips": 1, "stride": 1, "flip": False, "scale_min": 0.6},
    }


def run(data: Path, out: Path, seed: int, epochs: int, sgs: bool, bins: int = BINS) -> dict:
    t0 = time.perf_counter()
    commands.train(MODEL, data, out, TaskOptions(), "motion", settings(seed, epochs, sgs, bins), False, QUIET)
    return {"train_s": time.perf_counter() - t0, **test(out, data, {})}


def test(out: Path, data: Path, overrides: dict) -> dict:
    pred = out / ("pred" + "".join(f"_{k}{v}" for k, v in overrides.get("model", {}).items()))
    commands.predict(out, data, pred, TaskOptions(), "best", overrides)
    r = commands.evaluate(pred, data, TaskOptions()).as_dict
    return {"top1": r["video_top1"], "gmacs": r.get("gmacs_mean"), "gmacs_fixed": r.get("gmacs_fixed")}


@torch.no_grad()
def kept_bins_and_latency(with_sgs: Path, without: Path, data: Path) -> tuple[list[dict], dict]:
    """B' per test clip against its K, and the median CPU latency per clip of both networks (interleaved)."""
    sgs_model, meta = load_run(with_sgs, device="cpu")
    plain, _ = load_run(without, device="cpu")
    moments = {r["path"]: int(r["moments"]) for r in csv.DictReader((data / "test.csv").open())}
    dataset = ClipData(data)
    c, sampling = sgs_model.config, build(ClipSampling, meta.settings.clips, where="clips")
    videos = dataset.videos("test")
    clips = ClipSet(videos, sampling, c.frames, c.size, "centre", kinetics_scale)
    rows, times = [], {"sgs": [], "plain": []}
    for i, video in enumerate(clips.videos):
        x = collate_clips([clips[i]])["features"]
        net = sgs_model.net
        kept = net.sgs(net.layer1(net.stem(x)))[1].sum()
        rel = str(video.path.relative_to(data))
        rows.append({"video": video.video, "moments": moments[rel], "bins": int(kept)})
        for name, model in (("sgs", sgs_model), ("plain", plain)):
            t0 = time.perf_counter()
            model(x)
            times[name].append(1000 * (time.perf_counter() - t0))
    return rows, {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--per-class", type=int, default=36, help="training videos per class (a third for test)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "sgs.json")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="actionline-sgs-"))
    data = synthesize_video_classification(
        work / "steps", train_per_class=args.per_class, test_per_class=max(1, args.per_class // 3), frames=32,
        size=64, seed=7, kind="redundancy",
    )  # fmt: skip
    runs = {sgs: [run(data, work / f"{int(sgs)}_{s}", s, args.epochs, sgs) for s in seeds] for sgs in (False, True)}
    fixed = runs[True][0]["gmacs_fixed"]
    result: dict = {
        "seeds": seeds,
        "epochs": args.epochs,
        "clip": [32, 56, 56],
        "model": MODEL,
        "bins": BINS,
        "width": 16,
        "models": {
            name: {
                "top1": summary([r["top1"] for r in runs[sgs]]),
                "gmacs": statistics.mean(r["gmacs"] for r in runs[sgs]) if sgs else fixed,
                "train_s": statistics.mean(r["train_s"] for r in runs[sgs]),
            }
            for name, sgs in (("without SGS", False), (f"with SGS (B = {BINS})", True))
        },
    }
    print(result["models"], flush=True)
    main_run = work / f"1_{seeds[0]}"
    rows, latency = kept_bins_and_latency(main_run, work / f"0_{seeds[0]}", data)
    result["bins_vs_moments"] = rows
    result["latency_ms"] = latency
    result["bins_ablation"] = {BINS: runs[True][0]}
    for bins in (4, 8):
        result["bins_ablation"][bins] = run(data, work / f"b{bins}", seeds[0], args.epochs, True, bins)
        print("bins", bins, result["bins_ablation"][bins], flush=True)
    result["test_time_bins"] = {bins: test(main_run, data, {"model": {"sgs_bins": bins}}) for bins in (4, 8)}
    result["test_time_bins"][BINS] = runs[True][0]
    result["threads"] = torch.get_num_threads()
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
