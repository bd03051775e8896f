"""Adaptive Token Sampling (dissertation ch. 7): sampling by hand, the exact block and model properties of the
spec, padding, the analytic MAC counter against DeiT-S, the DeiT layout, and ATS added to a trained run at
prediction time without fine-tuning."""

from __future__ import annotations

import json

import pytest
import torch

from actionline.errors import ConfigError
from actionline.models.registry import build_model
from actionline.nn.networks.vit import Block, VisionTransformer, block_macs
from actionline.nn.sampling.ats import TokenSampler, inverse_transform, pack, significance, top_k

ALL = torch.ones(1, 5)


def test_inverse_transform_sampling_by_hand():
    """Scores 0.1..0.4 (CLS 0): CDF 0.1, 0.3, 0.6, 1.0 -> min-max 0, 2/9, 5/9, 1."""
    scores = torch.tensor([[0.0, 0.1, 0.2, 0.3, 0.4]])
    assert inverse_transform(scores, ALL, torch.tensor([2])).tolist() == [[False, False, True, True, False]]
    # K = 4: points 1/8, 3/8, 5/8, 7/8 -> tokens 2, 2, 3, 4: a duplicate, so K' = 3 < K
    assert inverse_transform(scores, ALL, torch.tensor([4])).tolist() == [[False, False, True, True, True]]
    assert top_k(scores, ALL, torch.tensor([2])).tolist() == [[False, False, False, True, True]]
    uniform = torch.tensor([[0.0] + [0.25] * 4])
    assert inverse_transform(uniform, ALL, torch.tensor([4])).tolist() == [[False] + [True] * 4]  # K = N: all


def test_masked_tokens_are_never_sampled_and_packing():
    scores = torch.tensor([[0.0, 0.5, 0.0, 0.5, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0, 1.0, 1.0]])
    chosen = inverse_transform(scores, mask, torch.tensor([4]))
    assert not chosen[0, 2] and not chosen[0, 0]
    index, kept = pack(torch.tensor([[False, True, False, True, False], [False, False, False, False, True]]))
    assert index[:, :2].tolist() == [[0, 1], [0, 4]] and kept.tolist() == [[1, 1, 1], [1, 1, 0]]


def test_significance_is_cls_attention_times_value_norm():
    attn = torch.softmax(torch.randn(2, 3, 5, 5), dim=-1)
    v = torch.randn(2, 3, 5, 4)
    s = significance(attn, v, torch.ones(2, 5))
    raw = attn[:, :, 0].sum(1) * v.transpose(1, 2).flatten(2).norm(dim=2)
    raw[:, 0] = 0
    torch.testing.assert_close(s, raw / raw.sum(1, keepdim=True))


def test_kept_tokens_equal_the_vanilla_block_outputs():
    torch.manual_seed(0)
    vanilla = Block(32, 4)
    sampled = Block(32, 4, sampler=TokenSampler(tokens=5))
    sampled.load_state_dict(vanilla.state_dict())
    x = torch.randn(3, 17, 32)
    full, _ = vanilla(x, torch.ones(3, 17))
    out, mask = sampled(x, torch.ones(3, 17))
    index, _ = sampled.sampler(*sampled.attn.weights(sampled.norm1(x), torch.ones(3, 17)), torch.ones(3, 17))
    for b in range(3):
        keep = index[b, : int(mask[b].sum())]
        torch.testing.assert_close(out[b, : len(keep)], full[b, keep], atol=1e-6, rtol=0)


