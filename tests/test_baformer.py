"""BaFormer: parameter count, matching, Algorithms 1 and 2 on hand-made inputs, gradients, the fast inference path."""

import numpy as np
import pytest
import torch

from actionline.models.registry import build_model
from actionline.models.segmentation.baformer import frame_voting, query_voting, relabel_short_runs
from actionline.nn.decoding.matching import hungarian_match
from actionline.nn.decoding.peaks import boundaries_to_spans, local_maxima, nms_peaks
from actionline.nn.losses.masks import dice_loss, mask_matching_costs, sigmoid_focal_loss

TINY = {
    "input_dim": 12,
    "num_classes": 5,
    "num_queries": 8,
    "num_layers": 3,
    "hidden_dim": 16,
    "head_dim": 8,
    "num_heads": 2,
}


def params(settings):
    return sum(p.numel() for p in build_model("baformer", settings).parameters())


def test_parameter_count_matches_the_paper():
    n = params({"input_dim": 2048, "num_classes": 19})
    assert n == 1_631_417  # reference 1,632,652 minus its unused encoder classifier (1,235)
    assert abs(n - 1_632_000) / 1_632_000 < 0.015
    assert params({"input_dim": 2048, "num_classes": 19, "feature_levels": "single"}) == 1_507_897  # Table 10: 1.51M
    assert params({"input_dim": 2048, "num_classes": 19, "decoder_layers": 3}) == pytest.approx(780_000, rel=0.02)


def test_hungarian_matching_constructed_case():
    cost = torch.tensor([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    rows, cols = hungarian_match(cost)
    assert dict(zip(rows.tolist(), cols.tolist(), strict=True)) == {0: 1, 1: 0, 2: 2}  # total 5, greedy gives 6
    rows, cols = hungarian_match(torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]))  # more queries than GT
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0)]


@pytest.mark.parametrize("scale, alpha, gamma", [(1.0, 0.25, 2.0), (30.0, 0.25, 2.0), (3.0, 0.6, 1.5)])
def test_costs_equal_the_losses_of_each_pair(scale, alpha, gamma):
    """Every entry of the matching costs is the loss of that (prediction, target) pair, saturated logits included."""
    torch.manual_seed(0)
    logits, targets = scale * torch.randn(4, 30), (torch.rand(3, 30) > 0.5).float()
    focal, dice = mask_matching_costs(logits, targets, alpha, gamma)
    for i in range(4):
        for j in range(3):
            pair = logits[i : i + 1], targets[j : j + 1]
            assert focal[i, j] == pytest.approx(float(sigmoid_focal_loss(*pair, alpha, gamma)), rel=1e-5, abs=1e-6)
            assert dice[i, j] == pytest.approx(float(dice_loss(*pair)), abs=1e-6)


def test_peaks_and_spans():
    p = np.array([0.0, 0.5, 0.1, 0.2, 0.9, 0.3, 0.35, 0.1])
    assert local_maxima(p, 0.0).tolist() == [1, 4, 6]
    assert local_maxima(p, 0.4).tolist() == [1, 4]  # values below the threshold are zeroed first
    # NMS: frame 6 (0.35) lies within 2 of the 0.9 at frame 4; frame 1 is 3 away, so it survives radius 2 only
    assert nms_peaks(p, 0.3, radius=2).tolist() == [1, 4]
    assert nms_peaks(p, 0.3, radius=3).tolist() == [4]
    starts, ends = boundaries_to_spans(np.array([3, 7]), 10)
    assert starts.tolist() == [0, 3, 7] and ends.tolist() == [3, 7, 10]


def test_algorithm1_query_voting_hand_case():
    # 3 queries, 3 classes (no-action already dropped), 10 frames; proposals [0,4) [4,10)
    class_prob = np.array([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.2, 0.2, 0.6]])
    mask = np.zeros((3, 10))
    mask[0, :4] = 0.9  # query 0 (class 1) dominates the first proposal
    mask[1, :] = 0.3  # query 1 (class 0) is weakly everywhere: mass 1.2 in the first, 1.8 in the second
    mask[2, 4:] = 0.5  # query 2 (class 2): mass 3.0 in the second
    classes, scores = query_voting(class_prob, mask, np.array([0, 4]), np.array([4, 10]))
    assert classes.tolist() == [1, 2]
    assert scores.tolist() == pytest.approx([0.8, 0.6])


def test_algorithm2_frame_voting_hand_case():
    class_prob = np.array([[1.0, 0.0], [0.0, 1.0]])
    mask = np.array([[1, 1, 1, 0, 0, 1], [0, 0, 0, 1, 1, 0]], dtype=float)  # frame classes 0 0 0 1 1 0
    classes, scores = frame_voting(class_prob, mask, np.array([0, 2]), np.array([2, 6]))
    # second proposal frames 2..5 -> classes 0,1,1,0: a tie, the lowest class index wins
    assert classes.tolist() == [0, 0] and scores.tolist() == pytest.approx([1.0, 0.5])


