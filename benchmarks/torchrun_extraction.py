"""Extraction under ``torchrun --nproc_per_node N`` against one process, in interleaved rounds.

N copies of ``bikes.mp4`` (H.264, 10 s) extracted with EfficientNet-Lite0 at 15 fps, end to end (process start
included), per round both ways and in alternating order, so that a change of the machine's load between the two
falls on both alike:
- one process with N threads (``OMP_NUM_THREADS=N``);
- ``torchrun --nproc_per_node N``, each process 1 thread and its share of the videos.
Speed-up = one process's time / torchrun's (medians over rounds); per process = speed-up / N. On N cores the
ideal is about 1 per process only when one process cannot keep N cores busy (the per-operator synchronisation of
its threads); every process also pays its own start and model load.

Writes ``results/torchrun_extraction.json``.  ``python benchmarks/torchrun_extraction.py [--rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from actionline.io import atomic_write_text
from extraction import VIDEO, cpu_name

HERE = Path(__file__).resolve().parent


def timed(command: list[str], threads: int) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return time.perf_counter() - started


def one_round(folder: Path, work: Path, processes: int, torchrun_first: bool) -> dict:
    extract = ["-m", "actionline", "extract", str(folder), "--fps", "15"]
    single = [sys.executable, *extract, "--out", str(work / "one")]
    many = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes), *extract]
    many += ["--out", str(work / "many")]
    runs = [("torchrun_s", many, 1), ("one_process_s", single, processes)]
    row = {"load_1min": os.getloadavg()[0], "torchrun_first": torchrun_first}
    for key, command, threads in runs if torchrun_first else runs[::-1]:
        row[key] = timed(command, threads)
    for out in ("one", "many"):
        shutil.rmtree(work / out)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--output", type=Path, default=HERE / "results" / "torchrun_extraction.json")
    args = ap.parse_args()
    if not VIDEO.is_file():
        raise SystemExit(f"{VIDEO} not found: the benchmark extracts copies of that H.264 clip")
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "copies"
        folder.mkdir()
        for i in range(args.processes):
            shutil.copy(VIDEO, folder / f"copy{i}{VIDEO.suffix}")
        for r in range(args.rounds):
            rounds.append(one_round(folder, Path(tmp), args.processes, torchrun_first=r % 2 == 0))
            print(json.dumps(rounds[-1]), flush=True)
    one = statistics.median(r["one_process_s"] for r in rounds)
    many = statistics.median(r["torchrun_s"] for r in rounds)
    result = {
        "processes": args.processes,
        "videos": f"{args.processes} copies of {VIDEO.name} at 15 fps",
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "rounds": rounds,
        "one_process_s": one,
        "torchrun_s": many,
        "speedup": one / many,
        "speedup_per_process": one / many / args.processes,
        "date": time.strftime("%Y-%m-%d"),
    }
    atomic_write_text(args.output, json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}))


if __name__ == "__main__":
    main()
