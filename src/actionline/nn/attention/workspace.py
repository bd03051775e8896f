"""Named scratch buffers reused by the layers of one inference pass.

A fresh feature map is written to memory the cache has not seen (and, with glibc's default thresholds, freshly
mapped): on this CPU that first write costs as much as a 64 -> 64 product over the frames. Inference paths that
own their intermediate results (`nn.attention.asformer`, `nn.attention.window_attention`) take them from a
`Workspace` instead: views of flat storage that grows to the largest request and is then reused layer after layer.
"""

from __future__ import annotations

import math

import torch


class Workspace:
    def __init__(self):
        self._storage: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A contiguous [shape] buffer (uninitialised) with ``like``'s dtype and device; the same memory every
        time ``name`` is asked for, so the caller must be done with the previous contents."""
        n = math.prod(shape)
        flat = self._storage.get(name)
        if flat is None or flat.numel() < n or flat.dtype != like.dtype or flat.device != like.device:
            flat = self._storage[name] = like.new_empty(max(n, 1))
        return flat[:n].view(shape)
