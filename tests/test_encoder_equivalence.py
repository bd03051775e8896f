"""The time-major MS-TCN and ASFormer encoders compute the same function as the straightforward channels-first
ones (tests/reference_encoders.py): outputs to 1e-5 and every parameter's gradient, with and without padding,
batch 1 and 2, dilations longer than the video, and the reference window mask."""

import pytest
import torch

import reference_encoders as ref
from actionline.models.registry import build_model
from actionline.nn.attention.instance_norm import instance_norm_parts
from actionline.nn.attention.window_attention import window_attention
from actionline.nn.temporal.conv import FrameDilatedConv, FramePointwise


def _inputs(batch, dim, length, seed):
    torch.manual_seed(seed)
    x = torch.randn(batch, dim, length)
    mask = torch.ones(batch, length)
    if batch > 1:
        mask[1, length // 2 :] = 0
    return x * mask[:, None], mask


def _assert_same(fast, slow, fast_params, slow_params, atol=1e-5):
    assert fast.shape == slow.shape
    assert torch.allclose(fast, slow, atol=atol, rtol=1e-5), (fast - slow).abs().max()
    g = torch.randn_like(fast)
    fast_grads = torch.autograd.grad(fast, fast_params, g, allow_unused=True)
    slow_grads = torch.autograd.grad(slow, slow_params, g, allow_unused=True)
    for i, (a, b) in enumerate(zip(fast_grads, slow_grads, strict=True)):
        if b is None or not torch.any(b != 0):  # ASFormer's block 0 query/key: one key per query, no gradient
            assert a is None or not torch.any(a.abs() > 1e-6), i
            continue
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (i, (a - b).abs().max())


@pytest.mark.parametrize("dilation", [1, 4, 64, 200])
@pytest.mark.parametrize("batch", [1, 3])
def test_dilated_conv_equals_conv1d(dilation, batch):
    torch.manual_seed(dilation + batch)
    fast = FrameDilatedConv(8, 6, dilation)
    slow = torch.nn.Conv1d(8, 6, 3, padding=dilation, dilation=dilation)
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(batch, 8, 97, requires_grad=True)
    a = fast(x.transpose(1, 2)).transpose(1, 2)
    b = slow(x)
    _assert_same(a, b, [x, *fast.parameters()], [x, *slow.parameters()])


@pytest.mark.parametrize("cin, cout, batch", [(2048, 64, 1), (64, 64, 1), (64, 64, 3), (64, 19, 2)])
def test_frame_pointwise_equals_conv1d(cin, cout, batch):
    torch.manual_seed(cin + cout + batch)
    fast, slow = FramePointwise(cin, cout), torch.nn.Conv1d(cin, cout, 1)
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(batch, cin, 300, requires_grad=True)
    _assert_same(fast(x.transpose(1, 2)).transpose(1, 2), slow(x), [x, *fast.parameters()], [x, *slow.parameters()])


def test_instance_norm_frames_equals_instance_norm():
    x = torch.randn(2, 50, 7, requires_grad=True)
    centred, scale = instance_norm_parts(x)
    a = (centred * scale[:, None, :]).transpose(1, 2)
    b = torch.nn.functional.instance_norm(x.transpose(1, 2))
    _assert_same(a, b, [x], [x])


@pytest.mark.parametrize("block", [1, 2, 8, 64, 128, 512])
@pytest.mark.parametrize("full_window", [False, True])
def test_window_attention_gradients_equal_the_definition(block, full_window):
    torch.manual_seed(block)
    q, k, v = (torch.randn(2, c, 301, requires_grad=True) for c in (8, 8, 5))
    mask = torch.ones(2, 301)
    mask[1, 200:] = 0
    a = window_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask, block, full_window)
    b = ref.dense_window_attention(q, k, v, mask, block, full_window)
    valid = mask[:, None, :]
    _assert_same(a.transpose(1, 2) * valid, b * valid, [q, k, v], [q, k, v])


