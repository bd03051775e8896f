"""RTK: keypoint targets, focal loss, candidates, rule-based re-assembling, graph matching, keypoint metrics, the
model's shapes / gradients / staged schedule, and training through the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from actionline.cli import main
from actionline.errors import ConfigError
from actionline.metrics.keypoints import keypoint_counts, keypoint_quality, keypoints_from_labels
from actionline.models.registry import build_model
from actionline.nn.decoding.graph_matching import GraphEmbedding, GraphMatcher, permutation_loss, sinkhorn
from actionline.nn.decoding.keypoints import action_heatmap, boundary_heatmap, candidates, keypoint_focal_loss
from actionline.nn.decoding.reassembly import Keypoints, reassemble

LABELS = np.array([0] * 40 + [1] * 60)


# --- keypoint targets ---------------------------------------------------------------------------------------
def test_boundary_heatmap_is_a_truncated_gaussian_at_label_changes():
    heat = boundary_heatmap(LABELS, region=33)
    assert heat[40] == 1.0 and heat.argmax() == 40
    sigma = 16.5
    assert heat[50] == pytest.approx(math.exp(-(10**2) / (2 * sigma**2)), rel=1e-6)
    assert heat[40 - 16] > 0 and heat[40 - 17] == 0 and heat[40 + 17] == 0
    assert boundary_heatmap(np.zeros(10, dtype=int)).max() == 0  # one segment: no inner boundary


def test_action_heatmap_positive_region_and_gaussian_tail():
    heat = action_heatmap(LABELS)
    # segment 0: l = 40, mid 19.5, positive |x - 19.5| <= 6.4, σ = 0.25 * 0.8 * 40 = 8, region |d| <= 16
    assert (heat[14:26] == 1.0).all() and heat[13] < 1.0
    assert heat[30] == pytest.approx(math.exp(-(10.5**2) / (2 * 8.0**2)), rel=1e-5)
    assert heat[0] == 0.0  # 19.5 away, outside the region
    # segment 1: l = 60, mid 69.5
    assert heat[69] == 1.0 and heat[70] == 1.0


def test_keypoint_focal_loss_hand_value():
    prob = torch.tensor([[0.5, 0.2]])
    target = torch.tensor([[1.0, 0.5]])
    valid = torch.ones(1, 2, dtype=torch.bool)
    pos = -(1 - 0.75) * 0.5**2 * math.log(0.5)
    neg = -0.75 * 0.5**4 * 0.2**2 * math.log(0.8)
    assert float(keypoint_focal_loss(prob, target, valid)) == pytest.approx(pos + neg, rel=1e-5)


def test_candidates_are_thresholded_local_maxima_capped_by_score():
    heat = np.array([0.0, 0.5, 0.1, 0.3, 0.1, 0.9, 0.2, 0.45, 0.0])
    assert candidates(heat, 0.4, 10).tolist() == [1, 5, 7]
    assert candidates(heat, 0.4, 2).tolist() == [1, 5]  # the two most confident, in temporal order
    assert candidates(heat, 0.2, 10).tolist() == [1, 3, 5, 7]


# --- rule-based re-assembling --------------------------------------------------------------------------------
def _kp(actions, boundaries):
    a = np.array(actions, dtype=float).reshape(-1, 3)
    b = np.array(boundaries, dtype=float).reshape(-1, 2)
    return Keypoints(a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2], b[:, 0].astype(int), b[:, 1])


def _segments(points, length=80):
    s, e, c = reassemble(points, length, fallback_class=9)
    return list(zip(s.tolist(), e.tolist(), c.tolist(), strict=True))


def test_reassemble_alternating_points():
    assert _segments(_kp([(10, 0, 0.9), (50, 1, 0.8)], [(30, 0.7)])) == [(0, 30, 0), (30, 80, 1)]


def test_reassemble_step_i_merges_action_points_between_boundaries():
    points = _kp([(10, 0, 0.9), (20, 2, 0.5), (50, 1, 0.8)], [(30, 0.7)])
    assert _segments(points) == [(0, 30, 0), (30, 80, 1)]


def test_reassemble_step_ii_merges_boundaries_and_drops_outer_ones():
    points = _kp([(10, 0, 0.9), (50, 1, 0.8)], [(5, 0.9), (25, 0.5), (35, 0.5), (70, 0.9)])
    assert _segments(points) == [(0, 30, 0), (30, 80, 1)]
    weighted = _kp([(10, 0, 0.9), (50, 1, 0.8)], [(20, 0.3), (40, 0.1)])  # (20*.3 + 40*.1) / .4 = 25
    assert _segments(weighted) == [(0, 25, 0), (25, 80, 1)]


def test_reassemble_step_iii_merges_neighbours_of_the_same_class():
    points = _kp([(10, 0, 0.9), (50, 0, 0.6), (70, 1, 0.8)], [(30, 0.5), (60, 0.5)])
    assert _segments(points) == [(0, 60, 0), (60, 80, 1)]


def test_reassemble_without_action_points_falls_back():
    assert _segments(_kp([], [(30, 0.9)])) == [(0, 80, 9)]


# --- graph matching ------------------------------------------------------------------------------------------
def test_sinkhorn_is_doubly_stochastic():
    s = sinkhorn(torch.randn(6, 6), iterations=50)
    assert torch.allclose(s.sum(0), torch.ones(6), atol=1e-4) and torch.allclose(s.sum(1), torch.ones(6), atol=1e-4)


def test_permutation_loss_decreases_on_a_toy_matching_problem():
    torch.manual_seed(0)
    n, d = 8, 16
    target = torch.randn(n, d)
    times = torch.arange(n, dtype=torch.float) * 10
    perm = torch.randperm(n)
    source = target[perm] + 0.3 * torch.randn(n, d)  # source i corresponds to target perm[i]
    embed, matcher = GraphEmbedding(d, 2), GraphMatcher(d)
    opt = torch.optim.Adam([*embed.parameters(), *matcher.parameters()], lr=1e-2)
    losses = []
    for _ in range(60):
        soft = matcher(embed(source, times[perm], 20.0), embed(target, times, 20.0))
        assert soft.shape == (n, n)
        loss = permutation_loss(soft, perm)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert (soft.argmax(1) == perm).float().mean() >= 0.75


# --- keypoint metrics ----------------------------------------------------------------------------------------
def test_keypoint_quality_hand_case():
    labels = np.array([0] * 10 + [1] * 10 + [2] * 10)
    counts = keypoint_counts(
        action_pos=np.array([5, 12, 14, 25]),
        action_cls=np.array([0, 1, 0, 2]),  # 14 has the wrong class
        boundary_pos=np.array([9, 18, 27]),  # 27 is 7 frames from 20
        labels=labels,
        radius=5,
    )
    q = keypoint_quality([counts])
    assert q["action_acc"] == pytest.approx(75.0) and q["action_rec"] == pytest.approx(100.0)
    assert q["boundary_acc"] == pytest.approx(200 / 3) and q["boundary_rec"] == pytest.approx(100.0)
    pos, cls, bnd = keypoints_from_labels(labels)
    assert pos.tolist() == [4, 14, 24] and cls.tolist() == [0, 1, 2] and bnd.tolist() == [10, 20]


# --- model ---------------------------------------------------------------------------------------------------
def _toy_batch():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 200)
    mask = torch.ones(2, 200)
    mask[1, 150:] = 0
    labels = torch.tensor([0] * 50 + [1] * 80 + [2] * 70).repeat(2, 1)
    labels[1, 150:] = -100
    return x, mask, labels


def test_rtk_parameters_near_the_paper():
    model = build_model("rtk", {"input_dim": 2048, "num_classes": 11})
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 779_000) / 779_000 < 0.02  # Table 5: 0.779M (GTEA, 11 classes); see README for the gap


def test_rtk_phases_losses_and_gradients():
    x, mask, labels = _toy_batch()
    # prior 0.5: an untrained model then has candidates above the thresholds, so the refinement stages get gradient
    model = build_model("rtk", {"input_dim": 16, "num_classes": 3, "keypoint_prior": 0.5})
    model.set_epoch(1, 120)
    assert model.phase == 0
    model.set_epoch(81, 120)
    assert model.phase == 1
    model.set_epoch(101, 120)
    assert model.phase == 2
    out = model(x, mask)
    assert out["logits"].shape == (4, 2, 3, 200) and out["action"].shape == (4, 2, 200)
    terms = model.loss(out, {"labels": labels, "mask": mask})
    assert set(terms) == {"action", "class", "boundary", "perm", "refine", "total"}
    terms["total"].backward()
    assert all(p.grad is not None for p in model.parameters())
    model.phase = 0
    assert set(model.loss(model(x, mask), {"labels": labels, "mask": mask})) == {"action", "class", "boundary", "total"}


def test_rtk_keypoint_logits_start_at_the_focal_prior():
    x, mask, _ = _toy_batch()
    model = build_model("rtk", {"input_dim": 16, "num_classes": 3}).eval()
    with torch.no_grad():
        out = model(x, mask)
    for key in ("action", "boundary"):
        median = torch.sigmoid(out[key][:, 0]).median().item()
        assert 0.003 < median < 0.03, (key, median)
    with pytest.raises(ConfigError):
        build_model("rtk", {"keypoint_prior": 0.0})


def test_rtk_uses_the_refinement_stages_only_once_they_are_trained():
    x, mask, _ = _toy_batch()
    model = build_model("rtk", {"input_dim": 16, "num_classes": 3, "keypoint_prior": 0.5}).eval()
    with torch.no_grad():
        model.reclassify.bias[-1] = 50.0  # the refinement head calls every boundary spurious
        out = model(x, mask)
    model.set_epoch(1, 30)  # keypoint-generator phase: the raw candidates
    assert len(model.keypoints(out, 0, 200).boundary_pos) > 0
    model.set_epoch(30, 30)  # refinement phase: spurious boundaries dropped
    assert len(model.keypoints(out, 0, 200).boundary_pos) == 0


def test_rtk_decode_and_ablations():
    x, mask, labels = _toy_batch()
    model = build_model("rtk", {"input_dim": 16, "num_classes": 3}).eval()
    with torch.no_grad():
        timelines = model.decode(model(x, mask), mask, ["a", "b"], ["x", "y", "z"])
    assert [t.num_frames for t in timelines] == [200, 150]
    frame_wise = build_model(
        "rtk", {"input_dim": 16, "num_classes": 3, "keypoints": False, "refinement": False, "graph_matching": False}
    )
    out = frame_wise(x, mask)
    assert "action" not in out and set(frame_wise.loss(out, {"labels": labels, "mask": mask})) == {
        "ce",
        "smooth",
        "total",
    }
    with pytest.raises(ConfigError):
        build_model("rtk", {"keypoints": False})  # refinement needs keypoints
    with pytest.raises(ConfigError):
        build_model("rtk", {"gcn": False})  # graph matching supervises the GCN
    no_gcn = build_model("rtk", {"input_dim": 16, "num_classes": 3, "gcn": False, "graph_matching": False})
    assert not any(n.startswith("graph") for n, _ in no_gcn.named_parameters())


def test_rtk_trains_and_predicts_through_the_cli(toy_data, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--model", "rtk", "--data", str(toy_data), "--split", "1", "--out", str(run), "--epochs", "3"]
    small = ["model.encoder_layers=3", "model.decoder_layers=2", "model.num_decoders=1", "model.schedule=[0.3,0.6]"]
    assert main([*args, *[x for s in small for x in ("--set", s)]]) == 0
    assert main(["predict", "--run", str(run), "--data", str(toy_data), "--out", str(tmp_path / "pred")]) == 0
    assert (tmp_path / "pred" / "timelines.json").is_file()


def test_a_checkpoint_loads_in_the_training_phase_it_was_written_in(toy_data, tmp_path):
    """A `best` checkpoint chosen before the refinement phase must not decode with the untrained refinement head."""
    from actionline.data.layout import SegmentationData
    from actionline.engine.predictor import load_run
    from actionline.tasks.segmentation import train_segmentation

    small = {"encoder_layers": 2, "decoder_layers": 2, "num_decoders": 1, "num_f_maps": 8, "schedule": [0.3, 0.6]}
    data, run = SegmentationData(toy_data), tmp_path / "run"
    train_segmentation("rtk", data, 1, run, {"model": small, "train": {"epochs": 1}})
    assert load_run(run, "last")[0].phase == 0  # epoch 1 of 1: keypoint generator only
    train_segmentation("rtk", data, 1, run, {"model": small, "train": {"epochs": 3}}, resume=True)
    assert load_run(run, "last")[0].phase == 2  # epoch 3 of 3: refinement trained


# --- fidelity: oracle inputs through the real decoding path ---------------------------------------------------
def test_plateau_maxima_take_the_middle_of_flat_tops():
    from actionline.nn.decoding.peaks import plateau_maxima

    curve = np.array([0, 1, 1, 1, 1, 0, 0.5, 0.5, 0.2, 0.9, 0.3])
    assert plateau_maxima(curve, 0.4).tolist() == [2, 6, 9]
    assert plateau_maxima(np.array([0.0, 0.5, 0.1]), 0.4).tolist() == [1]  # a strict maximum is a plateau of one
    assert plateau_maxima(np.zeros(5), 0.1).tolist() == []


def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p)).astype(np.float32)


def _oracle_outputs(labels, num_classes, noise=0.0, seed=0):
    """Ground-truth heatmaps (optionally with noise) and one-hot class logits, as the model's outputs."""
    rng = np.random.default_rng(seed)
    t = len(labels)
    logits = np.full((num_classes, t), -20.0, dtype=np.float32)
    logits[labels, np.arange(t)] = 20.0
    heat = [
        np.clip(h + noise * rng.standard_normal(t), 0, 1) for h in (action_heatmap(labels), boundary_heatmap(labels))
    ]
    return {
        "logits": torch.from_numpy(logits)[None, None],
        "action": torch.from_numpy(_logit(heat[0]))[None, None],
        "boundary": torch.from_numpy(_logit(heat[1]))[None, None],
        "features": torch.zeros(1, 8, t),
    }


