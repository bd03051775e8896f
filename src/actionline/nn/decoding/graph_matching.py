"""Deep graph matching in the PCA-GM style (Wang et al., ICCV 2019), as used by RTK Sec. 3.2: a GCN embeds each
graph's nodes, an affinity between the two node sets passes through Sinkhorn normalisation, and the permutation
loss (cross-entropy against the ground-truth correspondence) supervises it.

RTK's graphs are temporal keypoints with directed edges among all points (Fig. 4). Edge weights are not given in
the paper; here node i aggregates its neighbours with weights ``exp(-|t_i - t_j| / scale)`` normalised over j (a
row-stochastic, hence directed, fully connected graph). PCA-GM's cross-graph convolution is left out: at inference
there is no target graph and RTK uses the intra-graph GCN embeddings alone (Sec. 4.4).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def temporal_adjacency(times: torch.Tensor, scale: float) -> torch.Tensor:
    """[N] positions -> [N, N] row-normalised weights, no self loops."""
    d = (times[:, None] - times[None, :]).abs()
    w = torch.exp(-d / max(scale, 1e-6))
    w = w * (1 - torch.eye(len(times), device=times.device, dtype=w.dtype))
    return w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)


class GraphConv(nn.Module):
    """``h_i' = ReLU(W_self h_i + Σ_j A_ij W_msg h_j)``."""

    def __init__(self, dim: int):
        super().__init__()
        self.self_weight = nn.Linear(dim, dim)
        self.message = nn.Linear(dim, dim)

    def forward(self, h: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        return F.relu(self.self_weight(h) + adjacency @ self.message(h))


class GraphEmbedding(nn.Module):
    """Stacked graph convolutions over a keypoint graph: node features [N, d], times [N] -> embeddings [N, d]."""

    def __init__(self, dim: int, layers: int = 2):
        super().__init__()
        self.layers = nn.ModuleList(GraphConv(dim) for _ in range(layers))

    def forward(self, h: torch.Tensor, times: torch.Tensor, scale: float) -> torch.Tensor:
        adjacency = temporal_adjacency(times, scale)
        for layer in self.layers:
            h = layer(h, adjacency)
        return h


def sinkhorn(log_alpha: torch.Tensor, iterations: int = 10) -> torch.Tensor:
    """Alternate row/column normalisation in the log domain -> a (near) doubly-stochastic matrix."""
    for _ in range(iterations):
        log_alpha = log_alpha - torch.logsumexp(log_alpha, dim=1, keepdim=True)
        log_alpha = log_alpha - torch.logsumexp(log_alpha, dim=0, keepdim=True)
    return log_alpha.exp()


class GraphMatcher(nn.Module):
    """Affinity ``s_ij = h_i^T W g_j / τ`` between source and target embeddings, then Sinkhorn."""

    def __init__(self, dim: int, temperature: float = 0.1, iterations: int = 10):
        super().__init__()
        self.weight = nn.Parameter(torch.eye(dim))
        self.temperature = temperature
        self.iterations = iterations

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sinkhorn(source @ self.weight @ target.T / self.temperature, self.iterations)


def permutation_loss(soft: torch.Tensor, match: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy between the soft assignment [N, M] and the one-hot correspondence ``match`` [N]
    (target index of each source node), averaged over source nodes (PCA-GM's permutation loss)."""
    truth = F.one_hot(match, soft.shape[1]).to(soft.dtype)
    return F.binary_cross_entropy(soft.clamp(1e-7, 1 - 1e-7), truth, reduction="sum") / max(len(match), 1)