@pytest.mark.parametrize("block", [1, 2, 8, 64, 512])
def test_the_reference_chunked_attention_computes_the_reference_window(block):
    """The benchmark's reference-style ASFormer (benchmarks/efficiency.py) gathers windows as the reference does;
    its log(mask + 1e-6) masking leaks ~1e-6 of weight, within the tolerance."""
    torch.manual_seed(block)
    q, k, v = (torch.randn(1, c, 301) for c in (8, 8, 5))
    mask = torch.ones(1, 301)
    mask[0, 250:] = 0
    a = ref.chunked_window_attention(q, k, v, mask, block, full_window=True)
    b = ref.dense_window_attention(q, k, v, mask, block, full_window=True)
    assert a.shape == b.shape
    assert torch.allclose(a[..., :250], b[..., :250], atol=1e-5), (a - b)[..., :250].abs().max()


@pytest.mark.parametrize("batch, length", [(1, 300), (2, 257), (1, 1)])
def test_mstcn_equals_the_straightforward_network(batch, length):
    fast = build_model("mstcn", {"input_dim": 12, "num_classes": 5, "num_layers": 9, "dropout": 0.0}).train()
    slow = ref.MSTCN(4, 9, 64, 12, 5)
    slow.load_state_dict(fast.state_dict())
    x, mask = _inputs(batch, 12, length, seed=batch + length)
    _assert_same(fast(x, mask)["logits"], slow(x, mask), list(fast.parameters()), list(slow.parameters()))
    with torch.inference_mode():  # the inference paths (reused buffers, in-place additions)
        assert torch.allclose(fast.eval()(x, mask)["logits"], slow(x, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("batch, length, full_window", [(1, 300, False), (2, 257, False), (2, 129, True)])
def test_asformer_equals_the_straightforward_network(batch, length, full_window):
    settings = {"input_dim": 12, "num_classes": 5, "num_layers": 9, "dropout": 0.0, "channel_dropout": 0.0}
    fast = build_model("asformer", {**settings, "full_window": full_window}).train()
    slow = ref.ASFormer(12, 5, 9, full_window=full_window)
    slow.load_state_dict(fast.state_dict())
    x, mask = _inputs(batch, 12, length, seed=batch + length)
    _assert_same(fast(x, mask)["logits"], slow(x, mask), list(fast.parameters()), list(slow.parameters()))
    with torch.inference_mode():  # the inference paths (reused buffers, in-place additions)
        assert torch.allclose(fast.eval()(x, mask)["logits"], slow(x, mask), atol=1e-5, rtol=1e-5)


def test_baformer_equals_the_straightforward_network():
    """Every prediction set and every gradient, with padding; the inference path on one unpadded video."""
    settings = {"input_dim": 12, "num_classes": 5, "num_layers": 4, "num_queries": 7}
    dropouts = {"dropout": 0.0, "channel_dropout": 0.0, "attn_dropout": 0.0, "ffn_dropout": 0.0}
    fast = build_model("baformer", {**settings, **dropouts}).train()
    slow = ref.BaFormer(12, 5, num_queries=7, num_layers=4)
    slow.load_state_dict(fast.state_dict())
    x, mask = _inputs(2, 12, 90, seed=3)
    a, b = fast(x, mask), slow(x, mask)
    assert a.keys() == b.keys()
    valid = {"class_logits": 1.0, "mask_logits": mask[None, :, None], "boundary_logits": mask[None]}
    fast_out = torch.cat([(a[k] * v).flatten() for k, v in valid.items()])
    slow_out = torch.cat([(b[k] * v).flatten() for k, v in valid.items()])
    _assert_same(fast_out, slow_out, list(fast.parameters()), list(slow.parameters()))
    with torch.inference_mode():
        a, b = fast.eval()(x[:1], mask[:1]), slow.eval()(x[:1], mask[:1])
    assert all(torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-5) for k in a)


def test_folded_cross_attention_equals_the_textbook_form():
    """BaFormer's cross-attention with W_k, W_v folded into the queries == projecting every frame (Eq. 2)."""
    from actionline.models.segmentation.baformer import MaskedCrossAttention

    torch.manual_seed(0)
    layer = MaskedCrossAttention(16, 3, 8, dropout=0.0).train()
    for p in layer.parameters():  # non-zero biases, so that the folded bias terms are exercised
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 5, 16, requires_grad=True)
    frames = torch.randn(2, 16, 40, requires_grad=True)
    mask_prob = torch.rand(2, 5, 40)
    valid = torch.ones(2, 40, dtype=torch.bool)
    valid[1, 30:] = False

    def textbook():
        B, M, _ = x.shape
        q = layer.to_q(layer.norm(x)).view(B, M, 3, 8).transpose(1, 2) * 8**-0.5
        k, v = (proj(frames).view(B, 3, 8, 40) for proj in (layer.to_k, layer.to_v))
        logits = (q @ k) * mask_prob[:, None]
        logits = logits.masked_fill(~valid[:, None, None, :], torch.finfo(logits.dtype).min)
        out = torch.softmax(logits, -1) @ v.transpose(-1, -2)
        return x + layer.to_out(out.transpose(1, 2).reshape(B, M, 24))

    params = [x, frames, *layer.parameters()]
    _assert_same(layer(x, frames, mask_prob, valid), textbook(), params, params)


