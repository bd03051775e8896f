"""Causal MS-TCN and ASFormer (``model.causal``): the fast time-major layers compute the plain definitions
(tests/reference_encoders.py, outputs and gradients), no output depends on a later frame, and streaming one frame
at a time (`actionline.nn.streaming`) gives the offline causal forward's outputs from the first frame on."""

import pytest
import torch

import reference_encoders as ref
from actionline.errors import ConfigError
from actionline.models.registry import build_model
from actionline.nn.attention.instance_norm import causal_instance_norm
from actionline.nn.attention.window_attention import window_attention
from actionline.nn.temporal.conv import FrameDilatedConv
from test_encoder_equivalence import _assert_same, _inputs

SMALL = {"input_dim": 12, "num_classes": 5, "num_layers": 9, "dropout": 0.0}
MODELS = {
    "mstcn": {**SMALL, "causal": True},
    "asformer": {**SMALL, "channel_dropout": 0.0, "causal": True},
}


@pytest.mark.parametrize("dilation", [1, 4, 64, 200])
@pytest.mark.parametrize("batch", [1, 3])
def test_causal_dilated_conv_equals_left_padded_conv1d(dilation, batch):
    torch.manual_seed(dilation + batch)
    fast, slow = FrameDilatedConv(8, 6, dilation, causal=True), ref.CausalConv1d(8, 6, dilation)
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(batch, 8, 97, requires_grad=True)
    a = fast(x.transpose(1, 2)).transpose(1, 2)
    b = slow(x)
    _assert_same(a, b, [x, *fast.parameters()], [x, *slow.parameters()])


@pytest.mark.parametrize("block", [1, 2, 8, 64, 128, 512])
def test_causal_window_attention_gradients_equal_the_definition(block):
    torch.manual_seed(block)
    q, k, v = (torch.randn(2, c, 301, requires_grad=True) for c in (8, 8, 5))
    mask = torch.ones(2, 301)
    mask[1, 200:] = 0
    a = window_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask, block, causal=True)
    b = ref.dense_window_attention(q, k, v, mask, block, causal=True)
    valid = mask[:, None, :]
    _assert_same(a.transpose(1, 2) * valid, b * valid, [q, k, v], [q, k, v])


def test_causal_instance_norm_normalises_each_prefix():
    torch.manual_seed(0)
    x = torch.randn(2, 7, 40, requires_grad=True)
    a = causal_instance_norm(x.transpose(1, 2)).transpose(1, 2)
    _assert_same(a, ref.prefix_instance_norm(x), [x], [x])


@pytest.mark.parametrize("name", ["mstcn", "asformer"])
@pytest.mark.parametrize("batch, length", [(1, 150), (2, 97)])
def test_causal_models_equal_the_straightforward_networks(name, batch, length):
    """Training paths (fused layers, custom backwards) and inference paths against the plain definitions."""
    torch.manual_seed(length)
    fast = build_model(name, MODELS[name]).train()
    slow = ref.MSTCN(4, 9, 64, 12, 5, causal=True) if name == "mstcn" else ref.ASFormer(12, 5, 9, causal=True)
    slow.load_state_dict(fast.state_dict())
    x, mask = _inputs(batch, 12, length, seed=batch + length)
    a, b = fast(x, mask)["logits"], slow(x, mask)
    assert torch.allclose(a, b, atol=1e-5, rtol=1e-5), (a - b).abs().max()
    g = torch.randn_like(a)
    fast_grads = torch.autograd.grad(a, list(fast.parameters()), g)
    for p, q in zip(fast_grads, torch.autograd.grad(b, list(slow.parameters()), g), strict=True):
        # early frames' running variance is tiny (the first two frames' after ReLU), which scales float32 rounding
        # up: both float32 networks are ~1e-5 of the largest gradient away from a float64 one; compare at that scale
        assert (p - q).abs().max() <= 1e-4 * (1 + q.abs().max()), (p - q).abs().max()
    with torch.inference_mode():
        assert torch.allclose(fast.eval()(x, mask)["logits"], slow(x, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["mstcn", "asformer"])
def test_no_output_depends_on_a_later_frame(name):
    model = build_model(name, MODELS[name]).eval()
    x, mask = _inputs(1, 12, 120, seed=3)
    changed = x.clone()
    changed[..., 60:] = torch.randn(12, 60)
    with torch.inference_mode():
        a, b = model(x, mask)["logits"], model(changed, mask)["logits"]
    assert torch.equal(a[..., :60], b[..., :60])
    assert not torch.allclose(a[..., 60:], b[..., 60:])


@pytest.mark.parametrize("name", ["mstcn", "asformer"])
@pytest.mark.parametrize("layers", [4, 10])
def test_streaming_one_frame_at_a_time_equals_the_offline_causal_forward(name, layers):
    """Every stage's logits of every frame, from the first on; 10 layers: windows and dilations up to 512, longer
    than the 300-frame video, so the ring buffers wrap for the short ones and never fill for the long ones."""
    torch.manual_seed(layers)
    model = build_model(name, {**MODELS[name], "num_layers": layers}).eval()
    x = torch.randn(1, 12, 300)
    with torch.inference_mode():
        offline = model(x, torch.ones(1, 300))["logits"][:, 0]  # [S, K, T]
        step = model.stream()
        streamed = torch.stack([step(x[0, :, t]) for t in range(300)], dim=-1)
    assert streamed.shape == offline.shape
    assert torch.allclose(streamed, offline, atol=1e-5, rtol=1e-5), (streamed - offline).abs().max()


@pytest.mark.parametrize("name", ["mstcn", "asformer", "baformer"])
def test_streaming_refuses_a_model_trained_offline(name):
    model = build_model(name, {"input_dim": 12, "num_classes": 5}).eval()
    with pytest.raises(ConfigError, match="causal=true"):
        model.stream()


def test_the_reference_window_cannot_be_causal():
    with pytest.raises(ConfigError, match="full_window"):
        build_model("asformer", {**MODELS["asformer"], "full_window": True})
