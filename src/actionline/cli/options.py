"""The command-line options of `actionline.cli`, each declared once with its help text (several commands share
them). An option the chosen task does not read is refused with an error, never silently ignored
(`tasks.base.Task.options`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer


def finite(value: float | None) -> float | None:
    """Refuse ``nan`` and ``inf`` (which typer parses as floats) with click's usage error."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value


# --- synth -------------------------------------------------------------------------------------------------------
Out = Annotated[Path, typer.Option("--out", help="Output folder.")]
FeatureDim = Annotated[int, typer.Option(max=4096, help="Feature dimension D (at most 4096).")]
Difficulty = Annotated[
    float, typer.Option(max=100.0, callback=finite, help="Scales noise, style, drift, confusion (1 = default).")
]
Seed = Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Random seed; same seed, same files.")]
MaxVideos = Annotated[int | None, typer.Option(help="With real labels or timings: keep only this many videos.")]
GrammarVideos = Annotated[int, typer.Option(max=10_000, help="Videos to generate from the built-in grammar.")]
Splits = Annotated[int, typer.Option("--splits", max=100, help="Cross-validation splits (grammar data).")]
LabelsFrom = Annotated[
    Path | None,
    typer.Option(
        help="Reuse real label sequences, mapping and splits of an MS-TCN folder, e.g. ../shared/data/50salads."
    ),
]
LengthScale = Annotated[float, typer.Option(max=100.0, callback=finite, help="Scale of grammar segment lengths.")]
AnnotationsFrom = Annotated[
    Path | None,
    typer.Option(
        help="Real instance timings (ActivityNet- or BSN-style JSON), e.g. thumos14/annotations/thumos14.json."
    ),
]
FromSubset = Annotated[str | None, typer.Option(help="With --annotations-from: only this subset.")]
DetectionVideos = Annotated[int, typer.Option(max=10_000, help="Generated videos (without --annotations-from).")]
NumClasses = Annotated[int, typer.Option(help="Number of classes K.")]
SynthClasses = Annotated[int, typer.Option("--num-classes", max=1000, help="Number of classes K.")]
SnippetStride = Annotated[int, typer.Option(max=1000, help="Video frames per feature (snippet).")]
VideoFps = Annotated[float, typer.Option(max=1000.0, callback=finite, help="Video frame rate.")]
SynthVideos = Annotated[int, typer.Option(max=1000, help="Videos to write.")]
FrameSize = Annotated[int, typer.Option(max=1024, help="Frame width and height in pixels.")]
TrainPerClass = Annotated[int, typer.Option(max=1000, help="Training videos per class.")]
TestPerClass = Annotated[int, typer.Option(max=1000, help="Test videos per class.")]
ClipSetKind = Annotated[
    str, typer.Option(help="motion (direction / speed / order classes) or redundancy (K held moments, for SGS).")
]
HVUTrain = Annotated[int, typer.Option(max=100_000, help="Training clips.")]
HVUVal = Annotated[int, typer.Option(max=100_000, help="Validation clips.")]
ClipFrames = Annotated[int, typer.Option(max=1000, help="Frames per video.")]

# --- train / predict -----------------------------------------------------------------------------------------


def _models_by_task() -> str:
    """Every registered model, grouped by its task (the registry decides, so the help never falls behind)."""
    import actionline.models  # noqa: F401  (registers every model)
    from actionline.models.registry import available_models, model_class

    tasks: dict[str, list[str]] = {}
    for name in available_models():
        tasks.setdefault(model_class(name).task, []).append(name)
    return "; ".join(f"{task}: {', '.join(names)}" for task, names in tasks.items())


