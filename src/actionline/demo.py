"""``make demo``: the whole flow on built-in synthetic data, through the real command line.

synthesise a small grammar dataset -> train MS-TCN for about two minutes on the CPU -> predict the test split
-> evaluate -> draw the timelines -> print where everything is.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console

from actionline.cli import main as cli


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo_out", help="folder for data, run, predictions and figure")
    parser.add_argument("--minutes", type=float, default=2.0, help="training time budget")
    parser.add_argument("--epochs", type=int, default=80, help="at most this many epochs")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    out = Path(args.out)
    data, run_dir, pred, figure = out / "data", out / "run", out / "predictions", out / "timelines.png"
    for old in (run_dir, pred):  # the demo owns these folders: start each demo afresh
        shutil.rmtree(old, ignore_errors=True)
    started = time.monotonic()
    steps = [
        (
            "1/5 synthesise a dataset (built-in activity grammar, 64-d features)",
            ["synth", "segmentation", "--out", str(data), "--num-videos", "48", "--feature-dim", "64"],
        ),
        (
            f"2/5 train MS-TCN on split 1 (at most {args.minutes:g} min)",
            [
                "train",
                "--model",
                "mstcn",
                "--data",
                str(data),
                "--split",
                "1",
                "--out",
                str(run_dir),
                "--epochs",
                str(args.epochs),
                "--set",
                f"train.max_minutes={args.minutes}",
                "--set",
                "train.lr=0.001",
            ],
        ),
        (
            "3/5 predict the test videos of split 1",
            ["predict", "--run", str(run_dir), "--data", str(data), "--split", "1", "--out", str(pred)],
        ),
        ("4/5 evaluate (MS-TCN script conventions)", ["evaluate", "--pred", str(pred), "--data", str(data)]),
        (
            "5/5 draw ground truth vs prediction",
            ["view", "--pred", str(pred), "--data", str(data), "--out", str(figure)],
        ),
    ]
    for title, argv_ in steps:
        console.rule(f"[bold]{title}")
        code = cli(argv_)
        if code != 0:
            return code
    console.rule("[bold green]done")
    console.print(
        f"finished in {time.monotonic() - started:.0f} s\n"
        f"  data         {data}  (MS-TCN layout)\n"
        f"  run          {run_dir}  (config.yaml, log.jsonl, checkpoints/best.pt, last.pt)\n"
        f"  predictions  {pred}  (one MS-TCN file per video + timelines.json)\n"
        f"  figure       {figure}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run())
