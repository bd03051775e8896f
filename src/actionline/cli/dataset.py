"""``actionline dataset``: build a training dataset from a folder of videos and an annotation tool's file."""

from __future__ import annotations

import typer
from rich.console import Console

from actionline.cli import options as o

dataset_app = typer.Typer(help="Build datasets from your own videos and labels.", no_args_is_help=True)


@dataset_app.command("build")
def build(
    video_dir: o.VideoDir,
    annotations: o.AnnotationFile,
    out: o.DatasetOut,
    fmt: o.AnnotationFormat = "auto",
    backbone: o.Backbone = "efficientnet_lite0",
    weights: o.Weights = None,
    fps: o.DatasetFps = 15.0,
    window: o.Window = 21,
    task: o.DatasetTask = "segmentation",
    stride: o.DatasetStride = 16,
    splits: o.FoldCount = 1,
    test_fraction: o.TestFraction = 0.25,
    seed: o.Seed = 0,
    priority: o.Priority = None,
    tier: o.Tier = None,
    tool_fps: o.ToolFps = None,
    latest: o.Latest = False,
    batch_size: o.BatchSize = 16,
    device: o.Device = "auto",
) -> None:
    """Read the annotations, extract features from the annotated videos, write a dataset `train` reads unchanged.

    Example: actionline dataset build videos/ --annotations project.json --out data/mine --fps 15
    Example: actionline dataset build videos/ --annotations eaf/ --format elan --tier actions --out data/mine
    Example: actionline dataset build videos/ --annotations cvat.xml --task detection --out data/mine_det
    """
    from actionline.data.annotations import AnnotationOptions
    from actionline.engine.dataset_builder import BuildSettings, build_dataset

    order = tuple(p.strip() for p in priority.split(",") if p.strip()) if priority else ()
    settings = BuildSettings(
        task=task,  # type: ignore[arg-type]  # checked by BuildSettings.check
        backbone=backbone,
        weights=weights,
        fps=fps,
        window=window,
        stride=stride,
        splits=splits,
        test_fraction=test_fraction,
        seed=seed,
        priority=order,
        batch_size=batch_size,
        device=device,
    )
    options = AnnotationOptions(fps=tool_fps, tier=tier, latest=latest)
    err = Console(stderr=True)
    summary = build_dataset(video_dir, annotations, out, fmt, options, settings, err)
    for line in summary.lines():
        err.print(line, markup=False, highlight=False)
    err.print(f"wrote {out} (summary.json); train with: actionline train --model mstcn --data {out}", markup=False)
