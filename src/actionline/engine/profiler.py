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
from actionline.engine.memory_budget import check_fits, is_out_of_memory
from actionline.errors import ConfigError
from actionline.models.registry import build_model, model_class

MAX_SIZE = 2**31 - 1  # torch's sizes past this overflow 32-bit index arithmetic in many kernels
MAX_REPEATS = 1000


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
    sizes_ok = 1 <= length <= MAX_SIZE and 1 <= input_dim <= MAX_SIZE and 2 <= num_classes <= MAX_SIZE
    if not sizes_ok or not 1 <= repeats <= MAX_REPEATS:
        raise ConfigError(
            f"profile needs --length >= 1, --input-dim >= 1, --num-classes >= 2 (each below 2**31) and --repeats "
            f"from 1 to {MAX_REPEATS}, got {length}, {input_dim}, {num_classes}, {repeats}"
        )
    dev = resolve_device(device)
    config = {**(settings or {}), "input_dim": input_dim, "num_classes": num_classes}
    check_fits(name, config, length, dev)  # before anything of that size is allocated
    try:
        return _measure(name, config, length, repeats, dev)
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        raise ConfigError(
            f"{name} ran out of memory at --length {length}, --input-dim {input_dim}, --num-classes {num_classes} "
            f"on {dev} ({str(exc).splitlines()[0][:160]}): choose a smaller size"
        ) from None


def _measure(name: str, config: dict[str, Any], length: int, repeats: int, dev: torch.device) -> Profile:
    """The measurements of `profile_model` (its arguments checked)."""
    num_classes = config["num_classes"]
    rss_before = _rss_kb("VmRSS") if dev.type == "cpu" else 0
    watermark = _reset_peak_rss() if dev.type == "cpu" else False
    model = build_model(name, config).to(dev).eval()
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