@pytest.mark.parametrize("name", ["mstcn", "asformer", "baformer", "rtk"])
def test_inference_paths_equal_the_autograd_paths(name):
    """Without gradients the encoders update feature maps in place and reuse buffers; same outputs."""
    torch.manual_seed(0)
    model = build_model(name, {"input_dim": 12, "num_classes": 5}).eval()
    x, mask = _inputs(1, 12, 200, seed=7)
    with torch.enable_grad():
        want = model(x, mask)
    with torch.inference_mode():
        got = model(x, mask)
    for key, value in want.items():
        assert torch.allclose(got[key], value, atol=1e-5, rtol=1e-5), key


def test_instance_norm_parts_backward_is_the_analytic_gradient():
    x = torch.randn(2, 9, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: instance_norm_parts(t), (x,))
    assert torch.autograd.gradcheck(lambda t: instance_norm_parts(t)[0].sum() * 0 + instance_norm_parts(t)[1], (x,))


@pytest.mark.parametrize("name", ["mstcn", "asformer"])
def test_mac_counter_sees_every_layer_on_the_fast_paths(name):
    """The inference and fused paths fall back to module calls when forward hooks are registered, so the
    profiler's conv + linear count is every Conv1d over every frame, as the papers count."""
    from actionline.engine.profiler import MacCounter

    model = build_model(name, {"input_dim": 12, "num_classes": 5}).eval()
    x, mask = _inputs(1, 12, 120, seed=3)
    want = 120 * sum(
        m.out_channels * m.in_channels * m.kernel_size[0] for m in model.modules() if isinstance(m, torch.nn.Conv1d)
    )
    for context in (torch.inference_mode, torch.enable_grad):
        with context(), MacCounter(model) as counted:
            model(x, mask)
        assert counted.total == want, context


@pytest.mark.parametrize("p, padded", [(0.5, False), (0.3, True), (0.0, True)])
def test_fused_residual_layer_equals_its_parts(p, padded):
    """MS-TCN's layer as one autograd function (training) gives the module-by-module result: the same dropout mask
    from the same seed, the same output and the same gradients of the input and every parameter."""
    from actionline.nn.temporal.tcn import DilatedResidualLayer

    torch.manual_seed(0)
    layer = DilatedResidualLayer(4, 8, p).train()
    x = torch.randn(2, 37, 8, requires_grad=True)
    mask = torch.ones(2, 37, 1)
    if padded:
        mask[1, 20:] = 0
    results = []
    for hook in (False, True):  # a forward hook sends the layer down the module-by-module path
        handle = layer.register_forward_hook(lambda *args: None) if hook else None
        torch.manual_seed(5)
        out = layer(x, mask)
        grads = torch.autograd.grad(out, [x, *layer.parameters()], torch.randn_like(out))
        results.append((out, grads))
        if handle is not None:
            handle.remove()
    (fused, fused_grads), (parts, parts_grads) = results
    assert torch.allclose(fused, parts, atol=1e-6)
    for a, b in zip(fused_grads, parts_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