Model = Annotated[str, typer.Option(help=f"Model name ({_models_by_task()}).")]
Data = Annotated[
    Path,
    typer.Option(
        help="Dataset folder: MS-TCN layout; annotations.json + features/; or videos with train.csv / UCF101 lists."
    ),
]
VideoData = Annotated[Path, typer.Option("--data", help="Folder of unlabeled videos (searched recursively).")]
Method = Annotated[str, typer.Option(help="Pre-training method: transfer (2D -> 3D correspondence, Sec. 4.3).")]
Student = Annotated[str, typer.Option(help="The 3D network to pre-train (a clip classifier, e.g. stc_resnet3d_18).")]
Teacher = Annotated[
    str, typer.Option(help="The frozen 2D teacher backbone (efficientnet_lite0 ships ImageNet weights).")
]
TeacherWeights = Annotated[
    Path | None, typer.Option(help="Teacher weights (required for ResNet teachers; torchvision layout).")
]
RunOut = Annotated[Path, typer.Option("--out", help="Run folder for checkpoints, config and log.")]
Run = Annotated[Path, typer.Option(help="Run folder written by `actionline train` (or a checkpoint file).")]
PredOut = Annotated[Path, typer.Option("--out", help="Output folder.")]
Split = Annotated[int, typer.Option(help="Segmentation: split N of splits/{train,test}.splitN.bundle.")]
Subset = Annotated[
    str | None,
    typer.Option(
        help="Detection: annotation subset (train default: training, or Validation for THUMOS14; predict and "
        "evaluate default: validation, or Test)."
    ),
]
Annotations = Annotated[Path | None, typer.Option(help="Detection: annotation JSON when not DATA/annotations.json.")]
Epochs = Annotated[int | None, typer.Option(max=100_000, help="Override the preset's number of epochs.")]
Config = Annotated[str | None, typer.Option(help="YAML file or preset name (default: <model>_<dataset>).")]
Set = Annotated[list[str] | None, typer.Option("--set", help="Override a setting, e.g. --set train.lr=1e-3.")]
InferenceSet = Annotated[
    list[str] | None,
    typer.Option("--set", help="Inference-time model setting, e.g. --set model.voting=frame (BaFormer Table 3)."),
]
Resume = Annotated[
    bool,
    typer.Option(
        help="Continue the run in --out from its last checkpoint. With more --epochs or other schedule settings "
        "(--set train.milestones=...) the new learning-rate schedule applies from the resumed epoch."
    ),
]
Supervision = Annotated[
    str | None,
    typer.Option(
        help="Segmentation labels to learn from: full, transcript (mucon), set (sct) or mixed:P (P% of videos "
        "fully labelled, mucon). Default: the model's own."
    ),
]
AllVideos = Annotated[bool, typer.Option("--all", help="Predict every features/*.npy instead of a split.")]
Checkpoint = Annotated[str, typer.Option(help="Which checkpoint: best or last.")]
Runtime = Annotated[
    str,
    typer.Option(help="torch, or onnxruntime: the model's forward as an ONNX graph (RUN/model.onnx if present)."),
]
VideoScores = Annotated[
    Path | None,
    typer.Option(help="Detection, optional: JSON {video: {class: score}} of external video-level class scores."),
]

PredictData = Annotated[Path | None, typer.Option(help="Dataset folder with the features to predict.")]
Video = Annotated[
    Path | None,
    typer.Option(help="A video file or folder: extract features as the run's were extracted, then predict."),
]
BatchSize = Annotated[int, typer.Option(help="Windows (or frames) per backbone batch, 1 to 1024.")]

# --- extract -------------------------------------------------------------------------------------------------
VideoSource = Annotated[Path, typer.Argument(help="A video file or a folder of videos.")]
Backbone = Annotated[
    str,
    typer.Option(
        help="Registered backbone: efficientnet_lite0 (ImageNet weights ship with it), i3d_rgb, i3d_flow, "
        "resnet18/34/50/101, r3d_18, mc3_18, r2plus1d_18, s3d (bring --weights; docs/models/backbones.md)."
    ),
]
Weights = Annotated[
    Path | None,
    typer.Option(help="Backbone weights (.pt loaded with weights_only, or .safetensors), loaded strictly."),
]
ExtractOut = Annotated[Path, typer.Option("--out", help="Dataset folder receiving features/ (and extraction.json).")]
ExtractFps = Annotated[
    float, typer.Option(callback=finite, help="Frames per second to sample, at most 1000 (the benchmarks: 15).")
]
RandomWeights = Annotated[
    bool,
    typer.Option(
        "--random-weights",
        help="Extract with random weights when the backbone ships none and no --weights is given (pipeline tests).",
    ),
]
ExtractMode = Annotated[
    str,
    typer.Option(
        help="exact: a clip backbone sees one window per output (the benchmark convention); sliding: one pass over "
        "the video, per-frame vectors interpolated between I3D's positions (faster, slightly different; "
        "docs/performance.md)."
    ),
]
ExtractRuntime = Annotated[
    str,
    typer.Option(
        help="torch, or onnxruntime (a per-frame backbone exported and run by ONNX Runtime on the CPU: the same "
        "features within 1e-4, faster on some CPUs; docs/performance.md), or onnxruntime-int8 (EfficientNet-Lite0 "
        "as static int8, calibrated on the videos: other features, recorded in extraction.json)."
    ),
]
PredictExtractRuntime = Annotated[
    str,
    typer.Option(
        "--extract-runtime",
        help="--video: the backbone's runtime, torch or onnxruntime (as extract --runtime: the same features "
        "within 1e-4; its exported graph is cached, docs/performance.md).",
    ),
]
Window = Annotated[int, typer.Option(help="Frames per window of a clip backbone, 1 to 256 (I3D benchmarks: 21).")]
Stride = Annotated[
    int | None,
    typer.Option(help="Detection layout only: frames between snippets (16 when not given)."),
]
Layout = Annotated[
    str,
    typer.Option(
        help="segmentation: a vector per frame, features/<video>.npy [D, T]; detection: a vector per snippet, "
        "[T, D] plus timing JSON."
    ),
]

