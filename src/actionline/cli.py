"""The ``actionline`` command: synthesise data, train, predict, evaluate, profile, view.

Bad input prints one line (``error: ...``) and exits with status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from actionline.errors import ActionlineError, ConfigError

try:  # typer before 0.2x runs on click; later versions vendor it and derive its errors from TyperException
    from click import ClickException as _UsageError
except ModuleNotFoundError:
    from typer import TyperException as _UsageError

app = typer.Typer(
    help="Turn long, untrimmed videos into timelines of actions.\n\n"
    "Example: actionline synth segmentation --out data/toy && "
    "actionline train --model mstcn --data data/toy --split 1 --out runs/toy --epochs 5",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
synth_app = typer.Typer(help="Write seeded synthetic datasets.", no_args_is_help=True)
app.add_typer(synth_app, name="synth")

err = Console(stderr=True)
out = Console()
STATE = {"debug": False}


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False) -> None:
    STATE["debug"] = debug


# --- synth ------------------------------------------------------------------------------------------------------------
def _write_with_progress(generate, out_dir: Path, **kwargs) -> Path:
    """Run a dataset generator with a transient progress bar over the videos it writes."""
    from rich.progress import Progress

    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("writing videos", total=None)
        return generate(out_dir, progress=lambda i, n: progress.update(task, completed=i, total=n), **kwargs)


@synth_app.command("segmentation")
def synth_segmentation(
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (MS-TCN layout).")],
    num_videos: Annotated[int, typer.Option(help="Videos to generate from the built-in grammar.")] = 40,
    feature_dim: Annotated[int, typer.Option(help="Feature dimension D.")] = 64,
    difficulty: Annotated[float, typer.Option(help="Scales noise, style, drift, confusion (1 = default).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 0,
    splits: Annotated[int, typer.Option(help="Cross-validation splits (grammar data).")] = 4,
    labels_from: Annotated[
        Path | None,
        typer.Option(
            help="Reuse real label sequences, mapping and splits from an MS-TCN folder, e.g. ../shared/data/50salads."
        ),
    ] = None,
    max_videos: Annotated[int | None, typer.Option(help="With --labels-from: keep only this many videos.")] = None,
    length_scale: Annotated[float, typer.Option(help="Scale of grammar segment lengths.")] = 1.0,
) -> None:
    """Synthesise a segmentation dataset with label-conditioned features.

    Example: actionline synth segmentation --out data/salads --labels-from ../shared/data/50salads --feature-dim 64
    """
    from actionline.data.synthetic import synthesize_segmentation

    path = _write_with_progress(
        synthesize_segmentation,
        out_dir,
        num_videos=num_videos,
        feature_dim=feature_dim,
        difficulty=difficulty,
        seed=seed,
        num_splits=splits,
        labels_from=labels_from,
        max_videos=max_videos,
        length_scale=length_scale,
    )
    err.print(f"wrote synthetic dataset to {path}")


@synth_app.command("detection")
def synth_detection(
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (annotations.json + features/).")],
    annotations_from: Annotated[
        Path | None,
        typer.Option(
            help="Real instance timings from an ActivityNet-style or BSN-style file, e.g. "
            "../shared/data/thumos14/annotations/thumos14.json."
        ),
    ] = None,
    subset: Annotated[str | None, typer.Option(help="With --annotations-from: only this subset.")] = None,
    max_videos: Annotated[int | None, typer.Option(help="With --annotations-from: keep this many videos.")] = None,
    num_videos: Annotated[int, typer.Option(help="Generated videos (without --annotations-from).")] = 80,
    num_classes: Annotated[int, typer.Option(help="Generated action classes.")] = 10,
    feature_dim: Annotated[int, typer.Option(help="Feature dimension D.")] = 64,
    difficulty: Annotated[float, typer.Option(help="Scales noise, style, drift, confusion (1 = default).")] = 1.0,
    stride: Annotated[int, typer.Option(help="Video frames per feature (snippet).")] = 16,
    fps: Annotated[float, typer.Option(help="Video frame rate.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 0,
) -> None:
    """Synthesise a temporal action detection dataset with instance-conditioned snippet features.

    Example: actionline synth detection --out data/thumos --annotations-from data/thumos14/annotations/thumos14.json
    """
    from actionline.data.synthetic import synthesize_detection

    path = _write_with_progress(
        synthesize_detection,
        out_dir,
        annotations_from=annotations_from,
        subset=subset,
        max_videos=max_videos,
        num_videos=num_videos,
        num_classes=num_classes,
        feature_dim=feature_dim,
        difficulty=difficulty,
        fps=fps,
        stride=stride,
        seed=seed,
    )
    err.print(f"wrote synthetic detection dataset to {path}")


# --- train ------------------------------------------------------------------------------------------------
def _preset(model: str, dataset: str, config: str | None) -> dict:
    from actionline.config import load_yaml

    if config is not None:
        path = Path(config)
        if path.is_file():
            return load_yaml(path)
        name = config
    else:
        name = f"{model}_{dataset}"
    presets = resources.files("actionline.configs")
    for candidate in (f"{name}.yaml", f"{model}.yaml") if config is None else (f"{name}.yaml",):
        res = presets / candidate
        if res.is_file():
            with resources.as_file(res) as p:
                return load_yaml(p)
    if config is not None:
        known = sorted(p.name[:-5] for p in presets.iterdir() if p.name.endswith(".yaml"))
        raise ConfigError(f"config {config!r} is neither a file nor a preset (presets: {', '.join(known)})")
    return {}


@app.command()
def train(
    model: Annotated[
        str, typer.Option(help="Model name: mstcn, asformer, baformer, rtk, mucon, sct, tags, actionness.")
    ],
    data: Annotated[Path, typer.Option(help="Dataset folder in the MS-TCN layout.")],
    run: Annotated[Path, typer.Option("--out", help="Run folder for checkpoints, config and log.")],
    split: Annotated[int, typer.Option(help="Split number N of splits/train.splitN.bundle.")] = 1,
    epochs: Annotated[int | None, typer.Option(help="Override the preset's number of epochs.")] = None,
    config: Annotated[str | None, typer.Option(help="YAML file or preset name (default: <model>_<dataset>).")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a setting, e.g. --set train.lr=1e-3.")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run in --out from its last checkpoint. With more --epochs or other schedule "
            "settings (--set train.milestones=...) the new learning-rate schedule applies from the resumed epoch."
        ),
    ] = False,
    subset: Annotated[
        str | None, typer.Option(help="Detection: training subset (default: training, or Validation for THUMOS14).")
    ] = None,
    supervision: Annotated[
        str | None,
        typer.Option(
            help="Segmentation labels to learn from: full, transcript (mucon), set (sct) or mixed:P (P% of videos "
            "fully labelled, mucon). Default: the model's own."
        ),
    ] = None,
    annotations: Annotated[
        Path | None, typer.Option(help="Detection: annotation JSON when not DATA/annotations.json.")
    ] = None,
) -> None:
    """Train a model; checkpoints are selected on a validation part of the training data, never the test split.

    Segmentation models (mstcn, asformer, baformer, rtk, mucon, sct) read an MS-TCN folder; detection models
    (tags, actionness) read annotations.json + features/*.npy [T, D] and train on a subset.

    Example: actionline train --model mstcn --data data/toy --split 1 --out runs/mstcn --epochs 20 --set train.lr=1e-3
    Example: actionline train --model tags --config gsmt --data data/anet --out runs/gsmt --epochs 15
    Multi-process: torchrun --nproc_per_node 2 -m actionline train --model mstcn ...
    """

    from actionline.config import parse_overrides
    from actionline.engine.distributed import init_distributed, shutdown
    from actionline.engine.trainer import resolve_device
    from actionline.models.registry import model_class

    overrides = parse_overrides(set_ or [])
    if epochs is not None:
        overrides.setdefault("train", {})["epochs"] = epochs
    if getattr(model_class(model), "task", "segmentation") == "detection":
        from actionline.data.detection import DetectionData
        from actionline.engine import detection

        dataset = DetectionData(data, annotations)
        settings = detection.resolve_settings(model, _preset(model, "", config), overrides)

        def run_training(dist):
            return detection.train_detection(model, dataset, subset, run, settings, resume, dist, err)
    else:
        from actionline.data.layout import SegmentationData
        from actionline.engine.segmentation import resolve_settings, train_segmentation

        dataset = SegmentationData(data)
        preset = _preset(model, dataset.info.name.removeprefix("synthetic-"), config)
        settings = resolve_settings(model, preset, overrides)

        def run_training(dist):
            return train_segmentation(
                model, dataset, split, run, settings, resume=resume, dist=dist, console=err, supervision=supervision
            )

    device = resolve_device(settings.get("train", {}).get("device", "auto"))
    dist = init_distributed(device)
    try:
        best = run_training(dist)
    finally:
        shutdown(dist)
    if dist.is_main:
        chosen = (
            f"best epoch {best.get('epoch')} ({best.get('metric')} {best.get('value', float('nan')):.2f})"
            if best.get("metric")
            else f"no validation part, so best = last epoch ({best.get('epoch')})"
        )
        err.print(f"{chosen}; checkpoints in {run / 'checkpoints'}")


# --- predict ----------------------------------------------------------------------------------------------
@app.command()
def predict(
    run: Annotated[Path, typer.Option(help="Run folder written by `actionline train` (or a checkpoint file).")],
    data: Annotated[Path, typer.Option(help="Dataset folder with features/ and mapping.txt.")],
    pred: Annotated[Path, typer.Option("--out", help="Output folder for label files and timelines.json.")],
    split: Annotated[int, typer.Option(help="Predict the test videos of this split.")] = 1,
    all_videos: Annotated[bool, typer.Option("--all", help="Predict every features/*.npy instead of a split.")] = False,
    checkpoint: Annotated[str, typer.Option(help="Which checkpoint: best or last.")] = "best",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Inference-time model setting, e.g. --set model.voting=frame (BaFormer Table 3)."),
    ] = None,
    subset: Annotated[
        str | None, typer.Option(help="Detection: subset to detect (default: validation, or Test for THUMOS14).")
    ] = None,
    annotations: Annotated[
        Path | None, typer.Option(help="Detection: annotation JSON when not DATA/annotations.json.")
    ] = None,
    video_scores: Annotated[
        Path | None,
        typer.Option(help="Detection, optional: JSON {video: {class: score}} of external video-level class scores."),
    ] = None,
) -> None:
    """Segmentation: frame labels at full frame rate (MS-TCN files, one per video) plus timelines.json.
    Detection: results.json (ActivityNet submission format, seconds) plus timelines.json.

    Example: actionline predict --run runs/mstcn --data data/toy --split 1 --out preds/mstcn
    Example: actionline predict --run runs/baformer --data data/toy --out preds/gt --set model.boundaries=ground_truth
    Example: actionline predict --run runs/gsmt --data data/anet --subset validation --out preds/gsmt
    """
    from actionline.config import parse_overrides
    from actionline.data.layout import SegmentationData
    from actionline.engine.predictor import predict_segmentation

    if checkpoint not in ("best", "last"):
        raise ConfigError(f"--checkpoint must be best or last, got {checkpoint!r}")
    if annotations is not None or ((data / "annotations.json").is_file() and not (data / "mapping.txt").is_file()):
        _predict_detection(run, data, pred, checkpoint, set_, subset, annotations, video_scores, all_videos)
        return
    dataset = SegmentationData(data)
    if all_videos:
        videos = sorted(p.stem for p in (dataset.root / "features").glob("*.npy"))
        if not videos:
            raise ActionlineError(f"{dataset.root / 'features'}: no .npy feature files")
    else:
        videos = dataset.split("test", split)
    overrides = parse_overrides(set_ or [])
    unknown = sorted(set(overrides) - {"model"})
    if unknown:
        raise ConfigError(f"predict --set only takes model.* settings, got {', '.join(unknown)}")
    timelines = predict_segmentation(run, dataset, videos, pred, which=checkpoint, overrides=overrides.get("model"))
    err.print(f"wrote {len(timelines)} predictions to {pred}")


def _predict_detection(run, data, pred, checkpoint, set_, subset, annotations, video_scores, all_videos) -> None:
    from actionline.config import parse_overrides
    from actionline.data.detection import DetectionData
    from actionline.engine.detection import predict_detection
    from actionline.io import read_json

    dataset = DetectionData(data, annotations)
    if all_videos:
        videos = sorted(v for v in dataset.annotations.durations if (dataset.root / "features" / f"{v}.npy").is_file())
    else:
        videos = dataset.videos(subset or dataset.default_subsets()[1])
    overrides = parse_overrides(set_ or [])
    if sorted(set(overrides) - {"model"}):
        raise ConfigError("predict --set only takes model.* settings")
    scores = read_json(video_scores) if video_scores is not None else None
    found = predict_detection(
        run, dataset, videos, pred, checkpoint, overrides=overrides.get("model"), video_scores=scores
    )
    err.print(f"wrote {len(found)} detections in {len(videos)} videos to {pred / 'results.json'}")


# --- evaluate ---------------------------------------------------------------------------------------------
@app.command()
def evaluate(
    pred: Annotated[
        Path,
        typer.Option(
            help="Segmentation: prediction folder or timelines.json. Detection: a "
            "submission JSON ({'results': {video: [{segment, label, score}]}})."
        ),
    ],
    data: Annotated[
        Path | None, typer.Option(help="Segmentation: dataset folder (groundTruth/, mapping, splits).")
    ] = None,
    split: Annotated[int, typer.Option(help="Segmentation: evaluate the test videos of this split.")] = 1,
    background: Annotated[
        list[str] | None,
        typer.Option(
            help="Segmentation: label excluded from Edit/F1 and MoF-BG; repeat for several. Default: 'background' "
            "(as the MS-TCN script). Use --background none to exclude nothing."
        ),
    ] = None,
    gt: Annotated[
        Path | None,
        typer.Option(
            help="Detection: ground truth, ActivityNet-style ('database') or "
            "BSN-style JSON (video_info_new.csv beside it gives subsets)."
        ),
    ] = None,
    subset: Annotated[str | None, typer.Option(help="Detection: only videos of this subset, e.g. validation.")] = None,
    tiou: Annotated[
        str | None,
        typer.Option(
            help="Detection: thresholds start:stop:step or a list; default "
            "0.3:0.7:0.1 (THUMOS) or 0.5:0.95:0.05 with --subset."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    task: Annotated[str, typer.Option(help="segmentation or detection.")] = "segmentation",
) -> None:
    """Score predictions. Segmentation: Acc, Edit, F1@{10,25,50} and more at full frame rate (MS-TCN conventions).
    Detection: mAP per tIoU threshold and its average (ActivityNet evaluator semantics).

    Example: actionline evaluate --pred preds/mstcn --data data/toy --split 1 --json
    Example: actionline evaluate --task detection --pred results.json --gt thumos14.json --subset Test --json
    """
    if task == "detection":
        _evaluate_detection(pred, gt, subset, tiou, as_json)
    elif task == "segmentation":
        if data is None:
            raise ActionlineError("--data is required for segmentation evaluation")
        _evaluate_segmentation(pred, data, split, background, as_json)
    else:
        raise ConfigError(f"--task must be segmentation or detection, got {task!r}")


def _evaluate_segmentation(pred: Path, data: Path, split: int, background: list[str] | None, as_json: bool) -> None:
    import numpy as np

    from actionline.data.layout import SegmentationData
    from actionline.data.predictions import read_predictions
    from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation

    dataset = SegmentationData(data)
    bg = tuple(background) if background else ("background",)
    if bg == ("none",):
        bg = ()
    elif background:
        unknown_bg = [b for b in bg if b not in dataset.class_index]
        if unknown_bg:
            raise ActionlineError(f"--background {unknown_bg[0]!r} is not a class of {dataset.root / 'mapping.txt'}")
    videos = dataset.split("test", split)
    preds = read_predictions(pred, videos)
    pred_idx = []
    for v in videos:
        try:
            pred_idx.append(
                np.fromiter((dataset.class_index[x] for x in preds[v]), dtype=np.int64, count=len(preds[v]))
            )
        except KeyError as exc:
            raise ActionlineError(
                f"prediction of {v} uses label {exc.args[0]!r}, which is not in mapping.txt"
            ) from None
    gts = [dataset.labels(v) for v in videos]
    scores = evaluate_segmentation(pred_idx, gts, SegmentationSettings(background=bg), videos, dataset.classes)
    if as_json:
        print(json.dumps(scores.as_dict()))
        return
    out.print(f"[bold]{scores.headline()}[/bold]")
    out.print(
        f"MoF-BG {scores.acc_no_bg:.1f}  matching {scores.matching:.1f}  IoU {scores.iou:.1f}  "
        f"IoD {scores.iod:.1f}  ({scores.num_videos} videos, {scores.num_frames} frames)"
    )
    out.print(f"settings: {scores.settings.describe()}", markup=False)


def _evaluate_detection(pred: Path, gt: Path | None, subset: str | None, tiou: str | None, as_json: bool) -> None:
    from actionline.data.instances import read_annotations, read_submission
    from actionline.metrics.detection import ACTIVITYNET_TIOU, THUMOS_TIOU, evaluate_detection, parse_thresholds

    if gt is None:
        raise ActionlineError("--gt is required for detection evaluation")
    annotations = read_annotations(gt).select(subset)
    thresholds = (
        parse_thresholds(tiou)
        if tiou
        else (ACTIVITYNET_TIOU if subset and subset.lower() in ("validation", "training", "testing") else THUMOS_TIOU)
    )
    preds = read_submission(pred)  # predictions on videos without ground truth count as false positives
    scores = evaluate_detection(annotations.instances, preds, thresholds)
    if as_json:
        print(json.dumps(scores.as_dict()))
        return
    out.print(f"[bold]{scores.headline()}[/bold]")
    out.print(
        f"{len(annotations.classes)} classes, {scores.num_videos} videos, {scores.num_predictions} predictions; "
        "AP averaged over classes in the ground truth, all-point interpolation",
        markup=False,
    )


# --- export -----------------------------------------------------------------------------------------------------
@app.command()
def export(
    pred: Annotated[Path, typer.Option(help="timelines.json written by `actionline predict`.")],
    out_path: Annotated[Path, typer.Option("--out", help="CSV file, or a folder for one .srt per video.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or srt.")] = "csv",
    fps: Annotated[float | None, typer.Option(help="Frames per second, when the timelines carry none.")] = None,
    skip: Annotated[list[str] | None, typer.Option(help="SRT: labels to leave out (repeat), e.g. background.")] = None,
) -> None:
    """Export predicted timelines as a CSV table of segments or as SRT subtitles (one file per video).

    Example: actionline export --pred preds/mstcn/timelines.json --format srt --skip background --out subtitles/
    """
    from actionline.export import to_csv, to_srt
    from actionline.io import atomic_write_text
    from actionline.timeline import load_timelines

    timelines = load_timelines(pred)
    if fmt == "csv":
        atomic_write_text(out_path, to_csv(timelines, fps))
    elif fmt == "srt":
        for tl in timelines:
            atomic_write_text(out_path / f"{tl.video}.srt", to_srt(tl, fps, skip or ()))
    else:
        raise ConfigError(f"--format must be csv or srt, got {fmt!r}")
    err.print(f"wrote {len(timelines)} timelines to {out_path}")


# --- profile ----------------------------------------------------------------------------------------------
@app.command()
def profile(
    model: Annotated[str, typer.Argument(help="Model name.")],
    input_dim: Annotated[int, typer.Option(help="Feature dimension D.")] = 2048,
    num_classes: Annotated[int, typer.Option(help="Number of classes K.")] = 19,
    length: Annotated[int, typer.Option(help="Input length T in frames.")] = 5750,
    repeats: Annotated[int, typer.Option(help="Timed repetitions (median reported).")] = 5,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Model setting, e.g. --set num_stages=2.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Parameters, GMACs (conv + linear, as the papers count), latency (median) and peak memory.

    Example: actionline profile asformer --input-dim 2048 --num-classes 19 --length 5750 --json
    """
    from actionline.config import parse_overrides
    from actionline.engine.profiler import profile_model

    settings = parse_overrides(set_ or [])
    p = profile_model(model, input_dim, num_classes, length, repeats, device, settings)
    if as_json:
        print(json.dumps(p.as_dict()))
        return
    out.print(
        f"[bold]{model}[/bold]: {p.params:,} parameters, {p.gmacs:.2f} GMACs (conv+linear; "
        f"{p.gmacs_total:.2f} with attention products), latency {p.latency_ms:.1f} ms, "
        f"peak memory {p.peak_mem_mb:.0f} MB  [T={length}, {p.device}, {p.threads} threads]"
    )


# --- view -------------------------------------------------------------------------------------------------
@app.command()
def view(
    pred: Annotated[Path, typer.Option(help="Prediction folder or timelines.json.")],
    data: Annotated[Path, typer.Option(help="Dataset folder (for ground truth and class names).")],
    image: Annotated[Path, typer.Option("--out", help="Output image (.png).")],
    videos: Annotated[list[str] | None, typer.Argument(help="Videos to draw (default: first of the split).")] = None,
    split: Annotated[int, typer.Option(help="Split whose test videos are drawn when none are named.")] = 1,
    max_videos: Annotated[int, typer.Option(help="At most this many videos when none are named.")] = 6,
) -> None:
    """Draw ground truth and predictions per video, one colour per class, with a legend. Segmentation: colour
    bars; detection (a results.json as --pred): instances on a seconds axis, the best predictions with scores.

    Example: actionline view --pred preds/mstcn --data data/toy --out timelines.png video_0003 video_0007
    Example: actionline view --pred preds/gsmt/results.json --data data/anet --out detections.png
    """
    import numpy as np

    from actionline.data.layout import SegmentationData

    if pred.suffix == ".json" and pred.name != "timelines.json":
        _view_detection(pred, data, image, videos, max_videos)
        return
    from actionline.data.predictions import read_predictions
    from actionline.timeline import Timeline
    from actionline.viz.timeline_plot import plot_timelines

    dataset = SegmentationData(data)
    names = list(videos) if videos else dataset.split("test", split)[:max_videos]
    preds = read_predictions(pred, names)
    rows = []
    for v in names:
        gt_path = dataset.root / "groundTruth" / f"{v}.txt"
        gt = Timeline.from_labels(v, dataset.labels(v), dataset.classes) if gt_path.is_file() else None
        p = np.fromiter((dataset.class_index.get(x, -1) for x in preds[v]), dtype=np.int64)
        if (p < 0).any():
            raise ActionlineError(f"prediction of {v} uses labels not in mapping.txt")
        rows.append((v, gt, Timeline.from_labels(v, p, dataset.classes)))
    path = plot_timelines(rows, dataset.classes, image, background=dataset.info.background)
    err.print(f"wrote {path}")


def _view_detection(pred: Path, data: Path, image: Path, videos: list[str] | None, max_videos: int) -> None:
    from actionline.data.detection import DetectionData
    from actionline.data.instances import read_submission
    from actionline.viz.timeline_plot import plot_detections

    dataset = DetectionData(data)
    preds = read_submission(pred)
    by_video: dict[str, list] = {}
    for p in preds:
        by_video.setdefault(p.video, []).append(p)
    names = list(videos) if videos else sorted(by_video)[:max_videos]
    missing = [v for v in names if v not in dataset.annotations.durations]
    if missing:
        raise ActionlineError(f"videos not in the annotation file: {', '.join(missing[:5])}")
    rows = [(v, dataset.duration(v), dataset.instances(v), by_video.get(v, [])) for v in names]
    err.print(f"wrote {plot_detections(rows, dataset.classes, image)}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; bad input becomes one line on stderr and exit status 2."""
    try:
        app(args=argv, standalone_mode=False)
    except (ActionlineError, NotImplementedError) as exc:
        if STATE["debug"]:
            raise
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: checkpoints already written are intact; continue with --resume")
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    except _UsageError as exc:  # unknown option, missing argument, bad value: click's message and status 2
        if hasattr(exc, "show"):
            exc.show()
        else:
            err.print(f"error: {exc}", highlight=False, markup=False)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
