"""An hour of H.264 video to a timeline with EfficientNet-Lite0 + MS-TCN: measured on minutes, extrapolated.

Set-up (not timed): an MS-TCN run at its paper size (4 stages x 10 layers x 64 maps) on 1280-d EfficientNet-Lite0
features at 15 fps, trained for one epoch on four synthetic videos, so that ``predict --video`` extracts as its
training features were; and two H.264 files made by repeating ``bikes.mp4`` (640 x 272, 25 fps) packet for packet
(no re-encoding): a short one (``--short`` seconds) and a long one (``--minutes``).

Timed: ``python -m actionline predict --run RUN --video FILE`` end to end, process start, model and backbone loading,
decoding, extraction and the model's segmentation included, once per file, alternately over ``--rounds``. The
short file's time is the fixed cost; the hour's estimate is that cost plus the long file's extra time per frame
times 54,000 frames (an explicit linear extrapolation: every stage after the start streams frame by frame, and
MS-TCN's time is linear in T). The peak resident memory of each run is recorded too: that it does not grow with
the video's length is what the pipeline promises (frames are never held, only features: 1280 x 4 B per frame).

``--runtime onnxruntime`` runs the backbone as its exported graph in ONNX Runtime (``predict --video
--extract-runtime onnxruntime``). The graph is cached on disk (`engine.graph_cache`), as it is for a user after the
first run: the benchmark points ``ACTIONLINE_CACHE`` at its own folder and fills it with one untimed run on the short
file first (its wall time, export included, is recorded as ``first_run_s``).

Writes ``results/hour_of_video.json`` (torch) or ``results/hour_of_video_onnxruntime.json``.
``python benchmarks/hour_of_video.py [--minutes 3] [--rounds 1] [--runtime onnxruntime]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from actionline.io import atomic_write_text
from extraction import cpu_name
from repeated_clip import repeated

HERE = Path(__file__).resolve().parent
VIDEO = HERE.parents[1] / "shared" / "data" / "videos" / "bikes.mp4"
HOUR = 54_000  # frames at 15 fps


def actionline(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actionline", *args], check=True, capture_output=True, env=env)


def trained_run(work: Path) -> Path:
    data, run = work / "data", work / "run"
    actionline("synth", "videos", "--out", str(data), "--num-videos", "4", "--size", "64", "--fps", "15")
    actionline("extract", str(data / "videos"), "--out", str(data), "--fps", "15")
    actionline("train", "--model", "mstcn", "--data", str(data), "--out", str(run), "--epochs", "1")
    return run


def timed_prediction(run: Path, video: Path, out: Path, runtime: str, env: dict) -> dict:
    """Wall time, frames and peak memory of one ``predict --video`` process, its backbone run by ``runtime``."""
    command = [sys.executable, "-m", "actionline", "predict", "--run", str(run), "--video", str(video)]
    command += ["--out", str(out), "--extract-runtime", runtime]
    log = out.with_suffix(".log")
    with open(log, "wb") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own peak memory
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"predict --video failed on {video}: {log.read_text()[-2000:]}")
    frames = np.load(out / "features" / f"{video.stem}.npy", mmap_mode="r").shape[1]
    return {"wall_s": wall, "frames": int(frames), "peak_rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=3.0, help="length of the long file")
    ap.add_argument("--short", type=float, default=10.0, help="seconds of the short file (the fixed cost)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--runtime", choices=("torch", "onnxruntime"), default="torch", help="the backbone's runtime")
    ap.add_argument("--output", type=Path, help="default: results/hour_of_video[_onnxruntime].json")
    args = ap.parse_args()
    suffix = "" if args.runtime == "torch" else f"_{args.runtime}"
    output = args.output or HERE / "results" / f"hour_of_video{suffix}.json"
    if not VIDEO.is_file():
        raise SystemExit(f"{VIDEO} not found: the benchmark repeats that H.264 clip")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = trained_run(work)
        files = {
            "short": repeated(VIDEO, args.short, work / "short.mp4"),
            "long": repeated(VIDEO, 60 * args.minutes, work / "long.mp4"),
        }
        env = os.environ | {"ACTIONLINE_CACHE": str(work / "cache")}  # the exported graph: this run's own cache
        first = None
        if args.runtime == "onnxruntime":  # untimed: exports the graph into the cache, as a user's first run does
            first = timed_prediction(run, files["short"], work / "first", args.runtime, env)["wall_s"]
            print(f"first run (graph exported and cached): {first:.1f} s", flush=True)
        rounds = []
        for r in range(args.rounds):
            row = {"load_1min": os.getloadavg()[0]}
            for name, video in files.items():
                row[name] = timed_prediction(run, video, work / f"pred{r}{name}", args.runtime, env)
            rounds.append(row)
            print(json.dumps(row), flush=True)
    fixed = statistics.median(r["short"]["wall_s"] for r in rounds)
    per_frame = statistics.median(
        (r["long"]["wall_s"] - r["short"]["wall_s"]) / (r["long"]["frames"] - r["short"]["frames"]) for r in rounds
    )
    result = {
        "video": f"{VIDEO.name} repeated: {args.short:g} s and {args.minutes:g} min",
        "runtime": args.runtime,
        "first_run_s": first,
        "threads": os.environ.get("OMP_NUM_THREADS", "all cores"),
        "cpu": cpu_name(),
        "rounds": rounds,
        "fixed_s": fixed,
        "frames_per_s": 1 / per_frame,
        "hour_minutes": (fixed + per_frame * HOUR) / 60,
        "date": time.strftime("%Y-%m-%d"),
    }
    atomic_write_text(output, json.dumps(result, indent=1))
    print(f"one hour (54,000 frames at 15 fps): {result['hour_minutes']:.1f} min (extrapolated); wrote {output}")


if __name__ == "__main__":
    main()
