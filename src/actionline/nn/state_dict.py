"""Comparing a checkpoint's tensors with a module's before loading, so that errors name every problem."""

from __future__ import annotations

import torch


def fit_problems(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> list[str]:
    """Why ``state`` does not load into a module whose state is ``own``: missing, unexpected and mis-shaped keys
    (BatchNorm's ``num_batches_tracked`` may be absent: PyTorch 0.3 checkpoints); empty when it fits."""
    missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in state if k not in own)
    shapes = sorted(
        f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    )
    problems = [
        (f"missing {len(missing)} keys (e.g. {', '.join(missing[:3])})" if missing else ""),
        (f"unexpected {len(unexpected)} keys (e.g. {', '.join(unexpected[:3])})" if unexpected else ""),
        (f"mis-shaped {len(shapes)} keys (e.g. {'; '.join(shapes[:2])})" if shapes else ""),
    ]
    return [p for p in problems if p]
