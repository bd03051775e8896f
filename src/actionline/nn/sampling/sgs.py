"""Similarity Guided Sampling (dissertation ch. 6, Sec. 6.3; spec `efficient-backbones-sgs-ats.md` A): a 3D CNN's
feature map X [N, C, T, H, W] is resampled to B' <= B temporal bins of frames that look alike, so later layers run
on as many time steps as the clip has distinct moments.

1. Similarity space: p = mean over H, W -> [N, T, C]; Linear C -> C/2, ReLU, Linear C/2 -> L, BatchNorm1d(L) (the
   released code; the thesis writes two kernel-1 convolutions). L = 8 (Table 6.3).
2. Similarity value Δ_t: ||Z_t - mean_t' Z_t'||_2, the distance to the clip mean (the released code's default), or
   ||Z_t||_2 (the thesis, ``similarity="norm"``).
3. Bins per clip: Δ_max = max_t Δ_t, γ = Δ_max / 2B, centres β_b = (2b - 1) γ; γ and β are constants for the
   gradient (computed from Δ detached).
4. O_b = Σ_t Ψ(Δ_t, β_b) X_t. Linear kernel Ψ = max(0, 1 - |Δ_t - β_b| / γ), a weighted sum, not normalised
   (Eq. 6.6); Kronecker kernel: the frames of the bin, averaged (Eq. 6.5). ``linear_normalised`` (an ablation, not
   in the thesis): the linear kernel's weights divided by their sum per bin, a weighted mean.
5. Empty bins (Σ_t Ψ = 0) are dropped: each clip keeps its own B' bins in increasing b; a batch is zero-padded to
   the largest B' and returns a mask [N, B'] (1 = a real bin) that later layers respect. After SGS the time axis is
   ordered by similarity value, not chronologically.

``similarity_grad`` scales the gradient that reaches the similarity space and the layers before SGS through Δ
(Eq. 6.8; the released code's GRAD_SCALE_VAL, 1 there and here); 0 detaches Δ, so the similarity space keeps its
initialisation and earlier layers learn only through O (Eq. 6.7). Through Δ that gradient carries 1 / γ = 2B / Δ_max;
in Table 6.12's network on a CPU-scale task it is an order of magnitude larger than the rest and keeps the layers
before SGS from learning appearance (`benchmarks/sgs_diagnosis.py`).

``similarity="time"`` is a control, not the thesis: Δ_t = t + 1/2 over a fixed range T, so the bins are B uniform
chronological windows of T / B frames, sampled by the same kernels (no similarity space is built).

Edge cases, decided (spec gotchas 1-2): the first and last bins extend flat to the ends of the range, i.e. Δ is
clamped to [β_1, β_B] before the kernel. So the frame at Δ_max (on bin B's outer edge, weight 0 under the bare
kernel; the released code adds 1e-7) counts fully in bin B and frames below β_1 fully in bin 1; the derivative there
is 0 (the clamp's subgradient). Inside the range the thesis' kernel is kept as it is: the triangles of half-width γ
touch at the bin boundaries, so a frame exactly on one has weight 0. A static clip (Δ_max = 0) puts every frame in bin 1
(B' = 1). Frames masked out on input (a padded clip) take part in nothing.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from actionline.errors import ConfigError

Kernel = Literal["linear", "kronecker", "linear_normalised"]
Similarity = Literal["mean_distance", "norm", "time"]
EPS = 1e-12


def bin_weights(
    delta: torch.Tensor, bins: int, kernel: Kernel, mask: torch.Tensor | None = None, top: torch.Tensor | None = None
) -> torch.Tensor:
    """W [N, B, T]: frame t's weight in bin b for similarity values Δ [N, T] (``mask`` [N, T]: 1 = a real frame;
    ``top`` [N, 1]: Δ_max, by default from Δ detached)."""
    valid = mask if mask is not None else torch.ones_like(delta)
    if top is None:
        top = (delta.detach() * valid).amax(dim=1, keepdim=True)
    gamma = (top / (2 * bins)).clamp_min(EPS)
    centres = (2 * torch.arange(1, bins + 1, device=delta.device, dtype=delta.dtype) - 1)[None, :] * gamma  # [N, B]
    d = torch.minimum(torch.maximum(delta, centres[:, :1]), centres[:, -1:])  # flat outer bins
    if kernel == "kronecker":
        index = (d.detach() / (2 * gamma)).floor().clamp(0, bins - 1).long()  # half-open bins [2(b-1)γ, 2bγ)
        w = nn.functional.one_hot(index, bins).transpose(1, 2).to(delta.dtype)
    else:  # the linear triangles (normalised per bin by the caller for "linear_normalised")
        w = (1 - (d[:, None, :] - centres[:, :, None]).abs() / gamma[:, :, None]).clamp_min(0)
    return w * valid[:, None, :]


class SimilarityGuidedSampling(nn.Module):
    """X [N, C, T, H, W] (and an optional frame mask [N, T]) -> (O [N, C, B', H, W], mask [N, B'])."""

    def __init__(
        self,
        channels: int,
        bins: int = 32,
        embedding: int = 8,
        kernel: Kernel = "linear",
        similarity: Similarity = "mean_distance",
        similarity_grad: float = 1.0,
    ):
        super().__init__()
        if bins < 1 or embedding < 1 or channels < 2 or similarity_grad < 0:
            raise ConfigError(
                "SGS needs bins >= 1, embedding >= 1, channels >= 2 and similarity_grad >= 0, got "
                f"{bins}, {embedding}, {channels}, {similarity_grad}"
            )
        self.bins, self.kernel, self.similarity, self.similarity_grad = bins, kernel, similarity, similarity_grad
        if similarity != "time":
            self.embed = nn.Sequential(
                nn.Linear(channels, channels // 2), nn.ReLU(inplace=True), nn.Linear(channels // 2, embedding)
            )
            self.norm = nn.BatchNorm1d(embedding)

    def similarity_values(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Δ [N, T] (steps 1-2)."""
        n, _, t = x.shape[:3]
        if self.similarity == "time":
            return (torch.arange(t, device=x.device, dtype=x.dtype) + 0.5).expand(n, t)
        z = self.embed(x.mean(dim=(3, 4)).transpose(1, 2))  # [N, T, L]
        z = self.norm(z.reshape(n * t, -1)).view(n, t, -1)
        if self.similarity == "norm":
            return z.norm(dim=2)
        valid = mask if mask is not None else torch.ones(n, t, device=x.device, dtype=x.dtype)
        mean = (z * valid[..., None]).sum(1, keepdim=True) / valid.sum(1, keepdim=True)[..., None].clamp_min(1)
        return (z - mean).norm(dim=2)

    def value_range(self, delta: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor | None:
        """Δ_max [N, 1] that sets γ and β (Eq. 6.2); None: the maximum of Δ detached, so γ and β are constants
        for the gradient (Eq. 6.8); the clip length T for the chronological control."""
        return delta.new_full((delta.shape[0], 1), delta.shape[1]) if self.similarity == "time" else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        delta = self.similarity_values(x, mask)
        if self.similarity_grad == 0:
            delta = delta.detach()
        elif self.similarity_grad != 1:
            delta = delta.detach() + self.similarity_grad * (delta - delta.detach())  # same value, scaled gradient
        w = bin_weights(delta, self.bins, self.kernel, mask, self.value_range(delta, mask))  # [N, B, T]
        mass = w.sum(dim=2)  # [N, B]
        if self.kernel != "linear":
            w = w / mass.clamp_min(EPS)[:, :, None]
        out = torch.einsum("nbt,ncthw->ncbhw", w, x)
        active = mass > 0
        counts = active.sum(dim=1)
        order = torch.argsort((~active).to(torch.int8), dim=1, stable=True)[:, : int(counts.max())]  # active first
        out = torch.gather(out, 2, order[:, None, :, None, None].expand(-1, out.shape[1], -1, *out.shape[3:]))
        kept = torch.arange(order.shape[1], device=x.device)[None, :] < counts[:, None]
        return out * kept[:, None, :, None, None].to(out.dtype), kept.to(x.dtype)
