"""ONNX export of a model's `forward` or a backbone's `features`, and the exported graph run by ONNX Runtime.

The graph computes what ``forward(features, mask)`` computes for one video, with a symbolic time axis
(segmentation models; the detectors take their fixed ``input_length`` snippets); its outputs are the tensors of the
outputs dict, so `OnnxForward` hands back the same dict and the model's own `decode` (Python) turns it into
timelines: the PyTorch and ONNX Runtime paths share everything after `forward`. While a graph is captured, layers
take their plain path (`actionline.nn.temporal.conv.exporting`).

Every file records in its ONNX ``metadata_props`` what it was exported from: the model (or backbone) name, a
fingerprint of its name, settings and weights, the actionline version and the names of the outputs. `OnnxForward`
refuses a file whose fingerprint is not that of the model it is to stand in for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from actionline.errors import CheckpointError, ConfigError
from actionline.io import atomic_write
from actionline.models.backbone import Backbone
from actionline.models.base import DetectionModel, SegmentationModel, TemporalModel
from actionline.version import __version__

FORMAT = "actionline-onnx/1"
GRAPH_FILE = "model.onnx"  # the graph beside a run's or a package's weights
OPSET = 18


def fingerprint(name: str, settings: dict[str, Any], state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a model's name, settings and every weight (names, shapes, dtypes and bytes)."""
    digest = hashlib.sha256(json.dumps([name, settings], sort_keys=True, default=str).encode())
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def model_fingerprint(model: TemporalModel | Backbone) -> str:
    settings = dataclasses.asdict(model.config) if isinstance(model, TemporalModel) else {}
    return fingerprint(model.name, settings, model.state_dict())


class _Forward(nn.Module):
    """What a model's graph computes: its forward. Wrapping keeps submodule names such as RTK's ``graph`` clear
    of the captured module's own attributes."""

    def __init__(self, model: TemporalModel):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model(features, mask)


class _Features(nn.Module):
    """What a backbone's graph computes: `Backbone.features` of a batch of scaled frames or clips."""

    def __init__(self, backbone: Backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"features": self.backbone.features(frames)}


def example_inputs(model: TemporalModel | Backbone, length: int | None = None) -> tuple[torch.Tensor, ...]:
    """The inputs a graph is captured with: one video of ``length`` positions (detectors: their snippets) and
    its mask, or two scaled windows of a backbone's input (batch 2, so that the batch axis stays symbolic)."""
    torch.manual_seed(0)
    if isinstance(model, Backbone):
        spec = model.input
        clip = () if spec.frames == 1 else (spec.frames,)
        return (torch.randn(2, spec.channels, *clip, spec.size, spec.size),)
    if isinstance(model, DetectionModel):
        length = model.config.input_length
    return model.example_inputs(length or 64)


def _dynamic_shapes(model: TemporalModel | Backbone) -> tuple[dict[int, Any], ...]:
    """Symbolic axes: a backbone's batch of windows; a segmentation model's time axis (one video per call, as
    prediction runs); none for the detectors (their ``input_length`` snippets, one video)."""
    dynamic = torch.export.Dim.DYNAMIC
    if isinstance(model, Backbone):
        return ({0: dynamic},)
    if isinstance(model, DetectionModel):
        return ({}, {})
    return ({2: dynamic}, {1: dynamic})


def export_onnx(model: TemporalModel | Backbone, path: str | Path, length: int | None = None) -> Path:
    """Write ``model``'s forward (a backbone's `features`) as an ONNX graph to ``path`` (atomically), captured on
    `example_inputs` with ``length`` positions. A model that has no graph form is a `ConfigError` naming it and
    the cause."""
    if not isinstance(model, (SegmentationModel, DetectionModel, Backbone)):
        raise ConfigError(
            f"model {model.name!r} cannot be exported to ONNX: it is a {model.task} model, and export covers "
            "segmentation and detection models and video backbones"
        )
    model.eval()
    inputs = example_inputs(model, length)
    module = _Features(model) if isinstance(model, Backbone) else _Forward(model)
    with torch.no_grad():
        outputs = module(*inputs)
    not_tensors = sorted(k for k, v in outputs.items() if not torch.is_tensor(v))
    if not_tensors:
        raise ConfigError(f"model {model.name!r} cannot be exported to ONNX: outputs {not_tensors} are not tensors")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                inputs,
                dynamo=True,
                dynamic_shapes=_dynamic_shapes(model),
                opset_version=OPSET,
                optimize=isinstance(model, Backbone),  # a temporal model's graph: `_simplify`
                verbose=False,
            )
    except Exception as exc:  # the exporter raises many types
        raise ConfigError(f"model {model.name!r} cannot be exported to ONNX: {_cause(exc)}") from exc
    if not isinstance(model, Backbone):
        _simplify(program.model)
    program.model.metadata_props.update(
        {
            "actionline.format": FORMAT,
            "actionline.model": model.name,
            "actionline.kind": "backbone" if isinstance(model, Backbone) else "model",
            "actionline.fingerprint": model_fingerprint(model),
            "actionline.version": __version__,
            "actionline.outputs": json.dumps(list(outputs)),
        }
    )
    atomic_write(path, lambda tmp: program.save(tmp))
    return Path(path)


