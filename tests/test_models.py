import pytest
import torch

from actionline.models.registry import available_models, build_model
from actionline.nn.attention.window_attention import window_attention
from reference_encoders import dense_window_attention

PAPER_PARAMS = {"mstcn": 800_396, "asformer": 1_134_476}


@pytest.mark.parametrize("name", ["mstcn", "asformer"])
def test_parameter_counts_match_the_reference(name):
    model = build_model(name, {"input_dim": 2048, "num_classes": 19})
    assert sum(p.numel() for p in model.parameters()) == PAPER_PARAMS[name]


def test_mstcn_single_stage_count():
    model = build_model("mstcn", {"input_dim": 2048, "num_classes": 19, "num_stages": 1})
    assert sum(p.numel() for p in model.parameters()) == 297_491


@pytest.mark.parametrize("name", ["mstcn", "asformer"])
def test_shapes_loss_and_every_parameter_gets_gradient(name):
    torch.manual_seed(0)
    model = build_model(name, {"input_dim": 12, "num_classes": 5})
    x = torch.randn(2, 12, 70)
    mask = torch.ones(2, 70)
    mask[1, 50:] = 0
    labels = torch.randint(0, 5, (2, 70))
    labels[1, 50:] = -100
    out = model(x, mask)
    assert out["logits"].shape == (4, 2, 5, 70)
    assert torch.all(out["logits"][:, 1, :, 50:] == 0)  # padding is masked
    terms = model.loss(out, {"labels": labels, "mask": mask})
    assert set(terms) == {"ce", "smooth", "total"} and torch.isfinite(terms["total"])
    terms["total"].backward()
    missing = {n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)}
    # ASFormer block 0 has block length 1: each query sees one key, softmax is 1, so that block's query/key
    # projections get no gradient (true of the reference as well).
    expected_dead = {n for n, _ in model.named_parameters() if ".blocks.0.query." in n or ".blocks.0.key." in n}
    assert missing == expected_dead
    timelines = model.eval().decode(model(x, mask), mask, ["a", "b"], list("vwxyz"))
    assert [t.num_frames for t in timelines] == [70, 50]


@pytest.mark.parametrize("block", [1, 2, 4, 8, 64, 128, 512])
@pytest.mark.parametrize("length", [5, 97, 300])
@pytest.mark.parametrize("full_window", [False, True])
def test_window_attention_equals_its_definition(block, length, full_window):
    torch.manual_seed(block + length)
    q, k, v = torch.randn(2, 8, length), torch.randn(2, 8, length), torch.randn(2, 3, length)
    mask = torch.ones(2, length)
    mask[1, length // 2 :] = 0
    got = window_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask, block, full_window)
    want = dense_window_attention(q, k, v, mask, block, full_window)
    valid = mask[:, None, :] > 0
    assert torch.allclose(got.transpose(1, 2) * valid, want * valid, atol=1e-5)


def test_window_attention_is_local():
    """Changing a key outside every window of block 4 leaves the output unchanged; inside changes it."""
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 40, 4), torch.randn(1, 40, 4), torch.randn(1, 40, 4)
    mask = torch.ones(1, 40)
    base = window_attention(q, k, v, mask, 4)
    v2 = v.clone()
    v2[:, 30] += 10
    changed = (window_attention(q, k, v2, mask, 4) - base).abs().sum(-1)[0] > 1e-6
    assert changed.nonzero().flatten().tolist() == [29, 30, 31, 32]  # queries t with t-2 <= 30 < t+2


def test_registry_lists_models():
    assert {"mstcn", "asformer", "baformer"} <= set(available_models())


@pytest.mark.parametrize("cin, cout, batch", [(2048, 64, 1), (64, 64, 1), (64, 64, 3), (64, 19, 2)])
def test_pointwise_equals_conv1d_outputs_and_gradients(cin, cout, batch):
    """The fused-bias matrix product replaces Conv1d(k=1): same outputs and gradients to 1e-5."""
    from torch import nn

    from actionline.nn.temporal.conv import Pointwise

    torch.manual_seed(cin + cout + batch)
    fused, plain = Pointwise(cin, cout), nn.Conv1d(cin, cout, 1)
    plain.load_state_dict(fused.state_dict())
    x = torch.randn(batch, cin, 300, requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    a, b = fused(x), plain(y)
    assert torch.allclose(a, b, atol=1e-5)
    g = torch.randn_like(a)
    a.backward(g)
    b.backward(g)
    assert torch.allclose(x.grad, y.grad, atol=1e-5)
    assert torch.allclose(fused.weight.grad, plain.weight.grad, atol=1e-4, rtol=1e-5)
    assert torch.allclose(fused.bias.grad, plain.bias.grad, atol=1e-4, rtol=1e-5)
