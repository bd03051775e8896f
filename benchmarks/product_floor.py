"""The time a workload's matrix products take on their own: the floor under its latency on this BLAS.

A workload is run once under a dispatch mode that records every matrix product it calls (``mm``, ``addmm``,
``bmm``, ``baddbmm`` and their in-place and ``out=`` forms, forward and backward, and those that ``matmul``,
``linear`` and ``einsum`` run as) with each operand's shape and strides. Each distinct call is then replayed on
fresh operands laid out the same way (same strides, so transposed and strided operands stay so), timed alone with
warm caches, and the times are summed over the calls. The sum is what the products cost if nothing else ran and
none of them waited for memory: dividing the workload's GMACs by it gives the highest fraction of the matmul peak
the workload could reach with these products.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode

PRODUCTS = frozenset({"mm", "addmm", "addmm_", "bmm", "baddbmm", "baddbmm_", "addbmm", "addbmm_"})
# composite operators that run as the products above: outside autograd (``inference_mode``) they reach the recorder
# whole, so it decomposes them and records the products they run as
COMPOSITE_PRODUCTS = frozenset({"matmul", "linear", "einsum"})


@dataclass(frozen=True)
class OperandLayout:
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: torch.dtype

    def fresh(self) -> torch.Tensor:
        """Random values in a new buffer with this layout (overlapping and broadcast strides included)."""
        size = 1 + sum((n - 1) * s for n, s in zip(self.shape, self.stride, strict=True)) if all(self.shape) else 0
        return torch.randn(size, dtype=self.dtype).as_strided(self.shape, self.stride)


@dataclass
class ProductCall:
    """One distinct product (operator and operand layouts) and how many times the workload called it."""

    op: torch._ops.OpOverload
    args: tuple
    kwargs: dict
    count: int = 0
    best_s: float = math.inf

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one call: the last two tensor arguments are the product's factors."""
        a, b = [x for x in self.args if isinstance(x, OperandLayout)][-2:]
        batch = a.shape[0] if len(a.shape) == 3 else 1
        return batch * a.shape[-2] * a.shape[-1] * b.shape[-1]

    def time(self, repeats: int) -> float:
        """Best time of ``repeats`` calls on fresh operands, and of earlier rounds' calls (``best_s``)."""
        args = tuple(x.fresh() if isinstance(x, OperandLayout) else x for x in self.args)
        kwargs = {k: v.fresh() if isinstance(v, OperandLayout) else v for k, v in self.kwargs.items()}
        self.op(*args, **kwargs)  # warm-up
        for _ in range(repeats):
            started = time.perf_counter()
            self.op(*args, **kwargs)
            self.best_s = min(self.best_s, time.perf_counter() - started)
        return self.best_s


def _layout(x):
    return OperandLayout(tuple(x.shape), tuple(x.stride()), x.dtype) if isinstance(x, torch.Tensor) else x


class _Recorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls: dict[tuple, ProductCall] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.overloadpacket.__name__ in COMPOSITE_PRODUCTS:
            with self:
                return func.decompose(*args, **kwargs)
        if func.overloadpacket.__name__ in PRODUCTS:
            layouts, kw_layouts = tuple(map(_layout, args)), {k: _layout(v) for k, v in kwargs.items()}
            key = (func, layouts, tuple(sorted(kw_layouts.items())))
            self.calls.setdefault(key, ProductCall(func, layouts, kw_layouts)).count += 1
        return func(*args, **kwargs)


class ProductFloor:
    """The products of one call of ``workload`` (recorded at construction), timed on their own by `measure`."""

    def __init__(self, workload: Callable[[], object]):
        recorder = _Recorder()
        with recorder:
            workload()
        self.calls = list(recorder.calls.values())

    @property
    def macs(self) -> int:
        return sum(c.count * c.macs for c in self.calls)

    def measure(self, repeats: int = 5) -> float:
        """Seconds the products take alone: each distinct call's best time (over this and earlier rounds) times its
        count, summed. Calling it in every round of an interleaved benchmark keeps the best seen."""
        return sum(c.count * c.time(repeats) for c in self.calls)
