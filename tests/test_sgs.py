"""Similarity Guided Sampling (dissertation ch. 6): bins, kernels, edge cases, the backward against the spec's
analytic derivative and gradcheck, per-clip B' with masking inside a 3D ResNet."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from actionline.models.registry import build_model
from actionline.nn.sampling.sgs import SimilarityGuidedSampling, bin_weights


def test_linear_kernel_weights_by_hand():
    """B = 2, Δ = [0, 1, 1.5, 2, 4]: γ = 1, centres 1 and 3 (triangles of half-width γ that touch at Δ = 2, where
    the thesis' kernel gives 0); Δ clamped to [1, 3]."""
    w = bin_weights(torch.tensor([[0.0, 1.0, 1.5, 2.0, 4.0]]), 2, "linear")
    assert w.tolist() == [[[1.0, 1.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]]]
    k = bin_weights(torch.tensor([[0.0, 1.0, 2.0, 4.0]]), 2, "kronecker")
    assert k.tolist() == [[[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]]  # half-open bins [0, 2) [2, 4]


def test_edge_cases_frame_at_the_maximum_and_a_static_clip():
    w = bin_weights(torch.tensor([[0.3, 2.0, 8.0]]), 4, "linear")
    assert float(w[0, 3, 2]) == 1.0  # the frame attaining Δ_max counts fully in the last bin
    assert float(w[0, 0, 0]) == 1.0  # below the first centre: fully in bin 1
    sgs = SimilarityGuidedSampling(4, bins=8).eval()
    x = torch.randn(1, 4, 1, 3, 3).repeat(1, 1, 6, 1, 1)  # six identical frames: Δ = 0
    out, mask = sgs(x)
    assert out.shape == (1, 4, 1, 3, 3) and mask.tolist() == [[1.0]]
    torch.testing.assert_close(out[:, :, 0], 6 * x[:, :, 0])  # a weighted sum, not normalised


def test_normalised_linear_kernel_gives_each_bin_the_weighted_mean():
    """``linear_normalised`` (an ablation): the linear kernel's weights over their sum per bin, so a static clip's
    one bin is its frame, not six times it, and every kept bin is a convex combination of frames."""
    sgs = SimilarityGuidedSampling(4, bins=8, kernel="linear_normalised").eval()
    x = torch.randn(1, 4, 1, 3, 3).repeat(1, 1, 6, 1, 1)
    torch.testing.assert_close(sgs(x)[0][:, :, 0], x[:, :, 0])
    torch.manual_seed(0)
    x = torch.randn(2, 4, 9, 2, 2)
    summed = SimilarityGuidedSampling(4, bins=5).eval()
    normalised = SimilarityGuidedSampling(4, bins=5, kernel="linear_normalised").eval()
    normalised.load_state_dict(summed.state_dict())
    w = bin_weights(summed.similarity_values(x), 5, "linear")
    mass = w.sum(2)
    (out_sum, mask), (out_mean, mask_mean) = summed(x), normalised(x)
    assert torch.equal(mask, mask_mean)
    for n in range(2):
        kept = mass[n][mass[n] > 0]
        torch.testing.assert_close(out_mean[n, :, : len(kept)] * kept[None, :, None, None], out_sum[n, :, : len(kept)])


def test_time_similarity_is_the_chronological_control():
    """``similarity="time"``: B uniform windows of T / B frames in time order, through the same kernels; B = T is
    the identity; no similarity space is built."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 2, 2)
    mean = SimilarityGuidedSampling(3, bins=2, kernel="kronecker", similarity="time")
    assert not list(mean.parameters())
    out, mask = mean(x)
    assert mask.tolist() == [[1.0, 1.0]] * 2
    torch.testing.assert_close(out, torch.stack([x[:, :, :4].mean(2), x[:, :, 4:].mean(2)], 2))
    out, _ = SimilarityGuidedSampling(3, bins=2, similarity="time")(x)  # linear: γ = 2, β = 2, 6; Δ = 0.5 .. 7.5
    weights = torch.tensor([1.0, 1.0, 0.75, 0.25, 0.25, 0.75, 1.0, 1.0])  # the outer bins flat beyond β_1, β_B
    torch.testing.assert_close(out[:, :, 0], torch.einsum("t,ncthw->nchw", weights[:4], x[:, :, :4]))
    torch.testing.assert_close(out[:, :, 1], torch.einsum("t,ncthw->nchw", weights[4:], x[:, :, 4:]))
    torch.testing.assert_close(SimilarityGuidedSampling(3, bins=8, similarity="time")(x)[0], x)


def test_similarity_grad_scales_the_gradient_through_delta_only():
    """0 detaches Δ (the similarity space gets no gradient; X only through O, Eq. 6.7); 0.5 halves the part that
    passes through Δ (Eq. 6.8); the output is the same for every scale."""
    from actionline.errors import ConfigError

    torch.manual_seed(0)
    x = torch.randn(2, 4, 9, 2, 2, dtype=torch.float64)
    probe = torch.randn(2, 4, 9, 2, 2, dtype=torch.float64)
    grads, outs = {}, {}
    for scale in (0.0, 0.5, 1.0):
        torch.manual_seed(1)
        sgs = SimilarityGuidedSampling(4, bins=5, similarity_grad=scale).double().eval()
        xs = x.clone().requires_grad_()
        out, _ = sgs(xs)
        (out * probe[:, :, : out.shape[2]]).sum().backward()
        grads[scale], outs[scale] = xs.grad, out.detach()
        embedded = [p.grad for p in sgs.embed.parameters()]
        assert all(g is None for g in embedded) if scale == 0 else all(g.abs().sum() > 0 for g in embedded)
    assert torch.equal(outs[0.0], outs[1.0]) and torch.allclose(outs[0.5], outs[1.0], atol=1e-12)
    assert not torch.allclose(grads[0.0], grads[1.0])
    torch.testing.assert_close(grads[0.5], (grads[0.0] + grads[1.0]) / 2)
    with pytest.raises(ConfigError, match="similarity_grad"):
        SimilarityGuidedSampling(4, similarity_grad=-1.0)
    with pytest.raises(ConfigError, match="sgs_similarity_grad"):
        build_model("atfr_resnet3d_18", {"num_classes": 2, "frames": 8, "size": 32, "sgs_similarity_grad": -0.5})
    model = build_model("atfr_resnet3d_18", {"num_classes": 2, "frames": 8, "size": 32, "sgs_similarity_grad": 0.0})
    assert model.net.sgs.similarity_grad == 0.0


def test_bins_vary_per_clip_padded_and_masked():
    torch.manual_seed(0)
    sgs = SimilarityGuidedSampling(8, bins=6)
    x = torch.randn(3, 8, 10, 2, 2)
    x[1] = x[1, :, :1]  # static
    out, mask = sgs(x)
    counts = mask.sum(1).long().tolist()
    assert counts[1] == 1 and max(counts) <= 6 and len(set(counts)) > 1
    assert out.shape == (3, 8, max(counts), 2, 2)
    assert all(out[i, :, c:].abs().sum() == 0 for i, c in enumerate(counts))  # padding is zero
    assert sgs(x, torch.ones(3, 10))[0].shape == out.shape


def test_backward_matches_the_spec_derivative():
    """dO_b/dΔ_t = I_t · (+1/γ on (β_b - γ, β_b], -1/γ on (β_b, β_b + γ)) for frames inside [β_1, β_B]."""
    delta = torch.tensor([[0.5, 1.5, 2.5, 3.2, 4.0]], dtype=torch.float64, requires_grad=True)
    w = bin_weights(delta, 2, "linear")  # γ = 1, β = 1, 3
    jac = torch.autograd.functional.jacobian(lambda d: bin_weights(d, 2, "linear"), delta)[0, :, :, 0, :]  # [B,T,T]
    gamma, centres = 1.0, (1.0, 3.0)
    for b, beta in enumerate(centres):
        for t, d in enumerate(delta[0].tolist()):
            if not centres[0] <= d <= centres[-1]:
                expected = 0.0  # the flat outer bins
            elif beta - gamma < d <= beta:
                expected = 1 / gamma
            elif beta < d < beta + gamma:
                expected = -1 / gamma
            else:
                expected = 0.0
            assert float(jac[b, t, t]) == pytest.approx(expected), (b, t)
    assert w.requires_grad


def test_gradcheck_float64():
    """O = Σ_t Ψ(Δ_t, β_b) X_t against finite differences in X and Δ, with γ and β constants (spec A.6); and the
    whole module's gradient with respect to X where the bins do not move."""
    torch.manual_seed(1)
    x = torch.randn(2, 3, 7, 2, 2, dtype=torch.float64, requires_grad=True)
    delta = (torch.rand(2, 7, dtype=torch.float64) * 3.7 + 0.1).requires_grad_()
    top = torch.full((2, 1), 4.0, dtype=torch.float64)

    def sample(x, delta):
        return torch.einsum("nbt,ncthw->ncbhw", bin_weights(delta, 4, "linear", top=top), x)

    assert torch.autograd.gradcheck(sample, (x, delta), eps=1e-7, atol=1e-6)
    sgs = SimilarityGuidedSampling(3, bins=4, embedding=2).double().eval()
    fixed = sgs.similarity_values(x).detach()
    assert torch.autograd.gradcheck(
        lambda v: torch.einsum("nbt,ncthw->ncbhw", bin_weights(fixed, 4, "linear"), v), (x,)
    )


def test_a_clip_padded_in_a_batch_gives_what_it_gives_alone():
    torch.manual_seed(0)
    model = build_model(
        "resnet3d_18", {"width": 8, "frames": 16, "size": 48, "sgs_after": 1, "sgs_bins": 8, "num_classes": 6}
    )
    model = model.double().eval()
    x = torch.randn(3, 3, 16, 48, 48, dtype=torch.float64)
    x[0] = x[0, :, :1]
    with torch.no_grad():
        counts = [
            int(
                model.net.sgs(
                    model.net.layer1(model.net.maxpool(model.net.relu(model.net.bn1(model.net.conv1(x[i : i + 1])))))
                )[1].sum()
            )
            for i in range(3)
        ]
        both = model(x)["logits"]
        alone = torch.cat([model(x[i : i + 1])["logits"] for i in range(3)])
    assert len(set(counts)) > 1
    torch.testing.assert_close(both, alone, atol=1e-9, rtol=0)


def test_sgs_trains_through_the_cli(tmp_path):
    from actionline.cli import main
    from actionline.data.synthetic.clips import synthesize_video_classification

    data = synthesize_video_classification(tmp_path / "d", train_per_class=2, test_per_class=1, frames=12, size=32)
    args = ["train", "--model", "resnet3d_18", "--data", str(data), "--out", str(tmp_path / "r"), "--config", "motion",
            "--epochs", "1", "--set", "model.width=4", "--set", "model.size=32", "--set", "model.frames=8",
            "--set", "model.sgs_after=1", "--set", "model.sgs_bins=4", "--set", "clips.short_side=32"]  # fmt: skip
    assert main(args) == 0
    assert main([*args[:-8], "--set", "model.sgs_after=5"]) == 2
    pred = tmp_path / "p"
    assert main(["predict", "--run", str(tmp_path / "r"), "--data", str(data), "--out", str(pred)]) == 0
    payload = json.loads((pred / "classification.json").read_text())
    clip_gmacs = [g for v in payload["videos"] for g in v["clip_gmacs"]]
    assert len(clip_gmacs) == sum(len(v["clips"]) for v in payload["videos"])
    from actionline.cli.commands import TaskOptions, evaluate

    report = evaluate(pred, data, TaskOptions())
    assert report.as_dict["gmacs_mean"] == pytest.approx(np.mean(clip_gmacs))
    assert 0 < report.as_dict["gmacs_mean"] < report.as_dict["gmacs_fixed"]  # 4 bins < 8 frames after stage 1
    assert any("adaptive cost" in line for line in report.details)
    from actionline.cli.commands import profile_run

    cost = profile_run(tmp_path / "r", data, TaskOptions())
    assert cost["gmacs_mean"] == pytest.approx(report.as_dict["gmacs_mean"], rel=1e-4)  # the file rounds to 1e-6
    assert cost["gmacs_fixed"] == pytest.approx(report.as_dict["gmacs_fixed"], rel=1e-4)
    assert main(["profile", "--run", str(tmp_path / "r"), "--data", str(data)]) == 0
    assert main(["profile", "--run", str(tmp_path / "r")]) == 2
    atfr = ["train", "--model", "atfr_resnet3d_18", "--data", str(data), "--out", str(tmp_path / "atfr"), "--epochs",
            "1", "--set", "model.size=32", "--set", "model.frames=8", "--set", "clips.short_side=32"]  # fmt: skip
    assert main(atfr) == 0  # the Table 6.12 preset trains through the CLI


def test_table_6_12_network_and_its_adaptive_cost():
    """Table 6.12: res2 gives [N, 32, 32, 56, 56] at 32 x 224 x 224, where SGS (B = 32) goes."""
    from actionline.nn.networks.factorised_resnet3d import FactorisedResNet3D

    torch.manual_seed(0)
    net = FactorisedResNet3D(10).eval()
    stem = net.stem(torch.randn(1, 3, 32, 224, 224))
    assert net.layer1(stem).shape == (1, 32, 32, 56, 56)
    model = build_model("atfr_resnet3d_18", {"num_classes": 10, "frames": 8, "size": 64}).eval()
    assert model.net.sgs.bins == 32 and model.net.sgs_after == 1
    static = torch.randn(1, 3, 1, 64, 64).repeat(1, 1, 8, 1, 1)
    from actionline.engine.profiler import MacCounter
    from actionline.tasks.classification import fixed_cost

    with torch.no_grad(), MacCounter(model) as counted:
        model(static)
    assert counted.total / 1e9 < fixed_cost(model)


def test_redundancy_set_has_k_distinct_moments(tmp_path):
    from actionline.data.clips import ClipData
    from actionline.data.synthetic.clips import render_steps

    rng = np.random.default_rng(0)
    for label in range(4):
        frames, k = render_steps(label, 32, 32, rng)
        step = np.abs(np.diff(frames.astype(float), axis=0)).mean(axis=(1, 2, 3))  # noise alone: a constant level
        changes = int((step > np.median(step) + 1.0).sum())
        assert changes == k - 1  # the shape moves exactly at the K - 1 cuts; sensor noise stays below that
    from actionline.data.synthetic.clips import synthesize_video_classification

    data = synthesize_video_classification(tmp_path, train_per_class=2, test_per_class=1, size=32, kind="redundancy")
    assert ClipData(data).classes == ["steps_up", "steps_down", "steps_left", "steps_right"]
    assert "moments" in (data / "test.csv").read_text().splitlines()[0]
