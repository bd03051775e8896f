"""The CPU dropout masks: keep rate, scaling, identity at evaluation, the fused residual and the input channel
dropout applied through the first layer's weight."""

import pytest
import torch

from actionline.nn.temporal.conv import FramePointwise
from actionline.nn.temporal.dropout import ChannelDropout, Dropout, keep_mask, scaled_keep_mask


@pytest.mark.parametrize("keep", [0.5, 0.7, 0.9])
def test_keep_mask_rate(keep):
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([400, 1000]), keep, torch.device("cpu"))
    assert mask.dtype == torch.bool and mask.shape == (400, 1000)
    assert abs(mask.float().mean().item() - keep) < 0.003  # 400k draws: 5 standard deviations


def test_keep_masks_are_independent_and_seeded():
    torch.manual_seed(1)
    a = keep_mask(torch.Size([10_000]), 0.5, torch.device("cpu"))
    b = keep_mask(torch.Size([10_000]), 0.5, torch.device("cpu"))
    torch.manual_seed(1)
    assert torch.equal(a, keep_mask(torch.Size([10_000]), 0.5, torch.device("cpu")))
    agreement = (a == b).float().mean().item()
    assert abs(agreement - 0.5) < 0.03
    # neighbouring elements come from the same 64-bit word: they must not be correlated
    assert abs((a[:-1] == a[1:]).float().mean().item() - 0.5) < 0.03


def test_dropout_scales_survivors_and_is_identity_in_eval():
    torch.manual_seed(0)
    drop = Dropout(0.3).train()
    x = torch.rand(200, 300) + 1
    y = drop(x)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / 0.7)
    assert abs(kept.float().mean().item() - 0.7) < 0.01
    assert drop.eval()(x) is x


def test_residual_equals_add_of_dropout():
    drop = Dropout(0.5).train()
    x, h = torch.randn(3, 50, 8), torch.randn(3, 50, 8)
    torch.manual_seed(3)
    fused = drop.residual(x, h)
    torch.manual_seed(3)
    assert torch.allclose(fused, x + drop(h))
    drop.eval()
    assert torch.allclose(drop.residual(x, h.clone()), x + h)


def test_channel_dropout_through_the_weight_equals_dropping_input_channels():
    torch.manual_seed(0)
    layer = FramePointwise(16, 4)
    drop = ChannelDropout(0.3).train()
    x = torch.randn(2, 16, 30)  # channels-first, as the model contract gives it
    scales = drop.scales(2, 16, x)
    assert torch.all((scales == 0) | torch.isclose(scales, torch.tensor(1 / 0.7)))
    got = layer(x.transpose(1, 2), scales)
    want = layer((x * scales[:, :, None]).transpose(1, 2))
    assert torch.allclose(got, want, atol=1e-6)
    assert drop.eval().scales(2, 16, x) is None


@pytest.mark.parametrize("keep", [0.5, 0.7])
def test_every_bit_position_is_uniform(keep):
    """Masks are cut from 64-bit words: no position within a word may be biased (a sign bit that is always 0
    would drop 1 element in 64 too many)."""
    torch.manual_seed(2)
    mask = keep_mask(torch.Size([64 * 8000]), keep, torch.device("cpu")).view(-1, 64).float().mean(0)
    assert torch.all((mask - keep).abs() < 0.025)  # 8,000 draws per position: > 4 standard deviations


@pytest.mark.parametrize("keep", [0.5, 0.7, 0.9])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("n", [1, 13, 4096 + 5])
def test_scaled_mask_equals_the_bool_mask_times_the_scale(keep, dtype, n):
    """The scaled mask (a table row per random octet at 0.5; integer bit patterns for fp32 otherwise) keeps
    exactly the elements `keep_mask` keeps from the same generator state, scaled by exactly ``1 / keep``."""
    like = torch.zeros(1, dtype=dtype)
    torch.manual_seed(4)
    got = scaled_keep_mask(torch.Size([n, 3]), keep, like)
    torch.manual_seed(4)
    want = keep_mask(torch.Size([n, 3]), keep, torch.device("cpu")).to(dtype) * torch.tensor(1 / keep, dtype=dtype)
    assert got.dtype == dtype and got.shape == (n, 3)
    assert torch.equal(got, want)
