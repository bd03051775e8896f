"""The command-line options of `actionline.cli`, each declared once with its help text (several commands share
them). An option the chosen task does not read is refused with an error, never silently ignored
(`tasks.base.Task.options`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# --- synth -------------------------------------------------------------------------------------------------------
Out = Annotated[Path, typer.Option("--out", help="Output folder.")]
FeatureDim = Annotated[int, typer.Option(help="Feature dimension D.")]
Difficulty = Annotated[float, typer.Option(help="Scales noise, style, drift, confusion (1 = default).")]
Seed = Annotated[int, typer.Option(help="Random seed; same seed, same files.")]
MaxVideos = Annotated[int | None, typer.Option(help="With real labels or timings: keep only this many videos.")]
GrammarVideos = Annotated[int, typer.Option(help="Videos to generate from the built-in grammar.")]
Splits = Annotated[int, typer.Option("--splits", help="Cross-validation splits (grammar data).")]
LabelsFrom = Annotated[
    Path | None,
    typer.Option(
        help="Reuse real label sequences, mapping and splits of an MS-TCN folder, e.g. ../shared/data/50salads."
    ),
]
LengthScale = Annotated[float, typer.Option(help="Scale of grammar segment lengths.")]
AnnotationsFrom = Annotated[
    Path | None,
    typer.Option(
        help="Real instance timings (ActivityNet- or BSN-style JSON), e.g. thumos14/annotations/thumos14.json."
    ),
]
FromSubset = Annotated[str | None, typer.Option(help="With --annotations-from: only this subset.")]
DetectionVideos = Annotated[int, typer.Option(help="Generated videos (without --annotations-from).")]
NumClasses = Annotated[int, typer.Option(help="Number of classes K.")]
SnippetStride = Annotated[int, typer.Option(help="Video frames per feature (snippet).")]
VideoFps = Annotated[float, typer.Option(help="Video frame rate.")]
SynthVideos = Annotated[int, typer.Option(help="Videos to write.")]
FrameSize = Annotated[int, typer.Option(help="Frame width and height in pixels.")]
TrainPerClass = Annotated[int, typer.Option(help="Training videos per class.")]
TestPerClass = Annotated[int, typer.Option(help="Test videos per class.")]
ClipSetKind = Annotated[
    str, typer.Option(help="motion (direction / speed / order classes) or redundancy (K held moments, for SGS).")
]
HVUTrain = Annotated[int, typer.Option(help="Training clips.")]
HVUVal = Annotated[int, typer.Option(help="Validation clips.")]
ClipFrames = Annotated[int, typer.Option(help="Frames per video.")]

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
Epochs = Annotated[int | None, typer.Option(help="Override the preset's number of epochs.")]
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
VideoScores = Annotated[
    Path | None,
    typer.Option(help="Detection, optional: JSON {video: {class: score}} of external video-level class scores."),
]

PredictData = Annotated[Path | None, typer.Option(help="Dataset folder with the features to predict.")]
Video = Annotated[
    Path | None,
    typer.Option(help="A video file or folder: extract features as the run's were extracted, then predict."),
]
BatchSize = Annotated[int, typer.Option(help="Windows (or frames) per backbone batch.")]

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
ExtractFps = Annotated[float, typer.Option(help="Frames per second to sample (the benchmark features: 15).")]
ExtractMode = Annotated[
    str,
    typer.Option(
        help="exact: a clip backbone sees one window per output (the benchmark convention); sliding: one pass over "
        "the video, per-frame vectors interpolated between I3D's positions (faster, slightly different; "
        "docs/performance.md)."
    ),
]
Window = Annotated[int, typer.Option(help="Frames per window of a clip backbone (I3D benchmark features: 21).")]
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
ExportOut = Annotated[Path, typer.Option("--out", help="CSV file, or a folder for one .srt per video.")]
Format = Annotated[str, typer.Option("--format", help="csv or srt.")]
Fps = Annotated[float | None, typer.Option(help="Frames per second, when the timelines carry none.")]
Skip = Annotated[list[str] | None, typer.Option(help="SRT: labels to leave out (repeat), e.g. background.")]
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