def test_relabel_short_runs():
    labels = np.array([1, 1, 1, 1, 2, 3, 3, 3, 3, 4, 1, 1, 1, 1])
    assert relabel_short_runs(labels, 1).tolist() == [1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 1, 1, 1, 1]
    assert relabel_short_runs(np.array([5, 1, 1, 1]), 2).tolist() == [5, 1, 1, 1]  # the first run stays


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"global_query": "mean"},
        {"global_query": "class_token"},
        {"feature_levels": "single"},
        {"matching": "ordered"},
        {"matching": "transcript"},
        {"boundary_target": "gaussian"},
    ],
)
def test_training_step_shapes_and_every_parameter_gets_gradient(settings):
    torch.manual_seed(0)
    model = build_model("baformer", {**TINY, **settings}).train()
    x, mask = torch.randn(2, 12, 40), torch.ones(2, 40)
    mask[1, 30:] = 0
    labels = torch.tensor([[0] * 10 + [2] * 15 + [1] * 15, [3] * 12 + [4] * 18 + [-100] * 10])
    out = model(x, mask)
    M = 5 if settings.get("matching") == "ordered" else 8
    assert out["class_logits"].shape == (4, 2, M, 6)  # 3 layers + the set before the first layer
    assert out["mask_logits"].shape == (4, 2, M, 40) and out["boundary_logits"].shape == (4, 2, 40)
    for v in out.values():
        v.retain_grad()
    terms = model.loss(out, {"labels": labels, "mask": mask})
    assert {"class", "focal", "dice", "boundary", "total"} <= set(terms) and torch.isfinite(terms["total"])
    terms["total"].backward()
    for name, v in out.items():  # every head of every layer (auxiliary outputs included) receives gradient
        per_set = v.grad.flatten(1).abs().sum(1)
        assert torch.all(per_set > 0), name
    dead = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert dead == [n for n in dead if ".blocks.0.query." in n or ".blocks.0.key." in n]  # ASFormer block 0


def test_without_auxiliary_losses_only_the_final_set_is_supervised():
    model = build_model("baformer", {**TINY, "aux_loss": False}).train()
    out = model(torch.randn(1, 12, 20), torch.ones(1, 20))
    assert out["class_logits"].shape[0] == 1


def test_fast_inference_path_equals_the_training_path():
    torch.manual_seed(0)
    model = build_model(
        "baformer",
        {**TINY, "attn_dropout": 0.0, "ffn_dropout": 0.0, "dropout": 0.0, "channel_dropout": 0.0, "aux_loss": False},
    )
    x, mask = torch.randn(2, 12, 50), torch.ones(2, 50)
    mask[1, 35:] = 0
    with torch.no_grad():
        fast = model.eval()(x, mask)
        slow = model.train()(x, mask)
    assert torch.allclose(fast["class_logits"], slow["class_logits"], atol=1e-5)
    assert torch.allclose(fast["mask_logits"] * mask[:, None], slow["mask_logits"] * mask[:, None], atol=1e-5)
    assert torch.allclose(fast["boundary_logits"] * mask, slow["boundary_logits"] * mask, atol=1e-5)


def test_decode_with_ground_truth_boundaries_gives_exact_boundaries():
    torch.manual_seed(0)
    model = build_model("baformer", {**TINY, "boundaries": "ground_truth"}).eval()
    x, mask = torch.randn(1, 12, 40), torch.ones(1, 40)
    labels = torch.tensor([[0] * 10 + [2] * 15 + [1] * 15])
    with torch.no_grad():
        tl = model.decode(model(x, mask), mask, ["v"], list("abcde"), targets={"labels": labels})[0]
    edges = sorted({s.start for s in tl.segments} | {0})
    assert set(edges) <= {0, 10, 25}  # merged neighbours may share a class, but no other boundary exists
    assert tl.num_frames == 40


def test_train_and_predict_end_to_end(tmp_path, toy_data):
    from actionline.data.layout import SegmentationData
    from actionline.tasks.segmentation import predict_segmentation, train_segmentation

    data = SegmentationData(toy_data)
    settings = {
        "model": {k: v for k, v in TINY.items() if k not in ("input_dim", "num_classes")},
        "train": {"epochs": 2, "lr": 0.005, "val_fraction": 0.25},
    }
    best = train_segmentation("baformer", data, 1, tmp_path / "run", settings)
    assert best["epoch"] in (1, 2) and {"acc", "edit", "f1@50"} <= set(best["metrics"])
    videos = data.split("test", 1)
    timelines = predict_segmentation(tmp_path / "run", data, videos, tmp_path / "pred")
    assert [t.num_frames for t in timelines] == [len(data.labels(v)) for v in videos]


def test_inference_ablations_without_retraining(tmp_path, toy_data):
    """Tables 3-5 and the released post-process are decode-time settings: `predict --set` applies them."""
    from actionline.cli import main
    from actionline.data.layout import SegmentationData
    from actionline.tasks.segmentation import train_segmentation

    data = SegmentationData(toy_data)
    settings = {
        "model": {k: v for k, v in TINY.items() if k not in ("input_dim", "num_classes")},
        "train": {"epochs": 1, "val_fraction": 0.25},
    }
    train_segmentation("baformer", data, 1, tmp_path / "run", settings)
    for extra in (
        ["model.voting=frame"],
        ["model.boundary_selection=nms"],
        ["model.boundaries=ground_truth"],
        ["model.relabel_short=5"],
    ):
        out = tmp_path / extra[0]
        assert (
            main(
                ["predict", "--run", str(tmp_path / "run"), "--data", str(toy_data), "--out", str(out), "--set", *extra]
            )
            == 0
        )
        assert (out / "timelines.json").is_file()
    assert (
        main(
            [
                "predict",
                "--run",
                str(tmp_path / "run"),
                "--data",
                str(toy_data),
                "--out",
                str(tmp_path / "x"),
                "--set",
                "model.num_layers=2",
            ]
        )
        == 2
    )  # changes the weights: a clear error
