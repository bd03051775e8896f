"""``actionline package`` and ``actionline export-model``: a trained run as a folder anyone can load (weights without
pickle, a model card) or as an ONNX graph (optionally int8) for ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from actionline.cli import options as o
from actionline.errors import ConfigError

err = Console(stderr=True)
Licence = Annotated[str, typer.Option(help="Licence written into the model card (e.g. apache-2.0).")]
HubId = Annotated[
    str | None, typer.Option(help="Also push the folder to this Hugging Face Hub repository (needs a login).")
]
LatencyLength = Annotated[
    int | None, typer.Option(help="Input length the card's CPU latency is measured at (default: the profiler's).")
]
Format = Annotated[str, typer.Option("--format", help="Graph format: onnx.")]
GraphOut = Annotated[Path, typer.Option("--out", help="The .onnx file to write.")]
Quantize = Annotated[
    str | None,
    typer.Option(
        help="int8: dynamic int8 quantization of the graph (ONNX Runtime's quantizer); int8-static: static (QDQ), "
        "activation ranges calibrated on the run's training videos (its dataset must be where it was)."
    ),
]
CalibrationVideos = Annotated[int, typer.Option(min=1, help="int8-static: training videos to calibrate on.")]
QUANTIZE_MODES = {"int8": "dynamic", "int8-static": "static"}


def package(
    run: o.Run,
    out: o.Out,
    checkpoint: o.Checkpoint = "best",
    licence: Licence = "unspecified",
    latency_length: LatencyLength = None,
    hub_id: HubId = None,
) -> None:
    """Package a trained run: config.json (the run's record), model.safetensors, README.md (a model card).

    Example: actionline package --run runs/mstcn --out models/mstcn --licence apache-2.0
    Example: actionline package --run runs/mstcn --out models/mstcn --hub-id me/mstcn-breakfast
    """
    from actionline.engine.package import package_run, push_to_hub

    package_run(run, out, checkpoint, licence, latency_length, source=hub_id)
    err.print(f"wrote {out} (config.json, model.safetensors, README.md)", markup=False)
    if hub_id:
        err.print(f"pushed to {push_to_hub(out, hub_id)}", markup=False)


def export_model(
    run: o.Run,
    out: GraphOut,
    fmt: Format = "onnx",
    checkpoint: o.Checkpoint = "best",
    quantize: Quantize = None,
    calibration_videos: CalibrationVideos = 8,
) -> None:
    """Export a trained run's model as an ONNX graph (symbolic time axis; decoding stays in Python).

    Example: actionline export-model --run runs/mstcn --format onnx --out runs/mstcn/model.onnx
    Example: actionline export-model --run runs/mstcn --out mstcn-int8.onnx --quantize int8-static
    """
    import tempfile

    from actionline.engine.onnx_graph import export_onnx
    from actionline.engine.predictor import load_run
    from actionline.engine.quantize import quantize_graph
    from actionline.tasks.registry import predicting_task

    if fmt != "onnx":
        raise ConfigError(f"--format must be onnx, got {fmt!r}")
    if quantize is not None and quantize not in QUANTIZE_MODES:
        raise ConfigError(f"--quantize must be {' or '.join(QUANTIZE_MODES)}, got {quantize!r}")
    model, meta = load_run(run, checkpoint, device="cpu")
    if quantize is None:
        export_onnx(model, out)
        err.print(f"wrote {out}", markup=False)
        return
    calibration = None
    if QUANTIZE_MODES[quantize] == "static":
        if not Path(meta.dataset.root).is_dir():
            raise ConfigError(
                f"--quantize int8-static calibrates on the run's training data, which is no longer at "
                f"{meta.dataset.root}"
            )
        calibration = predicting_task(meta.task).calibration_inputs(model, meta, calibration_videos)
    with tempfile.TemporaryDirectory() as tmp:
        quantize_graph(export_onnx(model, Path(tmp) / "fp32.onnx"), out, QUANTIZE_MODES[quantize], calibration)
    detail = f" (calibrated on {len(calibration)} inputs of the training data)" if calibration else ""
    err.print(f"wrote {out}{detail}", markup=False)