# --- evaluate / view / export / profile ------------------------------------------------------------------------
Pred = Annotated[
    Path,
    typer.Option(
        help="Segmentation: prediction folder or timelines.json. Detection: a submission JSON "
        "({'results': {video: [{segment, label, score}]}}) or the folder holding results.json."
    ),
]
EvalData = Annotated[
    Path | None, typer.Option(help="Dataset folder: ground truth (segmentation; detection when --gt is not given).")
]
Background = Annotated[
    list[str] | None,
    typer.Option(
        help="Segmentation: label excluded from Edit/F1 and MoF-BG; repeat for several. Default: 'background' "
        "(as the MS-TCN script). Use --background none to exclude nothing."
    ),
]
GroundTruth = Annotated[
    Path | None,
    typer.Option(help="Detection: ground truth, ActivityNet-style ('database') or BSN-style JSON."),
]
Tiou = Annotated[
    str | None,
    typer.Option(help="Detection: start:stop:step or a list; default 0.3:0.7:0.1, or 0.5:0.95:0.05 for ActivityNet."),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
TaskName = Annotated[
    str | None, typer.Option("--task", help="segmentation, detection or classification (default: from --pred).")
]
ReportPreds = Annotated[
    list[Path], typer.Option("--pred", help="Prediction folder or file; repeat to compare several (A, B, ...).")
]
ReportOut = Annotated[Path, typer.Option("--out", help="The HTML file to write (self-contained).")]
ReportVideos = Annotated[
    Path | None, typer.Option("--videos", help="Folder of the video files (<video>.mp4 ...): players that seek.")
]
ReportMax = Annotated[int, typer.Option(help="Videos drawn as timelines.")]
Timelines = Annotated[Path, typer.Option(help="timelines.json written by `actionline predict`.")]
ExportOut = Annotated[
    Path, typer.Option("--out", help="CSV / Label Studio / VIA file, or a folder (one .srt / .eaf / .xml per video).")
]
Format = Annotated[str, typer.Option("--format", help="csv, srt, labelstudio, elan, cvat or via.")]
Fps = Annotated[float | None, typer.Option(callback=finite, help="Frames per second, when the timelines carry none.")]
Skip = Annotated[
    list[str] | None,
    typer.Option(help="SRT and tools: labels to leave out (repeat); tools leave out background by default."),
]
ModelName = Annotated[str, typer.Argument(help="Model name.")]
ProfileModel = Annotated[str | None, typer.Argument(help="Model name (random weights, one input).")]
ProfileRun = Annotated[Path | None, typer.Option("--run", help="A trained clip model (with --data).")]
ProfileData = Annotated[Path | None, typer.Option("--data", help="The dataset whose test clips --run is counted on.")]
InputDim = Annotated[int | None, typer.Option(help="Feature dimension D (default: 2048; 3 for clip classifiers).")]
Length = Annotated[
    int | None, typer.Option(help="Input length T in frames (default: 5,750; a clip classifier's model.frames).")
]
Repeats = Annotated[int, typer.Option(help="Timed repetitions (median reported).")]
Device = Annotated[str, typer.Option(help="cpu or cuda.")]
ModelSet = Annotated[list[str] | None, typer.Option("--set", help="Model setting, e.g. --set num_stages=2.")]
ViewPred = Annotated[Path, typer.Option(help="Prediction folder, timelines.json or a detection results.json.")]
ViewData = Annotated[Path, typer.Option(help="Dataset folder (for ground truth and class names).")]
Image = Annotated[Path, typer.Option("--out", help="Output image (.png).")]
Videos = Annotated[list[str] | None, typer.Argument(help="Videos to draw (default: the first of the split).")]
ViewSplit = Annotated[int, typer.Option(help="Split whose test videos are drawn when none are named.")]
ViewMax = Annotated[int, typer.Option(help="At most this many videos when none are named.")]

# --- dataset build, annotation tools ---------------------------------------------------------------------------
VideoDir = Annotated[Path, typer.Argument(help="Folder of the labelled videos (matched to annotations by file name).")]
AnnotationFile = Annotated[
    Path, typer.Option("--annotations", help="The annotation tool's file, or a folder of per-video files (ELAN, CVAT).")
]
AnnotationFormat = Annotated[
    str, typer.Option("--format", help="auto, labelstudio, elan, cvat, via, activitynet or mstcn.")
]
DatasetOut = Annotated[Path, typer.Option("--out", help="Dataset folder to write (features resume when re-run).")]
DatasetTask = Annotated[
    str, typer.Option("--task", help="segmentation (MS-TCN layout, dense) or detection (annotations.json + features).")
]
DatasetFps = Annotated[float, typer.Option("--fps", help="Feature frames per second.")]
DatasetStride = Annotated[int, typer.Option(help="Detection: frames between snippets.")]
FoldCount = Annotated[int, typer.Option("--splits", help="Seeded cross-validation folds (1: one train/test split).")]
TestFraction = Annotated[float, typer.Option(help="With one split: the share of videos held out for testing.")]
Priority = Annotated[
    str | None,
    typer.Option(help="Comma-separated labels, strongest first: where listed labels overlap, the first one wins."),
]
Tier = Annotated[str | None, typer.Option(help="ELAN tier / VIA attribute that holds the action labels.")]
ToolFps = Annotated[
    float | None, typer.Option("--tool-fps", help="Frame rate of the tool's frames when the file holds none.")
]
Latest = Annotated[bool, typer.Option(help="Label Studio: with several annotations per task, use the last updated.")]
ToolFormat = Annotated[
    str | None,
    typer.Option("--format", help="Also write the predictions for an annotation tool: labelstudio, elan, cvat or via."),
]
MediaPrefix = Annotated[
    str, typer.Option(help="Put before each video's file name in tool files, e.g. /data/local-files/?d=clips/.")
]
VideoFpsOf = Annotated[
    float | None, typer.Option("--video-fps", help="Label Studio / CVAT export: the videos' frame rate.")
]
VideosFolder = Annotated[
    Path | None, typer.Option("--videos", help="Label Studio / CVAT export: the videos (their names and frame rates).")
]
LabelsOf = Annotated[
    Path | None,
    typer.Option(
        help="The folder `dataset build` wrote: labels go back to the tool as they were (pour_water -> pour water)."
    ),
]

Stream = Annotated[
    str | None,
    typer.Option(
        help="A live source: a video file, /dev/video0 (a camera), or a URL FFmpeg reads (rtsp://, tcp://, udp://, "
        "http://). Needs a causal run (--set model.causal=true); events go to stdout as JSON lines."
    ),
]
Realtime = Annotated[bool, typer.Option("--realtime", help="--stream a file at its own pace, not as fast as possible.")]
Follow = Annotated[
    bool,
    typer.Option("--follow", help="--stream a file still being written (ends --timeout s after it stops growing)."),
]
StreamTimeout = Annotated[float, typer.Option("--timeout", help="Seconds without data that end a --stream.")]
Smooth = Annotated[
    float,
    typer.Option("--smooth", help="Seconds a new label must last before --stream emits it (its delay; 0: none)."),
]
Events = Annotated[Path | None, typer.Option("--events", help="Write --stream's JSON-line events to this file.")]
View = Annotated[bool, typer.Option("--view", help="Show --stream live in the terminal.")]
Causal = Annotated[
    bool, typer.Option("--causal", help="Clip windows end at their frame (features a live --stream can compute).")
]

Overwrite = Annotated[bool, typer.Option("--overwrite", help="Write into a non-empty --out, replacing its files.")]
