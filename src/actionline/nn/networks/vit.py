"""Vision transformers in the DeiT / timm layout (``patch_embed.proj``, ``cls_token``, ``pos_embed``,
``blocks.<i>.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}``, ``norm``, ``head``), so that users' ViT / DeiT
checkpoints load; any block may carry a token sampler (ATS, dissertation ch. 7).

A block with a sampler computes its attention over all input tokens, keeps the rows of the sampled tokens (soft
downsampling, Eq. 7.6: keys and values still cover every input token), adds them to those tokens' residuals and
runs the MLP on them; every later block sees K' + 1 tokens. Samples of a batch are padded to the largest K' + 1 and
a token mask keeps padded tokens out of every later attention (masked softmax) and zeroed.

MACs (`block_macs`, fvcore's convention, GFLOPs in the thesis are MACs): a block with n_in input and n_out kept tokens
costs 3 n_in d² (qkv) + n_in² d (QK^T) + n_out n_in d (AV) + 9 n_out d² (projection and MLP); the patch embedding
N · 3p² · d. DeiT-S (d 384, 12 blocks, 197 tokens) is 4.598 GMACs.
"""

from __future__ import annotations

import torch
from torch import nn

from actionline.errors import ConfigError
from actionline.nn.sampling.ats import TokenSampler


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ConfigError(f"the width {dim} must be divisible by the {heads} heads")
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def weights(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention [B, H, N, N] (masked keys get 0) and values [B, H, N, d_h] of tokens x [B, N, d]."""
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        logits = (q * self.scale) @ k.transpose(-2, -1)
        logits = logits.masked_fill(~mask.bool()[:, None, None, :], float("-inf"))
        return logits.softmax(dim=-1), v

    def output(self, attn: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The projected attention output [B, M, d] of attention rows [B, H, M, N]."""
        out = attn @ v
        return self.proj(out.transpose(1, 2).flatten(2))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block; ``sampler`` (None: keep every token) turns it into an ATS / top-K block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, sampler: TokenSampler | None = None):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=1e-6), Mlp(dim, int(dim * mlp_ratio))
        self.sampler = sampler

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens [B, N, d] and mask [B, N] -> kept tokens [B, M, d] and their mask (M = N without a sampler)."""
        attn, v = self.attn.weights(self.norm1(x), mask)
        if self.sampler is not None:
            index, mask = self.sampler(attn, v, mask)
            attn = torch.gather(attn, 2, index[:, None, :, None].expand(-1, attn.shape[1], -1, attn.shape[3]))
            x = torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))
        x = x + self.attn.output(attn, v)
        x = x + self.mlp(self.norm2(x))
        return x * mask[:, :, None].to(x.dtype), mask


class PatchTransformer(nn.Module):
    """What image and video transformers share: the layout checks, the patch embedding, the CLS token, learned
    positions, the final norm, the head, and timm's initialisation (`init_weights`, after the blocks exist)."""

    def __init__(
        self, image_size: int, patch: int, dim: int, depth: int, num_classes: int, samplers: dict | None
    ) -> None:
        super().__init__()
        if image_size % patch:
            raise ConfigError(f"the image size {image_size} must be a multiple of the patch size {patch}")
        if any(not 0 <= i < depth for i in samplers or {}):
            raise ConfigError(f"token samplers go in blocks 0..{depth - 1}, got {sorted(samplers or {})}")
        self.patch, self.dim, self.num_patches = patch, dim, (image_size // patch) ** 2
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, dim))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        self.feature_dim = dim

    def init_weights(self, *embeddings: nn.Parameter) -> None:
        for param in (self.pos_embed, self.cls_token, *embeddings):
            nn.init.trunc_normal_(param, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)


class VisionTransformer(PatchTransformer):
    """ViT / DeiT: patch embedding, CLS token, learned positions, ``depth`` blocks (samplers at the block indices
    of ``samplers``), final norm, ``head``. ``forward`` gives logits [B, classes] and the tokens each block kept
    per sample [B, depth] (CLS included) for the MAC count."""

    def __init__(
        self,
        image_size: int = 224,
        patch: int = 16,
        dim: int = 384,
        depth: int = 12,
        heads: int = 6,
        num_classes: int = 1000,
        mlp_ratio: float = 4.0,
        samplers: dict[int, TokenSampler] | None = None,
    ):
        super().__init__(image_size, patch, dim, depth, num_classes, samplers)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, (samplers or {}).get(i)) for i in range(depth))
        self.init_weights()

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Images [B, 3, S, S] -> tokens [B, N + 1, d] (CLS first, positions added)."""
        x = self.patch_embed.proj(images).flatten(2).transpose(1, 2)
        if x.shape[1] != self.num_patches:
            raise ConfigError(f"{x.shape[1]} patches, the positions are for {self.num_patches} (the image size)")
        return torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed

    def features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The final CLS feature [B, d] and the tokens each block kept per sample [B, depth]."""
        x = self.tokens(images)
        mask = torch.ones(x.shape[:2], device=x.device)
        kept = []
        for block in self.blocks:
            x, mask = block(x, mask)
            kept.append(mask.sum(dim=1))
        return self.norm(x[:, 0]), torch.stack(kept, dim=1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature, kept = self.features(images)
        return self.head(feature), kept

    def macs(self, kept: torch.Tensor) -> torch.Tensor:
        """MACs per sample [B] given the tokens each block kept [B, depth] (`block_macs`, patch embedding, head)."""
        n_in = torch.cat([torch.full_like(kept[:, :1], self.num_patches + 1), kept[:, :-1]], dim=1)
        blocks = block_macs(n_in, kept, self.dim).sum(dim=1)
        embed = self.num_patches * 3 * self.patch**2 * self.dim
        return blocks + embed + self.head.in_features * self.head.out_features


def block_macs(n_in: torch.Tensor | int, n_out: torch.Tensor | int, d: int):
    """MACs of one block with ``n_in`` input and ``n_out`` kept tokens (the spec's bookkeeping)."""
    return 3 * n_in * d * d + n_in * n_in * d + n_out * n_in * d + 9 * n_out * d * d
