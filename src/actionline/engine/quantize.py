"""int8 quantization of an exported graph with ONNX Runtime's quantizer.

- ``dynamic``: weights stored as int8 ahead of time, each activation quantized per call from its own range
  (``quantize_dynamic``); needs no data.
- ``static``: activation ranges calibrated once on example inputs (features of training videos), weights and
  activations int8 with QuantizeLinear / DequantizeLinear pairs around each product (convolutions and matrix
  products; ``quantize_static``, QDQ, per-channel weights), which ONNX Runtime fuses into integer kernels. The
  activations that follow a product (ReLU, ReLU6 as ``Clip``) are quantized with it, so that the product's output
  takes the range after the activation: left out, the output is quantized over its pre-activation range, which for
  EfficientNet-Lite0 spans tens of units where ReLU6 keeps [0, 6], and its features moved by relative L2 0.58 from
  fp32 instead of 0.14 (`benchmarks/int8_extraction.py`).
  ``fp32_products`` leaves the graph's first products fp32: int8 moves EfficientNet-Lite0's features most in its
  first 10 convolutions (those on 112 x 112 and 56 x 56 maps; `benchmarks/int8_extraction.py` measures both).

The quantized file keeps the source file's ``actionline.*`` record (the same fingerprint: it stands in for the same
model) and adds ``actionline.quantization``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from actionline.engine.onnx_graph import graph_metadata
from actionline.errors import ConfigError
from actionline.io import atomic_write

Mode = Literal["dynamic", "static"]
MODES: tuple[str, ...] = ("dynamic", "static")
# static int8 quantizes the products and their activations only: with every elementwise op as well, ONNX Runtime's
# quantizer (quadratic in the tensors it handles) took 22 CPU s instead of 4 on a 20-layer ASFormer graph
PRODUCTS = ("Conv", "MatMul", "Gemm")
ACTIVATIONS = ("Relu", "Clip")  # quantized with the product before them (module docstring)


class _Calibration:
    """ONNX Runtime's calibration reader over input tuples (the graph's inputs in order)."""

    def __init__(self, names: Sequence[str], inputs: Iterable[tuple[torch.Tensor, ...]]):
        self.feeds = iter([{n: x.detach().cpu().numpy() for n, x in zip(names, xs, strict=True)} for xs in inputs])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.feeds, None)


def _computed_weights(proto) -> list[str]:
    """Convolutions whose weights the graph computes (dynamic quantization needs stored weights): left in fp32."""
    stored = {t.name for t in proto.graph.initializer}
    return [n.name for n in proto.graph.node if n.op_type == "Conv" and n.input[1] not in stored]


def quantize_graph(
    source: str | Path,
    out: str | Path,
    mode: Mode = "dynamic",
    calibration: Iterable[tuple[torch.Tensor, ...]] | None = None,
    fp32_products: int = 0,
) -> Path:
    """Write the int8 version of the exported graph ``source`` to ``out`` (atomically). ``static`` needs
    ``calibration``: input tuples as the graph takes them (e.g. a few training videos' features and masks); its
    first ``fp32_products`` products (in graph order) stay fp32."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    if mode not in MODES:
        raise ConfigError(f"--quantize mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "static" and calibration is None:
        raise ConfigError("static int8 quantization needs calibration inputs (features of training videos)")
    record = graph_metadata(source)
    with tempfile.TemporaryDirectory() as tmp:
        quantized = Path(tmp) / "int8.onnx"
        if mode == "dynamic":
            skip = _computed_weights(onnx.load(str(source)))
            quantize_dynamic(source, quantized, weight_type=QuantType.QInt8, nodes_to_exclude=skip)
        else:
            products = [n.name for n in onnx.load(str(source)).graph.node if n.op_type in PRODUCTS]
            names = [i.name for i in ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()]
            quantize_static(
                source,
                quantized,
                _Calibration(names, calibration),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=[*PRODUCTS, *ACTIVATIONS],
                nodes_to_exclude=products[:fp32_products],
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
            )
        proto = onnx.load(str(quantized))
        onnx.helper.set_model_props(
            proto, {**record, "actionline.quantization": f"int8-{mode}", "actionline.fp32_products": str(fp32_products)}
        )
        atomic_write(out, lambda path: onnx.save_model(proto, path))
    return Path(out)