@pytest.mark.parametrize("dataset, every", [("50salads", 1), ("breakfast", 25)])
def test_rtk_decode_is_exact_on_ground_truth_keypoints(dataset, every):
    """Fed ground-truth heatmaps and classes, `decode` (candidates, caps, re-assembling) rebuilds every frame of
    real label sequences."""
    from actionline.data.layout import read_mapping
    from conftest import shared

    root = shared(dataset)
    names = read_mapping(root / "mapping.txt")
    index = {n: i for i, n in enumerate(names)}
    model = build_model("rtk", {"input_dim": 8, "num_classes": len(names)}).eval()
    model.set_epoch(1, 30)  # keypoint-generator phase: no refinement head involved
    classes = [str(i) for i in range(len(names))]
    for path in sorted((root / "groundTruth").glob("*.txt"))[::every]:
        labels = np.array([index[n] for n in path.read_text().split()])
        out = _oracle_outputs(labels, len(names))
        timeline = model.decode(out, torch.ones(1, len(labels)), [path.stem], classes)[0]
        assert (timeline.to_labels(classes) == labels).all(), path.stem


def test_each_candidate_type_has_its_own_cap():
    """Action scores near 1 must not push boundary candidates out (one joint cap did)."""
    labels = np.repeat(np.arange(12) % 3, 25)  # 12 segments, 11 boundaries in 300 frames
    model = build_model("rtk", {"input_dim": 8, "num_classes": 3, "candidate_ratio": 0.05}).eval()
    model.set_epoch(1, 30)
    out = _oracle_outputs(labels, 3)
    _, kind, _ = model._candidates(out, 0, len(labels))
    assert (kind == 1).sum() == 11 and (kind == 0).sum() == 12
    labels = np.repeat(np.arange(10) % 3, 100)  # slightly noisy heatmaps: many maxima per plateau
    model = build_model("rtk", {"input_dim": 8, "num_classes": 3}).eval()
    model.set_epoch(1, 30)
    noisy = _oracle_outputs(labels, 3, noise=0.02, seed=1)
    timeline = model.decode(noisy, torch.ones(1, len(labels)), ["v"], ["a", "b", "c"])[0]
    assert (timeline.to_labels(["a", "b", "c"]) == labels).mean() > 0.95


