"""``make demo``: the whole flow on built-in synthetic data, through the real command line.

Features: synthesise a small grammar dataset -> train MS-TCN for about two minutes on the CPU -> predict the test
split -> evaluate -> draw the timelines. Video: write real MP4 files of synthetic activities -> extract
EfficientNet-Lite0 features (ImageNet weights that ship with a package, offline) -> train MS-TCN on them ->
``predict --video`` on a held-out file -> a timeline (JSON, CSV, SRT, PNG). Own labels: a Label Studio file of
the videos' labels -> ``dataset build`` -> train -> ``predict --video --format labelstudio`` (pre-annotations to
correct in Label Studio). Then print where everything is.
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
    videos, video_run, video_pred = out / "videos", out / "video_run", out / "video_prediction"
    own, own_run, own_pred = out / "own_data", out / "own_run", out / "own_prediction"
    for old in (
        run_dir,
        pred,
        videos,
        video_run,
        video_pred,
        own,
        own_run,
        own_pred,
    ):  # the demo owns these folders: start afresh
        shutil.rmtree(old, ignore_errors=True)
    started = time.monotonic()
    steps = [
        (
            "1/12 synthesise a dataset (built-in activity grammar, 64-d features)",
            ["synth", "segmentation", "--out", str(data), "--num-videos", "48", "--feature-dim", "64"],
        ),
        (
            f"2/12 train MS-TCN on split 1 (at most {args.minutes:g} min)",
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
            "3/12 predict the test videos of split 1",
            ["predict", "--run", str(run_dir), "--data", str(data), "--split", "1", "--out", str(pred)],
        ),
        ("4/12 evaluate (MS-TCN script conventions)", ["evaluate", "--pred", str(pred), "--data", str(data)]),
        (
            "5/12 draw ground truth vs prediction",
            ["view", "--pred", str(pred), "--data", str(data), "--out", str(figure)],
        ),
        (
            "6/12 write real MP4 videos of synthetic activities (with frame labels)",
            ["synth", "videos", "--out", str(videos), "--num-videos", "10"],
        ),
        (
            "7/12 extract EfficientNet-Lite0 features (pretrained, offline) at 15 fps",
            ["extract", str(videos / "videos"), "--out", str(videos), "--fps", "15"],
        ),
        (
            "8/12 train MS-TCN on the video features",
            [*("train", "--model", "mstcn", "--data", str(videos)), "--out", str(video_run), "--epochs", "25"],
        ),
        (
            "9/12 predict --video: a held-out video file to a timeline",
            [
                *("predict", "--run", str(video_run), "--out", str(video_pred)),
                "--video",
                str(videos / "videos" / "video_009.mp4"),
            ],
        ),
    ]
    labels = own / "labelstudio.json"
    held_out = videos / "videos" / "video_009.mp4"
    steps += [
        (
            "10/12 dataset build: the videos + a Label Studio file of their labels (features of step 7 resume)",
            [
                *("dataset", "build", str(videos / "videos"), "--annotations", str(labels)),
                "--out",
                str(own),
                "--fps",
                "15",
            ],
        ),
        (
            "11/12 train MS-TCN on it",
            ["train", "--model", "mstcn", "--data", str(own), "--out", str(own_run), "--epochs", "25"],
        ),
        (
            "12/12 predict --video --format labelstudio: pre-annotations to correct in Label Studio",
            [
                "predict",
                "--run",
                str(own_run),
                "--video",
                str(held_out),
                "--out",
                str(own_pred),
                "--format",
                "labelstudio",
            ],
        ),
    ]
    for i, (title, argv_) in enumerate(steps):
        if i == 9:
            label_studio_file(videos, labels)
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
        f"  figure       {figure}\n"
        f"  videos       {videos}  (videos/*.mp4, features/ from EfficientNet-Lite0, groundTruth/)\n"
        f"  video run    {video_run}\n"
        f"  timeline     {video_pred}  (timelines.json, timelines.csv, srt/, timelines.png)\n"
        f"  own data     {own}  (built from {labels}; summary.json)\n"
        f"  to correct   {own_pred / 'labelstudio.json'}  (import into Label Studio; docs/own-data.md)"
    )
    return 0


def label_studio_file(videos: Path, path: Path) -> None:
    """The labels of the synthetic videos as a Label Studio file (what a person's labelling would export), and the
    features already extracted from them, so that ``dataset build`` resumes instead of decoding again."""
    from actionline.data.annotations import AnnotationOptions, read_annotation_file, write_annotation_file

    timelines = read_annotation_file(videos, "mstcn").timelines
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(videos / "features", path.parent / "features")
    shutil.copy(videos / "extraction.json", path.parent / "extraction.json")
    write_annotation_file(timelines, path, "labelstudio", AnnotationOptions(skip_labels=frozenset({"background"})))


if __name__ == "__main__":
    sys.exit(run())
