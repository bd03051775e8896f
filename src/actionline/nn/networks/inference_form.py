"""A frozen convolutional network rewritten for inference, computing the same function up to rounding.

The network's ``features`` is traced once (torch.fx, convolutions kept as calls to their modules) and rewritten:

- every BatchNorm in eval mode that reads only a convolution's output is folded into that convolution's weight and
  bias (``w * gamma / sqrt(var + eps)``, ``(b - mean) * gamma / sqrt(var + eps) + beta``), so the normalisation's
  pass over the map disappears;
- ReLU / ReLU6 run in place on a map nothing else reads, and a residual sum accumulates into the branch's fresh
  output, so no new map is allocated and first touched for them;
- parameters and inputs are channels-last (NHWC / NDHWC), the layout oneDNN's convolutions, depthwise ones
  especially, run fastest in on a CPU.

Folding changes the order of the floating-point operations: outputs agree with the original to about 1e-5 relative
(tested for every registered backbone).
"""

from __future__ import annotations

import copy
import operator

import torch
from torch import fx, nn
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils.fusion import fuse_conv_bn_eval

IN_PLACE_FUNCTIONS = {F.relu, F.relu6, F.hardtanh}


class _Features(nn.Module):
    """``network.features`` as a module's forward, so that it can be traced."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.features(x)


class _ConvLeafTracer(fx.Tracer):
    """Keeps convolutions (subclasses with their own padding included) as single module calls."""

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return isinstance(module, _ConvNd) or super().is_leaf_module(module, qualified_name)


def _only_reader(node: fx.Node, reader: fx.Node) -> bool:
    return node.op != "placeholder" and list(node.users) == [reader]


def _fold_batch_norms(module: fx.GraphModule) -> None:
    modules = dict(module.named_modules())
    for node in list(module.graph.nodes):
        if node.op != "call_module" or not isinstance(modules[node.target], _BatchNorm):
            continue
        source = node.args[0]
        if source.op == "call_module" and isinstance(modules[source.target], _ConvNd) and _only_reader(source, node):
            fused = fuse_conv_bn_eval(modules[source.target], modules[node.target])
            module.set_submodule(source.target, fused)
            node.replace_all_uses_with(source)
            module.graph.erase_node(node)


def _in_place(module: fx.GraphModule) -> None:
    for node in module.graph.nodes:
        if node.op == "call_function" and node.target in IN_PLACE_FUNCTIONS and _only_reader(node.args[0], node):
            node.kwargs = {**node.kwargs, "inplace": True}
        elif node.op == "call_function" and node.target is operator.add and len(node.args) == 2:
            first, second = node.args
            if isinstance(first, fx.Node) and isinstance(second, fx.Node) and _only_reader(first, node):
                node.op, node.target = "call_method", "add_"


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """NCHW / NCDHW -> the channels-last layout of the same shape."""
    fmt = torch.channels_last if x.ndim == 4 else torch.channels_last_3d
    return x.contiguous(memory_format=fmt)


@torch.no_grad()
def inference_form(network: nn.Module, dims: int = 2) -> fx.GraphModule:
    """``network.features`` (an eval-mode network) rewritten as described above; ``dims``: 2 for images
    [B, C, H, W], 3 for clips [B, C, T, H, W]. The original network is left unchanged."""
    if network.training:
        raise ValueError("inference_form needs a network in eval mode (BatchNorm statistics are folded)")
    root = _Features(network)
    graph = _ConvLeafTracer().trace(root)
    module = copy.deepcopy(fx.GraphModule(root, graph))  # folding replaces modules: never the caller's
    _fold_batch_norms(module)
    _in_place(module)
    module.graph.lint()
    module.delete_all_unused_submodules()
    module.recompile()
    fmt = torch.channels_last if dims == 2 else torch.channels_last_3d
    return module.to(memory_format=fmt).eval()