def test_the_class_head_labels_segments_unless_reclassify_is_set():
    labels = np.repeat([0, 1, 2], 40)
    for reclassify, expected in ((False, labels), (True, None)):
        model = build_model("rtk", {"input_dim": 8, "num_classes": 3, "reclassify": reclassify}).eval()
        with torch.no_grad():  # the re-classifier says class 2 everywhere
            model.reclassify.weight.zero_()
            model.reclassify.bias.copy_(torch.tensor([0.0, 0.0, 50.0, -50.0]))
        model.set_epoch(30, 30)
        out = _oracle_outputs(labels, 3)
        out["features"] = torch.zeros(1, model.config.num_f_maps, len(labels))
        got = model.decode(out, torch.ones(1, len(labels)), ["v"], ["a", "b", "c"])[0].to_labels(["a", "b", "c"])
        if expected is not None:
            assert (got == expected).all()
        else:
            assert (got == 2).all()


def test_default_loss_weights_balance_the_encoder_gradients():
    """Item 3 of the model's docstring: at λ = 1 no term's encoder gradient dwarfs the others at initialisation."""
    torch.manual_seed(0)
    labels = torch.from_numpy(np.repeat(np.arange(8) % 4, 60))[None]
    x, mask = torch.randn(1, 16, labels.shape[1]), torch.ones(1, labels.shape[1])
    model = build_model("rtk", {"input_dim": 16, "num_classes": 4})
    model.set_epoch(1, 30)
    terms = model.loss(model(x, mask), {"labels": labels, "mask": mask})
    norms = {}
    for name in ("action", "class", "boundary"):
        model.zero_grad()
        terms[name].backward(retain_graph=True)
        norms[name] = float(torch.sqrt(sum((p.grad**2).sum() for p in model.encoder.parameters())))
    assert max(norms.values()) < 10 * min(norms.values()), norms
