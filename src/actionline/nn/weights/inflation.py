"""Starting a video network from other weights (dissertation Sec. 4.3): the inflation baseline (I3D-style: each 2D
kernel repeated along time and divided by the temporal kernel size, so a clip of identical frames gives the 2D
network's activations away from the temporal borders) and loading a network's own layout for fine-tuning with a
new classifier."""

from __future__ import annotations

import torch
from torch import nn

from actionline.errors import CheckpointError
from actionline.nn.weights.state_dict import fit_problems


def inflate_state(state2d: dict[str, torch.Tensor], net: nn.Module) -> dict[str, torch.Tensor]:
    """``net``'s state with every tensor of ``state2d`` of the same name: 2D kernels [O, I, h, w] become
    [O, I, t, h, w] (repeated t times, divided by t); other tensors are copied. The classifier ``fc`` is left out
    (its classes are the 2D network's)."""
    own = net.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, target in own.items():
        if key.startswith("fc.") or key.endswith("num_batches_tracked") or key not in state2d:
            continue
        w = state2d[key]
        if w.ndim == 4 and target.ndim == 5 and w.shape == target.shape[:2] + target.shape[3:]:
            t = target.shape[2]
            w = w.unsqueeze(2).repeat(1, 1, t, 1, 1) / t
        if w.shape != target.shape:
            raise CheckpointError(f"cannot inflate {key}: 2D {tuple(state2d[key].shape)} vs 3D {tuple(target.shape)}")
        out[key] = w
    learnable = [k for k in own if not k.startswith("fc.") and not k.endswith("num_batches_tracked")]
    missing = [k for k in learnable if k not in out]
    if missing:
        raise CheckpointError(
            f"the 2D weights lack {len(missing)} of the 3D network's tensors (e.g. {', '.join(missing[:3])}): "
            "inflation needs a 2D network of the same depth and width in torchvision's layout"
        )
    return out


def load_network_state(
    net: nn.Module, state: dict[str, torch.Tensor], where: str, classifier: str = "fc."
) -> list[str]:
    """Load ``state`` into ``net`` strictly except for the classifier (keys starting with ``classifier``), which is
    kept fresh when its shape differs (a new classifier for new classes); returns the keys left fresh."""
    own = net.state_dict()
    fresh = [k for k in own if k.startswith(classifier) and (k not in state or state[k].shape != own[k].shape)]
    # the checkpoint's classifier is dropped where it does not fit (or where the network has none: tagging heads)
    state = {k: v for k, v in state.items() if k not in fresh and (k in own or not k.startswith(classifier))}
    problems = fit_problems({k: v for k, v in own.items() if k not in fresh}, state)
    if problems:
        raise CheckpointError(f"{where}: weights do not fit the network: {'; '.join(problems)}")
    net.load_state_dict(state, strict=False)
    return fresh
