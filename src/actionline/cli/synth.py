"""``actionline synth``: seeded synthetic datasets (segmentation features, detection features, real MP4 videos for
segmentation and for clip classification)."""

from __future__ import annotations

import typer
from rich.console import Console

from actionline.cli import options as o

synth_app = typer.Typer(help="Write seeded synthetic datasets.", no_args_is_help=True)


def _write_with_progress(generate, settings: dict) -> None:
    """Run a dataset generator (``settings`` = the command's options) with a transient progress bar."""
    from rich.progress import Progress

    err = Console(stderr=True)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("writing videos", total=None)
        path = generate(progress=lambda i, n: progress.update(task, completed=i, total=n), **settings)
    err.print(f"wrote synthetic dataset to {path}", markup=False)


@synth_app.command("segmentation")
def synth_segmentation(
    out: o.Out,
    num_videos: o.GrammarVideos = 40,
    feature_dim: o.FeatureDim = 64,
    difficulty: o.Difficulty = 1.0,
    seed: o.Seed = 0,
    num_splits: o.Splits = 4,
    labels_from: o.LabelsFrom = None,
    max_videos: o.MaxVideos = None,
    length_scale: o.LengthScale = 1.0,
) -> None:
    """Synthesise a segmentation dataset (MS-TCN layout) with label-conditioned features.

    Example: actionline synth segmentation --out data/salads --labels-from ../shared/data/50salads --feature-dim 64
    """
    settings = dict(locals())  # the options, named as the generator's arguments
    from actionline.data.synthetic.features import synthesize_segmentation

    _write_with_progress(synthesize_segmentation, settings)


@synth_app.command("detection")
def synth_detection(
    out: o.Out,
    annotations_from: o.AnnotationsFrom = None,
    subset: o.FromSubset = None,
    max_videos: o.MaxVideos = None,
    num_videos: o.DetectionVideos = 80,
    num_classes: o.NumClasses = 10,
    feature_dim: o.FeatureDim = 64,
    difficulty: o.Difficulty = 1.0,
    stride: o.SnippetStride = 16,
    fps: o.VideoFps = 30.0,
    seed: o.Seed = 0,
) -> None:
    """Synthesise a detection dataset (annotations.json + features/) with instance-conditioned snippet features.

    Example: actionline synth detection --out data/thumos --annotations-from data/thumos14/annotations/thumos14.json
    """
    settings = dict(locals())  # the options, named as the generator's arguments
    from actionline.data.synthetic.features import synthesize_detection

    _write_with_progress(synthesize_detection, settings)


@synth_app.command("videos")
def synth_videos(
    out: o.Out,
    num_videos: o.SynthVideos = 12,
    fps: o.VideoFps = 15.0,
    size: o.FrameSize = 128,
    seed: o.Seed = 0,
) -> None:
    """Write real MP4 videos of synthetic activities with frame labels (MS-TCN layout around videos/).

    Example: actionline synth videos --out data/clips && actionline extract data/clips/videos --out data/clips
    """
    settings = dict(locals())
    from actionline.data.synthetic.video import synthesize_video_segmentation

    _write_with_progress(synthesize_video_segmentation, settings)


@synth_app.command("clips")
def synth_clips(
    out: o.Out,
    train_per_class: o.TrainPerClass = 24,
    test_per_class: o.TestPerClass = 8,
    frames: o.ClipFrames = 32,
    fps: o.VideoFps = 15.0,
    size: o.FrameSize = 64,
    seed: o.Seed = 0,
    kind: o.ClipSetKind = "motion",
) -> None:
    """Write a clip-classification set of real MP4 files (train.csv / test.csv) whose classes only motion or
    temporal order tells apart: direction, speed, order of two colour events. (For segmentation videos with frame
    labels see `synth videos`.) --kind redundancy: a shape stepping through K held positions (K in the CSVs), for
    SGS.

    Example: actionline synth clips --out data/motion
    Example: actionline train --model stc_resnet3d_18 --data data/motion --out runs/stc --config motion
    """
    settings = dict(locals())
    from actionline.data.synthetic.clips import synthesize_video_classification

    _write_with_progress(synthesize_video_classification, settings)


@synth_app.command("video", deprecated=True)
def synth_video(
    out: o.Out,
    train_per_class: o.TrainPerClass = 24,
    test_per_class: o.TestPerClass = 8,
    frames: o.ClipFrames = 32,
    fps: o.VideoFps = 15.0,
    size: o.FrameSize = 64,
    seed: o.Seed = 0,
    kind: o.ClipSetKind = "motion",
) -> None:
    """The old name of `synth clips` (kept for one release; it was easy to confuse with `synth videos`)."""
    Console(stderr=True).print(
        "warning: `actionline synth video` is deprecated and will be removed; use `actionline synth clips`",
        markup=False,
    )
    synth_clips(**locals())


@synth_app.command("hvu")
def synth_hvu(
    out: o.Out,
    train: o.HVUTrain = 160,
    val: o.HVUVal = 60,
    frames: o.ClipFrames = 16,
    fps: o.VideoFps = 8.0,
    size: o.FrameSize = 64,
    seed: o.Seed = 0,
) -> None:
    """Write an "HVU-lite" in the HVU format (tag CSVs + MP4 clips): tags in all six categories (scene, object,
    action, event, attribute, concept), multi-label, some categories unlabelled for some clips.

    Example: actionline synth hvu --out data/hvu && actionline train --model tagger --data data/hvu --out runs/tags
    """
    settings = dict(locals())
    from actionline.data.synthetic.hvu import synthesize_hvu

    _write_with_progress(synthesize_hvu, settings)
