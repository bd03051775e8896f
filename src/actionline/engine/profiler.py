"""Parameters, GMACs, latency and peak memory of any registered model at any input length."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from actionline.engine.device import resolve_device
from actionline.errors import ConfigError
from actionline.models.registry import build_model, model_class


@dataclass
class Profile:
    model: str
    params: int
    gmacs: float  # convolutions + linear layers (what the papers' tables count)
    gmacs_total: float  # every matmul/conv including attention products
    latency_ms: float
    peak_mem_mb: float
    length: int
    device: str
    threads: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def describe(self) -> str:
        return (
            f"{self.model}: {self.params:,} parameters, {self.gmacs:.2f} GMACs (conv+linear; "
            f"{self.gmacs_total:.2f} with attention products), latency {self.latency_ms:.1f} ms, "
            f"peak memory {self.peak_mem_mb:.0f} MB  [T={self.length}, {self.device}, {self.threads} threads]"
        )


class MacCounter:
    """MACs of convolution and linear layers of ``model`` while in a ``with`` block, counted with forward hooks
    (output elements x inputs per output), so inputs whose length varies (SGS's B' per clip) count what they ran."""

    CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)

    def __init__(self, model: nn.Module):
        self.model, self.total, self.handles = model, 0, []

    def _hook(self, module, inputs, output) -> None:
        if isinstance(module, self.CONVS):
            self.total += output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
        elif isinstance(module, nn.Linear):
            self.total += output.numel() * module.in_features

    def __enter__(self) -> MacCounter:
        self.handles = [
            m.register_forward_hook(self._hook) for m in self.model.modules() if isinstance(m, (*self.CONVS, nn.Linear))
        ]
        return self

    def __exit__(self, *exc) -> None:
        for h in self.handles:
            h.remove()


def _product_flops(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs (2 x MACs) of ``self += a @ b`` for [.., M, K] @ [.., K, N] (batched or not)."""
    return 2 * math.prod(a_shape) * b_shape[-1]


def product_counter() -> FlopCounterMode:
    """``FlopCounterMode`` that also counts the in-place products ``addmm_`` / ``baddbmm_`` (the time-major
    convolutions' side taps run as these; the stock counter skips them)."""
    aten = torch.ops.aten
    return FlopCounterMode(display=False, custom_mapping={aten.addmm_: _product_flops, aten.baddbmm_: _product_flops})


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    """Reset the process's peak-RSS watermark (Linux ``clear_refs``); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def profile_model(
    name: str,
    input_dim: int | None,
    num_classes: int,
    length: int | None,
    repeats: int = 5,
    device: str = "cpu",
    settings: dict[str, Any] | None = None,
) -> Profile:
    """Profile ``name`` on one random video of ``length`` frames (batch 1, inference mode); ``input_dim`` and
    ``length`` None: the model's own (2048-d, 5,750 frames for temporal models; a clip for clip classifiers).

    Peak memory: on CUDA the allocator's peak; on CPU the peak resident set above the process's footprint before
    the model and input were created (weights + input + activations), via the Linux RSS watermark.
    """
    torch.manual_seed(0)
    input_dim = input_dim if input_dim is not None else model_class(name).Config.input_dim
    length = length if length is not None else model_class(name).default_length(settings or {})
    if length < 1 or input_dim < 1 or num_classes < 2 or repeats < 1:
        raise ConfigError(
            f"profile needs --length >= 1, --input-dim >= 1, --num-classes >= 2 and --repeats >= 1, "
            f"got {length}, {input_dim}, {num_classes}, {repeats}"
        )
    dev = resolve_device(device)
    rss_before = _rss_kb("VmRSS") if dev.type == "cpu" else 0
    watermark = _reset_peak_rss() if dev.type == "cpu" else False
    model = build_model(name, {**(settings or {}), "input_dim": input_dim, "num_classes": num_classes}).to(dev).eval()
    x, mask = (t.to(dev) for t in model.example_inputs(length))

    def run():
        model.decode(model(x, mask), mask, ["profile"], [str(i) for i in range(num_classes)])

    with torch.inference_mode():
        run()  # warm-up
        with MacCounter(model) as counted:
            model(x, mask)
        macs = counted.total
        with product_counter() as counter:
            model(x, mask)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        times = []
        for _ in range(max(1, repeats)):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            run()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            times.append(time.perf_counter() - t0)
        if dev.type == "cuda":
            peak = torch.cuda.max_memory_allocated(dev) / 2**20
        elif watermark:
            peak = max(0, _rss_kb("VmHWM") - rss_before) / 1024
        else:
            peak = float("nan")
    return Profile(
        name,
        sum(p.numel() for p in model.parameters()),
        macs / 1e9,
        counter.get_total_flops() / 2e9,
        1000 * statistics.median(times),
        peak,
        length,
        str(dev),
        torch.get_num_threads(),
    )