def _simplify(graph) -> None:
    """Constant folding and clean-up of a temporal model's captured graph (weights as initializers, which int8
    quantization needs). The exporter's own ``optimize`` also runs onnxscript's pattern rewriter, whose matching of
    every rule at every node took 40% of an ASFormer export (15-19 of 45 CPU s at 10 layers x 2 blocks) and gave a
    graph that ONNX Runtime ran no faster, with the same outputs and the same int8 coverage (checked at T = 2,000).
    Backbones keep the full optimizer: I3D's 3D convolutions need its rewrites (their bias comes out of the capture
    in a shape ONNX Runtime's Conv refuses)."""
    import onnx_ir as ir
    import onnxscript.optimizer
    from onnx_ir.passes import common

    onnxscript.optimizer.fold_constants(graph)
    cleanup = [
        common.RemoveUnusedNodesPass(),
        common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0),
        common.DeduplicateInitializersPass(),
        common.CommonSubexpressionEliminationPass(),
    ]
    ir.passes.PassManager(cleanup)(graph)


def _cause(exc: Exception) -> str:
    """The exporter's reason in one line: the first line of its exception summary."""
    text = str(exc.__cause__ or exc)
    summary = text.split("Exception summary", 1)[-1]
    lines = [line.strip() for line in summary.splitlines() if line.strip() and not line.startswith("#")]
    if "inferred a static shape" in summary or "specialized" in summary:
        return (
            "capturing its forward fixes the video length (a decision in Python on T), so no graph with a "
            "symbolic time axis exists"
        )
    return lines[0][:300] if lines else type(exc).__name__


def graph_metadata(path: str | Path) -> dict[str, str]:
    """The ``actionline.*`` metadata of an exported file (`CheckpointError` when it is not one)."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: ONNX file not found")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable ONNX file ({str(exc).splitlines()[0][:200]})") from None
    return _actionline_record(path, {p.key: p.value for p in proto.metadata_props})


def _actionline_record(path: Path, props: dict[str, str]) -> dict[str, str]:
    if props.get("actionline.format") != FORMAT:
        raise CheckpointError(f"{path}: not an actionline ONNX export (no {FORMAT} record in its metadata)")
    return props


def session_options(threads: int | None = None):
    """ONNX Runtime options: all graph optimisations, ``threads`` intra-op threads (None: torch's count)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.log_severity_level = 3
    # no busy-waiting between calls: idle worker threads would take the cores from whatever runs next
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OnnxForward:
    """``forward`` of ``model`` run by ONNX Runtime from the graph at ``path``: called like the module, it returns
    the same outputs dict (CPU tensors). The file must have been exported from this very model (name, settings
    and weights: its recorded fingerprint) by this actionline version, else `CheckpointError`. ``fingerprint``:
    the model's `model_fingerprint` where the caller has computed it already (it hashes every weight)."""

    def __init__(
        self,
        path: str | Path,
        model: TemporalModel | Backbone,
        threads: int | None = None,
        fingerprint: str | None = None,
    ):
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: ONNX file not found")
        try:  # the session reads the metadata too: importing onnx to read it would cost every start a second
            session = ort.InferenceSession(os.fspath(path), session_options(threads), ["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime raises its own types (Fail, InvalidGraph, ...) or RuntimeError
            raise CheckpointError(f"{path}: not a readable ONNX file ({str(exc).splitlines()[0][:200]})") from None
        props = _actionline_record(path, session.get_modelmeta().custom_metadata_map)
        expected = fingerprint or model_fingerprint(model)
        if props.get("actionline.fingerprint") != expected:
            raise CheckpointError(
                f"{path}: exported from another model or version ({props.get('actionline.model')!r}, actionline "
                f"{props.get('actionline.version')}), not from this {model.name!r}: its fingerprint does not match"
            )
        if props.get("actionline.version") != __version__:
            raise CheckpointError(
                f"{path}: exported by actionline {props.get('actionline.version')}, this is {__version__} (the "
                "graph may not compute what this version's model does): export it again"
            )
        self.path, self.outputs, self.session = path, json.loads(props["actionline.outputs"]), session
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        feed = {
            name: np.ascontiguousarray(x.detach().cpu().numpy()) for name, x in zip(self.inputs, inputs, strict=True)
        }
        results = self.session.run(None, feed)
        return dict(zip(self.outputs, (torch.from_numpy(r) for r in results), strict=True))


def run_with_onnxruntime(model: TemporalModel, folder: Path | None = None) -> TemporalModel:
    """``model`` with its forward run by ONNX Runtime (`OnnxForward`): from ``folder/model.onnx`` when there is
    one (its fingerprint must be this model's), else from a graph exported now (into a temporary folder, removed once
    the session has read it). This instance's ``forward`` is replaced, so every caller (the tasks' prediction,
    `decode`) runs the graph unchanged; outputs come back on the CPU."""
    graph = folder / GRAPH_FILE if folder is not None and folder.is_dir() else None
    if graph is not None and graph.is_file():
        model.forward = OnnxForward(graph, model)
        return model
    with tempfile.TemporaryDirectory(prefix="actionline-onnx-") as scratch:  # the session holds the graph in memory
        model.forward = OnnxForward(export_onnx(model, Path(scratch) / GRAPH_FILE), model)
    return model
