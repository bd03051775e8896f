"""The ``actionline`` command: synthesise data, train, predict, evaluate, export, profile, view.

Thin commands: options (declared in `cli.options`) go to `cli.commands`, which picks the task; nothing here
branches on it.
Bad input prints one line (``error: ...``) and exits with status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from actionline.cli import options as o
from actionline.cli.dataset import dataset_app
from actionline.cli.deploy import export_model, package
from actionline.cli.synth import synth_app
from actionline.engine.allocator import tune_allocator
from actionline.engine.run_record import ExtractionSettings
from actionline.errors import ActionlineError

_UsageError: tuple[type[Exception], ...] = ()  # typer before 0.2x raises click's errors; later versions vendor click
try:  # and derive its errors from TyperException (a separately installed click is then not the one raising)
    from typer import TyperException

    _UsageError += (TyperException,)
except ImportError:
    pass
try:
    from click import ClickException

    _UsageError += (ClickException,)
except ModuleNotFoundError:
    pass

app = typer.Typer(
    help="Turn long, untrimmed videos into timelines of actions.\n\n"
    "Example: actionline synth segmentation --out data/toy && "
    "actionline train --model mstcn --data data/toy --split 1 --out runs/toy --epochs 5",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(synth_app, name="synth")
app.add_typer(dataset_app, name="dataset")
app.command("package")(package)
app.command("export-model")(export_model)

err = Console(stderr=True)
out = Console()
STATE = {"debug": False, "interrupted": "interrupted"}  # "interrupted": what `main` prints on Ctrl-C, set by a command
RESUMABLE = "interrupted: checkpoints already written are intact; continue with --resume"


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False) -> None:
    STATE["debug"] = debug
    tune_allocator()  # keep freed feature maps for reuse (engine/allocator.py; ACTIONLINE_ALLOCATOR=default: off)


# --- train / predict ---------------------------------------------------------------------------------------
@app.command()
def train(
    model: o.Model,
    data: o.Data,
    run: o.RunOut,
    split: o.Split = 1,
    epochs: o.Epochs = None,
    config: o.Config = None,
    set_: o.Set = None,
    resume: o.Resume = False,
    subset: o.Subset = None,
    supervision: o.Supervision = None,
    annotations: o.Annotations = None,
) -> None:
    """Train a model; checkpoints are selected on a validation part of the training data, never the test split.

    The model decides the task (--model lists them by task). Segmentation models read an MS-TCN folder; detection
    models read annotations.json + features/*.npy [T, D]; classification models read a clip dataset of video files
    (train.csv / test.csv, or UCF101 lists); tagging models an HVU folder; `pretrain` takes unlabeled videos.

    Example: actionline train --model mstcn --data data/toy --split 1 --out runs/mstcn --epochs 20 --set train.lr=1e-3
    Example: actionline train --model tags --config gsmt --data data/anet --out runs/gsmt --epochs 15
    Multi-process: torchrun --nproc_per_node 2 -m actionline train --model mstcn ...
    """
    from actionline.cli import commands
    from actionline.cli.commands import TaskOptions
    from actionline.config import add_option, parse_overrides

    overrides = parse_overrides(set_ or [])
    if epochs is not None:
        add_option(overrides, "train", "epochs", epochs, "--epochs")
    options = TaskOptions(split=split, subset=subset, annotations=annotations, supervision=supervision)
    STATE["interrupted"] = RESUMABLE
    best, is_main = commands.train(model, data, run, options, config, overrides, resume, err)
    if is_main:
        chosen = (
            f"best epoch {best.get('epoch')} ({best.get('metric')} {best.get('value', float('nan')):.2f})"
            if best.get("metric")
            else f"no validation part, so best = last epoch ({best.get('epoch')})"
        )
        err.print(f"{chosen}; checkpoints in {run / 'checkpoints'}", markup=False)


@app.command()
def pretrain(
    data: o.VideoData,
    run: o.RunOut,
    method: o.Method = "transfer",
    student: o.Student = "stc_resnet3d_18",
    teacher: o.Teacher = "efficientnet_lite0",
    teacher_weights: o.TeacherWeights = None,
    epochs: o.Epochs = None,
    config: o.Config = None,
    set_: o.Set = None,
    resume: o.Resume = False,
) -> None:
    """Pre-train a 3D network without labels. transfer: a frozen 2D ImageNet network teaches it which frames and
    clips show the same moment (dissertation Sec. 4.3); then fine-tune: train --set model.init=<this run>.

    Example: actionline pretrain --data data/motion/videos --out runs/pre --student stc_resnet3d_18 --config motion
    Example: actionline train --model stc_resnet3d_18 --data data/motion --out runs/ft --config motion
             --set model.init=runs/pre
    """
    from actionline.cli import commands
    from actionline.cli.commands import TaskOptions
    from actionline.config import add_option, parse_overrides

    if method != "transfer":
        raise ActionlineError(f"--method must be transfer, got {method!r}")
    overrides = parse_overrides(set_ or [])
    model_settings = overrides.setdefault("model", {})
    model_settings.update(student=student, teacher=teacher)
    if teacher_weights is not None:
        model_settings["teacher_weights"] = str(teacher_weights)
    if epochs is not None:
        add_option(overrides, "train", "epochs", epochs, "--epochs")
    STATE["interrupted"] = RESUMABLE
    best, is_main = commands.train("transfer", data, run, TaskOptions(), config, overrides, resume, err)
    if is_main:
        err.print(f"best epoch {best.get('epoch')}; fine-tune with --set model.init={run}", markup=False)


@app.command()
def predict(
    run: o.Run,
    pred: o.PredOut,
    data: o.PredictData = None,
    video: o.Video = None,
    split: o.Split = 1,
    all_videos: o.AllVideos = False,
    checkpoint: o.Checkpoint = "best",
    set_: o.InferenceSet = None,
    subset: o.Subset = None,
    annotations: o.Annotations = None,
    video_scores: o.VideoScores = None,
    batch_size: o.BatchSize = 16,
    tool: o.ToolFormat = None,
    media_prefix: o.MediaPrefix = "",
    video_fps: o.VideoFpsOf = None,
    labels_of: o.LabelsOf = None,
    runtime: o.Runtime = "torch",
    extract_runtime: o.PredictExtractRuntime = "torch",
    stream: o.Stream = None,
    realtime: o.Realtime = False,
    follow: o.Follow = False,
    timeout: o.StreamTimeout = 10.0,
    smooth: o.Smooth = 0.0,
    events: o.Events = None,
    view: o.View = False,
) -> None:
    """Predict with a trained run; the run's task decides the output.
    Segmentation: frame labels at full frame rate (MS-TCN files, one per video) plus timelines.json.
    Detection: results.json (ActivityNet submission format, seconds) plus timelines.json.
    --stream: a live timeline (docs/streaming.md); at the end or on Ctrl-C (exit 130) the timeline so far, events
    and latency.json are written to --out.

    Example: actionline predict --run runs/mstcn --data data/toy --split 1 --out preds/mstcn
    Example: actionline predict --run runs/baformer --data data/toy --out preds/gt --set model.boundaries=ground_truth
    Example: actionline predict --run runs/gsmt --data data/anet --subset validation --out preds/gsmt
    Example: actionline predict --run runs/video --video my_video.mp4 --out preds/my_video
    Example: actionline predict --run runs/video --video my_video.mp4 --out preds/ort --extract-runtime onnxruntime
    Example: actionline predict --run runs/mine --video new/ --out preds/new --format labelstudio  (or elan, cvat, via)
    Example: actionline predict --run runs/mstcn --data data/toy --out preds/ort --runtime onnxruntime
    Example: actionline predict --run runs/causal --stream rtsp://camera.local/live --smooth 1 --view --out preds/live
    """
    from actionline.cli import commands
    from actionline.cli.commands import TaskOptions
    from actionline.config import parse_overrides
    from actionline.data.annotations import DEFAULT_NAMES, TOOL_FORMATS, tool_labels, write_for_tool
    from actionline.data.video import find_videos
    from actionline.timeline import load_timelines

    overrides = parse_overrides(set_ or [])
    if stream is not None:
        if data is not None or video is not None or overrides:
            raise ActionlineError("--stream takes no --data, --video or --set")
        from actionline.engine.live import LiveSettings

        settings = LiveSettings(smooth, realtime, timeout, follow)
        STATE["interrupted"] = (
            f"interrupted before the stream began or while its timeline was written: {pred} left untouched"
        )
        summary, interrupted = commands.predict_stream(run, stream, pred, checkpoint, settings, events, view, err)
        err.print(summary, markup=False)
        if interrupted:
            err.print("interrupted: the timeline until then is written", style="yellow")
            raise typer.Exit(130)
        return
    if (data is None) == (video is None):
        raise ActionlineError("give exactly one of --data (features), --video (a video file or folder) and --stream")
    if tool is not None and tool not in TOOL_FORMATS:
        raise ActionlineError(f"--format must be one of {', '.join(TOOL_FORMATS)}, got {tool!r}")
    if video is not None:
        summary = commands.predict_video(
            run, video, pred, checkpoint, overrides, batch_size, err, runtime, extract_runtime
        )
        err.print(summary, markup=False)
    else:
        options = TaskOptions(split, subset, annotations, all_videos=all_videos, video_scores=video_scores)
        err.print(commands.predict(run, data, pred, options, checkpoint, overrides, runtime), markup=False)
    if tool is not None:
        target = pred / DEFAULT_NAMES[tool]
        videos = {p.stem: p for p in find_videos(video)} if video is not None else {}
        timelines = load_timelines(pred / "timelines.json")
        rename = tool_labels(labels_of) if labels_of is not None else None
        written = write_for_tool(timelines, target, tool, videos, video_fps, media_prefix, rename=rename)
        err.print(f"wrote {len(written)} {tool} file(s): {target}", markup=False)


@app.command()
def extract(
    source: o.VideoSource,
    out_dir: o.ExtractOut,
    backbone: o.Backbone = "efficientnet_lite0",
    weights: o.Weights = None,
    fps: o.ExtractFps = ExtractionSettings.fps,
    window: o.Window = ExtractionSettings.window,
    stride: o.Stride = None,
    layout: o.Layout = "segmentation",
    batch_size: o.BatchSize = 16,
    device: o.Device = "auto",
    causal: o.Causal = False,
    random_weights: o.RandomWeights = False,
    mode: o.ExtractMode = "exact",
    runtime: o.ExtractRuntime = "torch",
) -> None:
    """Extract features from videos with a backbone: resumable (complete videos are skipped), sharded under
    torchrun (each process a disjoint share of the videos), a video that fails is listed and the others go on.

    Example: actionline extract videos/ --backbone efficientnet_lite0 --out data/mine
    Example: actionline extract videos/ --backbone i3d_rgb --weights rgb_imagenet.pt --fps 15 --window 21 --out data/i3d
    Fast I3D (one pass instead of a window per frame): ... --backbone i3d_rgb --mode sliding
    Multi-process: torchrun --nproc_per_node 2 -m actionline extract videos/ --out data/mine
    """
    from actionline.engine.extractor import extract as run_extraction

    requested = ExtractionSettings.request(backbone, fps, window, stride, layout, causal=causal, mode=mode)
    settings, done, failures = run_extraction(
        source, out_dir, requested, weights, batch_size, device, err, random_weights, runtime
    )
    err.print(f"extracted {settings.describe()} for {len(done)} videos into {out_dir / 'features'}", markup=False)
    if failures:
        listed = "; ".join(f"{name}: {why}" for name, why in failures)
        raise ActionlineError(f"{len(failures)} video(s) could not be decoded: {listed}")


# --- evaluate, export, profile, view -----------------------------------------------------------------------
@app.command()
def evaluate(
    pred: o.Pred,
    data: o.EvalData = None,
    split: o.Split = 1,
    background: o.Background = None,
    gt: o.GroundTruth = None,
    subset: o.Subset = None,
    tiou: o.Tiou = None,
    as_json: o.Json = False,
    task: o.TaskName = None,
) -> None:
    """Score predictions. Segmentation: Acc, Edit, F1@{10,25,50} and more at full frame rate (MS-TCN conventions).
    Detection: mAP per tIoU threshold and its average (ActivityNet evaluator semantics).

    Example: actionline evaluate --pred preds/mstcn --data data/toy --split 1 --json
    Example: actionline evaluate --pred results.json --gt thumos14.json --subset Test --json
    """
    from actionline.cli import commands
    from actionline.cli.commands import TaskOptions

    options = TaskOptions(split=split, subset=subset, background=tuple(background or ()) or None, tiou=tiou, gt=gt)
    report = commands.evaluate(pred, data, options, task)
    if as_json:
        print(json.dumps(report.as_dict))
        return
    out.print(Text(report.headline, style="bold"))
    for line in report.details:
        out.print(line, markup=False, highlight=False)


@app.command()
def export(
    pred: o.Timelines,
    out_path: o.ExportOut,
    fmt: o.Format = "csv",
    fps: o.Fps = None,
    skip: o.Skip = None,
    videos: o.VideosFolder = None,
    video_fps: o.VideoFpsOf = None,
    media_prefix: o.MediaPrefix = "",
    labels_of: o.LabelsOf = None,
):
    """Export predicted timelines as a CSV table, SRT subtitles (one file per video), or for an annotation tool to
    import and correct: labelstudio (pre-annotations), elan (.eaf per video), cvat (XML per video), via (project).

    Example: actionline export --pred preds/mstcn/timelines.json --format srt --skip background --out subtitles/
    Example: actionline export --pred preds/mine/timelines.json --format labelstudio --videos clips/ --out ls.json
    """
    from actionline.data.annotations import TOOL_FORMATS, tool_labels, write_for_tool
    from actionline.data.video import find_videos
    from actionline.export import export_timelines
    from actionline.timeline import load_timelines

    if fmt in TOOL_FORMATS:
        found = {p.stem: p for p in find_videos(videos)} if videos is not None else {}
        skipped = frozenset(skip) if skip else frozenset({"background"})
        rename = tool_labels(labels_of) if labels_of is not None else None
        written = write_for_tool(load_timelines(pred), out_path, fmt, found, video_fps, media_prefix, skipped, rename)
        err.print(f"wrote {len(written)} {fmt} file(s) to {out_path}", markup=False)
        return
    count = export_timelines(pred, out_path, fmt, fps, tuple(skip or ()))
    err.print(f"wrote {count} timelines to {out_path}", markup=False)


@app.command()
def profile(
    model: o.ProfileModel = None,
    run: o.ProfileRun = None,
    data: o.ProfileData = None,
    input_dim: o.InputDim = None,
    num_classes: o.NumClasses = 19,
    length: o.Length = None,
    repeats: o.Repeats = 5,
    device: o.Device = "cpu",
    set_: o.ModelSet = None,
    as_json: o.Json = False,
) -> None:
    """Parameters, GMACs (conv + linear, as the papers count), latency (median) and peak memory.

    Example: actionline profile asformer --input-dim 2048 --num-classes 19 --length 5750 --json

    Clip classifiers take one clip of model.frames x model.size x model.size (default 16 x 112 x 112). With --run and
    --data: a trained clip model's cost averaged over the dataset's test clips, counted clip by clip at batch size 1
    (SGS, ATS: the cost varies per clip), next to the fixed cost without the adaptive sampling.

    Example: actionline profile --run runs/atfr --data data/steps
    """
    from actionline.config import parse_overrides
    from actionline.engine.profiler import profile_model

    if run is not None or data is not None:
        if run is None or data is None or model is not None:
            raise ActionlineError("give a MODEL, or --run and --data (a trained clip model's cost over a dataset)")
        from actionline.cli import commands
        from actionline.cli.commands import TaskOptions

        cost = commands.profile_run(run, data, TaskOptions())
        if as_json:
            print(json.dumps(cost))
            return
        out.print(
            f"{run}: {cost['gmacs_mean']:.3f} GMACs per clip on average over {cost['clips']} clips (min "
            f"{cost['gmacs_min']:.3f}, max {cost['gmacs_max']:.3f}; clip by clip at batch size 1) vs "
            f"{cost['gmacs_fixed']:.3f} without adaptive sampling",
            markup=False,
            highlight=False,
        )
        return
    if model is None:
        raise ActionlineError("give a MODEL to profile (or --run and --data)")

    p = profile_model(model, input_dim, num_classes, length, repeats, device, parse_overrides(set_ or []))
    if as_json:
        print(json.dumps(p.as_dict()))
        return
    out.print(p.describe(), markup=False, highlight=False)


@app.command()
def view(
    pred: o.ViewPred,
    data: o.ViewData,
    image: o.Image,
    videos: o.Videos = None,
    split: o.ViewSplit = 1,
    max_videos: o.ViewMax = 6,
) -> None:
    """Draw ground truth and predictions per video, one colour per class, with a legend. Segmentation: colour
    bars; detection (a results.json as --pred): instances on a seconds axis, the best predictions with scores.
    Classification: the confusion matrix. Tagging: every tag's AP, one panel per category.

    Example: actionline view --pred preds/mstcn --data data/toy --out timelines.png video_0003 video_0007
    Example: actionline view --pred preds/gsmt/results.json --data data/anet --out detections.png
    """
    from actionline.cli import commands

    image = commands.view(pred, data, image, videos, max_videos, commands.TaskOptions(split=split))
    err.print(f"wrote {image}", markup=False)


@app.command()
def report(
    pred: o.ReportPreds,
    out_file: o.ReportOut,
    data: o.EvalData = None,
    split: o.Split = 1,
    background: o.Background = None,
    gt: o.GroundTruth = None,
    subset: o.Subset = None,
    tiou: o.Tiou = None,
    videos: o.ReportVideos = None,
    max_videos: o.ReportMax = 20,
    task: o.TaskName = None,
) -> None:
    """Write one self-contained HTML page that shows where predictions go wrong; several --pred side by side.
    Segmentation: timelines (zoom, hover, click to seek), per-video table, confusion matrix, per-class F1@k,
    over/under-segmentation, boundary offsets. Detection: the false-positive profile (Alwassel et al.), AP per
    class, sensitivity to length and count, detections per video. Classification: per-class AP, confusions.
    Tagging: per-tag AP by category, each clip's true and top-scoring tags.

    Example: actionline report --pred preds/mstcn --pred preds/asformer --data data/toy --out report.html
    Example: actionline report --pred preds/gsmt/results.json --data data/thumos --out detections.html
    """
    from actionline.cli import commands
    from actionline.cli.commands import TaskOptions

    options = TaskOptions(split=split, subset=subset, background=tuple(background or ()) or None, tiou=tiou, gt=gt)
    commands.report(pred, data, out_file, options, videos, max_videos, task)
    err.print(f"wrote {out_file}", markup=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; bad input becomes one line on stderr and exit status 2 (never interpreted as
    markup), Ctrl-C exit status 130, an operating-system error (unwritable folder, a file where a folder belongs)
    one line and status 2."""
    if hasattr(signal, "SIGXFSZ"):  # past a file-size limit, a write fails (and is reported) instead of killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    STATE["interrupted"] = "interrupted"
    try:
        code = app(args=argv, standalone_mode=False)  # typer turns Ctrl-C into a returned 130
    except (ActionlineError, NotImplementedError, OSError) as exc:
        if STATE["debug"]:
            raise
        message = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and exc.filename else str(exc)
        err.print(Text.assemble(("error:", "red"), f" {message}"), highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        code = 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    except _UsageError as exc:  # unknown option, missing argument, bad value: click's message, status 2
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err.print(
            Text.assemble(("error:", "red"), f" {message} (--help lists the options)"), highlight=False, soft_wrap=True
        )
        return getattr(exc, "exit_code", 2)
    except Exception as exc:  # a bug, not bad input: one line and status 1 (--debug shows the traceback)
        if STATE["debug"]:
            raise
        text = f" internal error {type(exc).__name__}: {str(exc)[:300]} (please report it; --debug shows the traceback)"
        err.print(Text.assemble(("error:", "red"), text), highlight=False, soft_wrap=True)
        return 1
    if code == 130:
        err.print(STATE["interrupted"], style="yellow", markup=False)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
