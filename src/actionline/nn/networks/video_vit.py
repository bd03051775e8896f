"""A video transformer with divided space-time attention (TimeSformer, Bertasius et al. 2021), the video backbone of
ATS's experiments (dissertation Sec. 7.3.2), in TimeSformer's layout (``patch_embed.proj``, ``cls_token``,
``pos_embed``, ``time_embed``, ``blocks.<i>.{temporal_norm1, temporal_attn, temporal_fc, norm1, attn, norm2, mlp}``,
``norm``, ``head``).

Each block: temporal attention among the T tokens of every patch position (through ``temporal_fc``), then spatial
attention among the CLS token and the patches of every frame (the CLS output averaged over frames), then the MLP.

Token sampling (ATS) in a block samples patch *positions*: the significance of a position is the spatial
attention of the CLS token times the value norms, summed over the frames, and the kept positions are the same in
every frame, so the next block's temporal attention still finds each position in all T frames (a choice: the thesis
does not say how ATS meets divided attention). Kept rows of the spatial attention still attend to all positions
(soft downsampling, Eq. 7.6).
"""

from __future__ import annotations

import torch
from torch import nn

from actionline.errors import ConfigError
from actionline.nn.networks.vit import Attention, Mlp, PatchTransformer
from actionline.nn.sampling.ats import TokenSampler, budgets, inverse_transform, pack, significance, top_k


class DividedBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, sampler: TokenSampler | None = None):
        super().__init__()
        self.temporal_norm1, self.temporal_attn = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=1e-6), Mlp(dim, int(dim * mlp_ratio))
        self.sampler = sampler

    def forward(
        self, cls: torch.Tensor, patches: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """CLS [B, d], patches [B, T, P, d], position mask [B, P] -> the same after the block (P' <= P kept)."""
        b, t, p, d = patches.shape
        seq = patches.transpose(1, 2).reshape(b * p, t, d)  # the T tokens of each position
        temporal_attn, v = self.temporal_attn.weights(self.temporal_norm1(seq), seq.new_ones(b * p, t))
        temporal = self.temporal_fc(self.temporal_attn.output(temporal_attn, v))
        patches = patches + temporal.view(b, p, t, d).transpose(1, 2) * mask[:, None, :, None]
        frames = torch.cat([cls[:, None, None, :].expand(b, t, 1, d), patches], dim=2).reshape(b * t, p + 1, d)
        key_mask = torch.cat([mask.new_ones(b, 1), mask], dim=1)  # [B, P + 1]
        attn, v = self.attn.weights(self.norm1(frames), key_mask.repeat_interleave(t, dim=0))
        if self.sampler is not None:
            index, key_mask = self.sample(attn, v, key_mask, t)
            rows = index.repeat_interleave(t, dim=0)
            attn = torch.gather(attn, 2, rows[:, None, :, None].expand(-1, attn.shape[1], -1, attn.shape[3]))
            patches = torch.gather(patches, 2, index[:, None, 1:, None].expand(-1, t, -1, d) - 1)
        spatial = self.attn.output(attn, v).view(b, t, -1, d)
        cls = cls + spatial[:, :, 0].mean(dim=1)
        mask = key_mask[:, 1:]
        patches = (patches + spatial[:, :, 1:]) * mask[:, None, :, None]
        tokens = torch.cat([cls[:, None], patches.flatten(1, 2)], dim=1)
        tokens = tokens + self.mlp(self.norm2(tokens))
        return tokens[:, 0], tokens[:, 1:].view(b, t, -1, d) * mask[:, None, :, None], mask

    def sample(
        self, attn: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor, t: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Kept positions [B, K' + 1] (0 = CLS) from the frames' spatial attention, summed over frames."""
        frame_mask = key_mask.repeat_interleave(t, dim=0)
        scores = significance(attn, v, frame_mask).view(-1, t, key_mask.shape[1]).sum(dim=1)
        scores = scores / scores.sum(dim=1, keepdim=True).clamp_min(torch.finfo(scores.dtype).tiny)
        s = self.sampler
        k = budgets(key_mask, s.tokens, s.ratio)
        chosen = inverse_transform(scores, key_mask, k) if s.method == "ats" else top_k(scores, key_mask, k)
        return pack(chosen)


class VideoTransformer(PatchTransformer):
    """TimeSformer-style video ViT for clips of ``frames`` x ``image_size``²; ``forward`` gives logits and the
    patch positions each block kept per clip [B, depth]."""

    def __init__(
        self,
        image_size: int = 224,
        patch: int = 16,
        frames: int = 8,
        dim: int = 768,
        depth: int = 12,
        heads: int = 12,
        num_classes: int = 400,
        mlp_ratio: float = 4.0,
        samplers: dict[int, TokenSampler] | None = None,
    ):
        super().__init__(image_size, patch, dim, depth, num_classes, samplers)
        self.frames = frames
        self.time_embed = nn.Parameter(torch.zeros(1, frames, dim))
        self.blocks = nn.ModuleList(DividedBlock(dim, heads, mlp_ratio, (samplers or {}).get(i)) for i in range(depth))
        self.init_weights(self.time_embed)

    def features(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips [B, 3, T, S, S] -> the final CLS feature [B, d] and the positions kept per block [B, depth]."""
        b, _, t = clips.shape[:3]
        if t != self.frames:
            raise ConfigError(f"this video transformer's time embedding is for {self.frames} frames, got {t}")
        x = self.patch_embed.proj(clips.transpose(1, 2).flatten(0, 1)).flatten(2).transpose(1, 2)  # [B T, P, d]
        if x.shape[1] != self.num_patches:
            raise ConfigError(f"{x.shape[1]} patches per frame, the positions are for {self.num_patches}")
        patches = x.view(b, t, -1, self.dim) + self.pos_embed[:, None, 1:] + self.time_embed[:, :, None]
        cls = (self.cls_token + self.pos_embed[:, :1])[:, 0].expand(b, -1)
        mask = clips.new_ones(b, self.num_patches)
        kept = []
        for block in self.blocks:
            cls, patches, mask = block(cls, patches, mask)
            kept.append(mask.sum(dim=1))
        return self.norm(cls), torch.stack(kept, dim=1)

    def macs(self, kept: torch.Tensor) -> torch.Tensor:
        """MACs per clip [B] given the positions each block kept [B, depth]: per block, temporal attention over the
        p_in positions (qkv, products, projection, ``temporal_fc``: p_in (5 T d² + 2 T² d)), spatial attention in
        each frame (T (3 n_in d² + n_in² d + n_out n_in d + n_out d²), n = positions + CLS) and the MLP on
        1 + T p_out tokens (8 d² each); patch embedding and head."""
        t, d = self.frames, self.dim
        p_out = kept
        p_in = torch.cat([torch.full_like(kept[:, :1], self.num_patches), kept[:, :-1]], dim=1)
        n_in, n_out = p_in + 1, p_out + 1
        temporal = p_in * (5 * t * d * d + 2 * t * t * d)
        spatial = t * (3 * n_in * d * d + n_in * n_in * d + n_out * n_in * d + n_out * d * d)
        mlp = (1 + t * p_out) * 8 * d * d
        embed = t * self.num_patches * 3 * self.patch**2 * d
        return (temporal + spatial + mlp).sum(dim=1) + embed + self.head.in_features * self.head.out_features