def test_k_equal_n_with_uniform_scores_is_the_vanilla_model():
    """q = k = 0 makes every attention row uniform; v = identity gives every token the same value norm (a
    LayerNorm output has norm sqrt(d)): uniform scores, so ATS with K = N keeps every token."""
    torch.manual_seed(0)
    vanilla = VisionTransformer(32, 8, 32, 3, 4, 5).eval()
    with torch.no_grad():
        w = vanilla.blocks[1].attn.qkv
        w.weight.zero_()
        w.bias.zero_()
        w.weight[64:].copy_(torch.eye(32))
        vanilla.blocks[1].norm1.weight.fill_(1.0)
        vanilla.blocks[1].norm1.bias.zero_()
    ats = VisionTransformer(32, 8, 32, 3, 4, 5, samplers={1: TokenSampler(tokens=16)}).eval()
    ats.load_state_dict(vanilla.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        (a, kept), (b, _) = ats(x), vanilla(x)
    assert kept[:, 1].tolist() == [17.0, 17.0]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_padded_tokens_change_nothing():
    torch.manual_seed(1)
    model = VisionTransformer(32, 4, 48, 4, 4, 7, samplers={1: TokenSampler(ratio=0.5), 2: TokenSampler(ratio=0.6)})
    model = model.double().eval()
    with torch.no_grad():
        for i in (1, 2):  # peaked attention, as in a trained network, so that samples draw duplicates
            model.blocks[i].attn.qkv.weight.mul_(40)
    x = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        both, kept = model(x)
        alone = torch.cat([model(x[i : i + 1])[0] for i in range(4)])
    assert len(set(kept[:, -1].tolist())) > 1  # K' varies per sample
    torch.testing.assert_close(both, alone, atol=1e-10, rtol=0)


def test_mac_counter_reproduces_deit_s_and_single_stage_ats():
    deit = VisionTransformer()
    head = 384 * 1000
    full = deit.macs(torch.full((1, 12), 197.0)) - head
    assert float(full) == pytest.approx(4.598e9, rel=2e-4)
    for k, expected in ((108, 3.06), (78, 2.56), (48, 2.07)):
        kept = torch.tensor([[197.0] * 3 + [k + 1.0] * 9])
        assert float(deit.macs(kept) - head) / 1e9 == pytest.approx(expected, abs=0.01)
    assert block_macs(197, 197, 384) == 12 * 197 * 384**2 + 2 * 197**2 * 384


def test_deit_s_layout_and_a_checkpoint_loads(tmp_path):
    model = build_model("vit", {"num_classes": 1000})
    state = model.net.state_dict()
    assert sum(p.numel() for p in model.parameters()) == 22_050_664
    for key in (
        "patch_embed.proj.weight",
        "cls_token",
        "pos_embed",
        "blocks.11.attn.qkv.weight",
        "blocks.0.mlp.fc2.bias",
        "head.weight",
    ):
        assert key in state
    tiny = build_model("vit", {"size": 32, "patch": 8, "dim": 32, "depth": 2, "heads": 4, "num_classes": 10})
    torch.save({"model": tiny.net.state_dict()}, tmp_path / "deit.pth")  # DeiT's release wraps the state in "model"
    fresh = build_model("vit", {"size": 32, "patch": 8, "dim": 32, "depth": 2, "heads": 4, "num_classes": 3})
    from actionline.engine.initial_weights import initialise

    assert "new classifier" in initialise(fresh, str(tmp_path / "deit.pth"))
    torch.testing.assert_close(fresh.net.blocks[1].attn.qkv.weight, tiny.net.blocks[1].attn.qkv.weight)


def test_budget_settings_are_checked():
    with pytest.raises(ConfigError, match="exactly one budget"):
        build_model("vit", {"ats_blocks": [3]})
    with pytest.raises(ConfigError, match=r"blocks 0\.\.11"):
        build_model("vit", {"ats_blocks": [12], "ats_ratio": 0.5})
    with pytest.raises(ConfigError):
        TokenSampler(ratio=1.5)


def test_ats_is_added_to_a_trained_run_at_prediction(tmp_path):
    from actionline.cli import main
    from actionline.data.synthetic.clips import synthesize_video_classification

    data = synthesize_video_classification(tmp_path / "d", train_per_class=2, test_per_class=1, frames=8, size=32)
    run = tmp_path / "r"
    vit = ["--set", "model.size=32", "--set", "model.patch=8", "--set", "model.dim=32", "--set", "model.depth=3",
           "--set", "model.heads=4", "--set", "model.frames=2", "--set", "clips.short_side=32"]  # fmt: skip
    train = ["train", "--model", "vit", "--data", str(data), "--out", str(run), "--epochs", "1"]
    assert main([*train, *vit, "--set", "train.batch_size=4"]) == 0
    assert main(["predict", "--run", str(run), "--data", str(data), "--out", str(tmp_path / "a"),
                 "--set", "model.ats_blocks=[1,2]", "--set", "model.ats_tokens=6"]) == 0  # fmt: skip
    payload = json.loads((tmp_path / "a/classification.json").read_text())
    per_clip = [g for v in payload["videos"] for g in v["clip_gmacs"]]
    assert max(per_clip) < payload["gmacs_fixed"]
    assert main(["predict", "--run", str(run), "--data", str(data), "--out", str(tmp_path / "b"),
                 "--set", "model.depth=4"]) == 2  # fmt: skip


# --- the video transformer (divided space-time attention) ---------------------------------------------------
def test_timesformer_size_and_cost():
    from actionline.nn.networks.video_vit import VideoTransformer

    net = VideoTransformer()
    assert sum(p.numel() for p in net.parameters()) == 121_566_352  # TimeSformer-Base, 400 classes
    assert float(net.macs(torch.full((1, 12), 196.0))) / 1e9 == pytest.approx(196, abs=1)  # per view, as published


def test_video_ats_keeps_positions_and_their_outputs():
    from actionline.nn.networks.video_vit import DividedBlock

    torch.manual_seed(0)
    vanilla = DividedBlock(16, 2).double()
    sampled = DividedBlock(16, 2, sampler=TokenSampler(tokens=4)).double()
    sampled.load_state_dict(vanilla.state_dict())
    with torch.no_grad():
        for block in (vanilla, sampled):
            block.attn.qkv.weight.mul_(30)
    cls, patches = torch.randn(2, 16, dtype=torch.float64), torch.randn(2, 3, 9, 16, dtype=torch.float64)
    mask = torch.ones(2, 9, dtype=torch.float64)
    with torch.no_grad():
        c0, p0, _ = vanilla(cls, patches, mask)
        c1, p1, m1 = sampled(cls, patches, mask)
    torch.testing.assert_close(c1, c0)  # the CLS row is always kept
    assert p1.shape[2] <= 4 and (m1.sum(1) <= 4).all()
    for b in range(2):  # each kept position carries the vanilla block's output of one position, in every frame
        for i in range(int(m1[b].sum())):
            assert any(torch.allclose(p1[b, :, i], p0[b, :, j]) for j in range(9))


def test_video_padded_positions_change_nothing():
    torch.manual_seed(2)
    small = {"size": 32, "patch": 8, "frames": 3, "dim": 32, "depth": 3, "heads": 4, "num_classes": 5}
    model = build_model("timesformer", {**small, "ats_blocks": [1, 2], "ats_ratio": 0.5}).double().eval()
    with torch.no_grad():
        model.net.blocks[1].attn.qkv.weight.mul_(40)
    x = torch.randn(3, 3, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        both = model(x)
        alone = torch.cat([model(x[i : i + 1])["logits"] for i in range(3)])
    assert len(set(both["kept"][:, -1].tolist())) > 1
    torch.testing.assert_close(both["logits"], alone, atol=1e-10, rtol=0)
    assert (both["macs"] < model.net.macs(torch.full((1, 3), 16.0))).all()
