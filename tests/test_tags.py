"""TAGS / GSMT and the actionness baseline: losses against hand-computed values, label assignment, candidate
generation, model shapes and gradients, and the detection pipeline end to end through the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from actionline.cli import main
from actionline.data.detection import DetectionData
from actionline.data.synthetic.features import synthesize_detection
from actionline.errors import DataError
from actionline.metrics.detection import THUMOS_TIOU, evaluate_detection
from actionline.models.detection.tags import TagsConfig
from actionline.models.registry import build_model
from actionline.nn.decoding.detection_postprocess import finalize, segment_means, threshold_runs
from actionline.nn.losses import detection as L
from actionline.nn.temporal.snippets import snippet_targets
from actionline.tasks.detection import Clip, clip_instances, merge_windows
from actionline.timeline import Instance


# --- losses -----------------------------------------------------------------------------------------------
def test_classification_loss_hand_value():
    # K = 2 actions + background; uniform logits, one action snippet and one background snippet.
    logits = torch.zeros(2, 3)
    labels = torch.tensor([0, 2])
    p = 1 / 3
    focal = (1 - p) ** 2 * -math.log(p)
    # action snippet: -log σ(0) - 10 * log(1 - σ(0)) over |N| = max(1, round(0.1 * 2)) = 1 hard negative
    regression = math.log(2) + 10 * math.log(2)
    expected = 0.4 * focal + 0.6 * regression  # regression averaged over the one action snippet
    assert float(L.classification_loss(logits, labels)) == pytest.approx(expected, rel=1e-5)


def test_classification_loss_hard_negatives_are_the_highest_scoring_other_classes():
    logits = torch.tensor([[0.0, 3.0, -3.0, 1.0, 0.0]])  # label 0; K = 4, |N| = 1 -> class 1 (logit 3)
    value = L.classification_loss(logits, torch.tensor([0]), focal_weight=0.0, alpha=1.0)
    expected = -math.log(1 / (1 + math.exp(-0.0))) - math.log(1 - 1 / (1 + math.exp(-3.0)))
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_mask_loss_zero_for_perfect_masks_and_hand_value_for_empty_prediction():
    g = torch.zeros(1, 20)
    g[0, 5:11] = 1.0
    assert float(L.mask_loss(g.clone(), g)) == pytest.approx(0.0, abs=1e-3)  # up to the papers' ε = e^-8
    # empty prediction: no boundary overlap -> 1 - 0 + ||0 - g|| / c, dice 1 -> + 0.4
    c = 6.0
    assert float(L.mask_loss(torch.zeros(1, 20), g)) == pytest.approx(1 + math.sqrt(c) / c + 0.4, rel=1e-4)


def test_erosion_band_marks_the_edges():
    g = torch.zeros(1, 20)
    g[0, 5:15] = 1.0
    band = L.boundary_band(g, 7)[0]
    assert band.nonzero().flatten().tolist() == [5, 6, 7, 12, 13, 14]


def test_outer_inner_contrast_hand_values():
    hard = torch.tensor([[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
    soft = torch.tensor([[0.0, 0.2, 0.8, 1.0, 0.0, 0.0]])
    thresholds = torch.tensor([0.5, 1.0])
    assert L.outer_inner_contrast(hard, thresholds[:1]).item() == pytest.approx(1.0)
    # runs bg[0,1] fg[2,3] bg[4,5], margin ceil(0.25 * 2) = 1: (0.9-0.2) , (0.9-0.1), (1-0) -> mean
    r = L.outer_inner_contrast(soft, thresholds)
    assert r[0, 0].item() == pytest.approx((0.7 + 0.8 + 1.0) / 3)
    # at 1.0 nothing is activated: not a detection
    assert r[0, 1].item() == -math.inf


def test_redundancy_loss_zero_for_perfect_and_weighted_mse_otherwise():
    g = torch.tensor([[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
    thresholds = torch.tensor([0.5])
    assert float(L.redundancy_loss(g.clone(), g, thresholds)) == pytest.approx(0.0)
    soft = torch.tensor([[0.0, 0.2, 0.8, 1.0, 0.0, 0.0]])
    r = (0.7 + 0.8 + 1.0) / 3
    mse = (0.2**2 + 0.2**2) / 6  # mean squared error over the T = 6 positions (the released code's form)
    assert float(L.redundancy_loss(soft, g, thresholds)) == pytest.approx((1 - r) ** 2 * mse, rel=1e-5)


def test_consistency_loss_hand_value_and_gradient():
    probs = torch.tensor([[[0.9, 0.6], [0.1, 0.4]]])  # [B=1, K+1=2, T=2]; both snippets pass θ_c = 0.3
    class_feats = torch.tensor([[[1.0, 2.0], [5.0, 5.0]]], requires_grad=True)
    masks = torch.tensor([[[0.9, 0.2], [0.1, 0.8]]])
    mask_feats = torch.tensor([[[2.0, 3.0], [4.0, 6.0]]], requires_grad=True)
    value = L.consistency_loss(probs, class_feats, masks, mask_feats, topk=2)
    f_clf = np.array([2.0, 1.0])  # top-k of the action row of E_p
    f_mask = np.sort(1 / (1 + np.exp(-np.array([1.0, 3.0]))))[::-1]
    expected = 1 - f_clf @ f_mask / np.linalg.norm(f_clf) / np.linalg.norm(f_mask)
    assert value.item() == pytest.approx(expected, rel=1e-5)
    value.backward()
    assert class_feats.grad.abs().sum() > 0 and mask_feats.grad.abs().sum() > 0


# --- label assignment and candidates ---------------------------------------------------------------------
def test_snippet_targets_keep_every_instance_shortest_wins_and_tiny_instances_claim_their_midpoint():
    inst = torch.tensor([[[0.1, 0.35, 0], [0.2, 0.6, 1], [0.71, 0.74, 2]]])
    labels, masks = snippet_targets(inst, torch.tensor([3]), 10, num_classes=3)
    assert labels[0].tolist() == [3, 0, 0, 1, 1, 1, 3, 2, 3, 3]
    col = masks[0]  # [position, snippet]
    assert col[:, 1].nonzero().flatten().tolist() == [1, 2]  # snippet 1's mask = instance 0
    assert col[:, 4].nonzero().flatten().tolist() == [2, 3, 4, 5]  # instance 1 covers centres 0.25..0.55
    assert col[:, 7].nonzero().flatten().tolist() == [7]
    assert col[:, 0].sum() == 0  # background snippets have no mask
    # padded rows (count) are ignored
    labels2, _ = snippet_targets(inst, torch.tensor([1]), 10, num_classes=3)
    assert labels2[0].tolist() == [3, 0, 0, 3, 3, 3, 3, 3, 3, 3]


def test_threshold_runs_first_last_and_every_run():
    rows = np.array([[0.1, 0.8, 0.2, 0.9, 0.9, 0.1]])
    th = np.array([0.5, 0.85])
    r, s, e = threshold_runs(rows, th, "first_last")
    assert list(zip(r, s, e, strict=True)) == [(0, 1, 5), (0, 3, 5)]
    r, s, e = threshold_runs(rows, th, "runs")
    assert list(zip(r, s, e, strict=True)) == [(0, 1, 2), (0, 3, 5), (0, 3, 5)]
    assert segment_means(rows, np.array([0]), np.array([3]), np.array([5]))[0] == pytest.approx(0.9)


def test_finalize_merges_duplicates_and_suppresses_within_class_only():
    starts = np.array([0, 0, 1, 0])
    ends = np.array([10, 10, 10, 10])
    labels = np.array([0, 0, 0, 1])
    scores = np.array([0.9, 0.5, 0.8, 0.7])
    s, e, k, p = finalize(starts, ends, labels, scores, 0.1, 10, "hard", 0.5, 0.5)
    assert list(zip(s, e, k, strict=True)) == [(0, 10, 0), (0, 10, 1)]
    assert p.tolist() == pytest.approx([0.9, 0.7])


# --- model ------------------------------------------------------------------------------------------------
def _batch(b=2, d=8, t=40):
    torch.manual_seed(0)
    inst = torch.tensor([[[0.1, 0.3, 0], [0.5, 0.9, 2]], [[0.2, 0.25, 1], [0.0, 0.0, 0]]], dtype=torch.float)
    return {"features": torch.randn(b, d, t), "instances": inst, "num_instances": torch.tensor([2, 1])}


def test_tags_shapes_every_head_gets_gradient_and_gsmt_has_no_extra_heads():
    batch = _batch()
    model = build_model("tags", {"input_dim": 8, "num_classes": 3, "num_snippets": 16, "mask_channels": [16, 8, 8]})
    out = model(batch["features"])
    assert out["logits@1"].shape == (2, 4, 16) and out["logits@2"].shape == (2, 4, 32)
    assert out["mask_logits@1"].shape == (2, 16, 16) and out["mask_logits@2"].shape == (2, 32, 32)
    terms = model.loss(out, batch)
    assert set(terms) == {"class", "mask", "redundancy", "consistency", "total"}
    terms["total"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
    gsmt = build_model(
        "tags",
        {"input_dim": 8, "num_classes": 3, "scales": [1], "redundancy_loss": False, "consistency_loss": False},
    )
    assert not any("proj" in n for n, _ in gsmt.named_parameters())
    assert set(gsmt.loss(gsmt(batch["features"]), batch)) == {"class", "mask", "total"}


def test_tags_decode_gives_scored_segments_in_finest_snippets():
    model = build_model("tags", {"input_dim": 8, "num_classes": 3, "num_snippets": 16, "mask_channels": [16, 8, 8]})
    model.eval()
    with torch.no_grad():
        timelines = model.decode(model(_batch()["features"]), None, ["a", "b"], ["x", "y", "z"])
    assert [t.num_frames for t in timelines] == [32, 32]
    for t in timelines:
        assert len(t.segments) <= model.config.max_detections
        assert all(0 <= s.start < s.end <= 32 and s.label in "xyz" and 0 < s.score <= 1 for s in t.segments)


def test_tags_config_rejects_bad_scales():
    from actionline.errors import ConfigError

    with pytest.raises(ConfigError):
        build_model("tags", {"scales": [2, 3]})
    assert TagsConfig(scales=[1, 2, 4]).input_length == 400


def test_tags_learns_a_toy_problem():
    """A fixed batch: the total loss falls well below its start after a few Adam steps."""
    torch.manual_seed(0)
    batch = _batch()
    model = build_model("tags", {"input_dim": 8, "num_classes": 3, "num_snippets": 16, "mask_channels": [32, 16, 16]})
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        terms = model.loss(model(batch["features"]), batch)
        first = first if first is not None else terms["total"].item()
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
    assert terms["total"].item() < 0.6 * first


def test_actionness_loss_and_decode():
    batch = _batch()
    model = build_model("actionness", {"input_dim": 8, "num_classes": 3, "num_snippets": 16})
    out = model(batch["features"])
    assert out["logits"].shape == (2, 4, 16)
    assert set(model.loss(out, batch)) == {"class", "total"}
    model.eval()
    with torch.no_grad():
        tl = model.decode(model(batch["features"]), None, ["a", "b"], ["x", "y", "z"])
    assert all(0 <= s.start < s.end <= 16 for t in tl for s in t.segments)


# --- windows ----------------------------------------------------------------------------------------------
def test_clip_instances_and_window_merging():
    clip = Clip("v", 0, 100, 10.0, 20.0)
    inst = [Instance("v", 12.0, 14.0, "a"), Instance("v", 19.0, 25.0, "b"), Instance("v", 0.0, 5.0, "a")]
    rows = clip_instances(inst, clip, {"a": 0, "b": 1}, 0.5)
    assert len(rows) == 1 and rows[0].tolist() == pytest.approx([0.2, 0.4, 0.0])  # b: 1 of 6 s inside
    rows = clip_instances(inst, clip, {"a": 0, "b": 1}, 0.1)
    assert rows[1].tolist() == pytest.approx([0.9, 1.0, 1.0])
    with pytest.raises(DataError):
        clip_instances([Instance("v", 12.0, 14.0, "zzz")], clip, {"a": 0}, 0.5)
    cfg = TagsConfig(nms_method="hard")
    merged = merge_windows([Instance("v", 1.0, 5.0, "a", 0.9), Instance("v", 1.1, 5.0, "a", 0.6)], ["a"], cfg)
    assert len(merged) == 1 and merged[0].score == pytest.approx(0.9)


# --- data + CLI end to end --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def det_data(tmp_path_factory):
    return synthesize_detection(tmp_path_factory.mktemp("det"), num_videos=12, num_classes=3, feature_dim=8, seed=2)


def test_detection_data_validates_features(det_data, tmp_path):
    import shutil

    data = DetectionData(det_data)
    assert data.default_subsets() == ("training", "validation")
    video = data.videos("training")[0]
    assert data.features(video).shape[1] == 8
    bad = tmp_path / "bad"
    shutil.copytree(det_data, bad)
    arr = np.load(bad / "features" / f"{video}.npy")
    arr[3, 1] = np.nan
    np.save(bad / "features" / f"{video}.npy", arr)
    with pytest.raises(DataError, match="NaN"):
        DetectionData(bad).features(video)
    np.save(bad / "features" / f"{video}.npy", np.ones((5, 8)))  # far too short for the video's duration
    with pytest.raises(DataError, match="should have about"):
        DetectionData(bad).features(video)
    with pytest.raises(DataError, match="no videos in subset"):
        data.videos("nope")


def test_cli_train_predict_evaluate_detection(det_data, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--model", "tags", "--config", "gsmt", "--data", str(det_data), "--out", str(run)]
    args += ["--epochs", "2", "--set", "train.batch_size=4", "--set", "model.mask_channels=[16,8,8]"]
    assert main(args) == 0
    assert (run / "checkpoints" / "best.pt").is_file()
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert "avg_mAP" in log[-1]["val"]
    pred = tmp_path / "pred"
    assert main(["predict", "--run", str(run), "--data", str(det_data), "--out", str(pred)]) == 0
    results = json.loads((pred / "results.json").read_text())["results"]
    assert set(results) == set(DetectionData(det_data).videos("validation"))
    for entries in results.values():
        assert all(0 <= e["segment"][0] < e["segment"][1] and 0 <= e["score"] <= 1 for e in entries)
    capsys.readouterr()
    gt = det_data / "annotations.json"
    cmd = ["evaluate", "--task", "detection", "--pred", str(pred / "results.json"), "--gt", str(gt)]
    assert main([*cmd, "--subset", "validation", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores) >= {"mAP@0.5", "mAP@0.95", "avg_mAP"}
    image = tmp_path / "det.png"
    assert main(["view", "--pred", str(pred / "results.json"), "--data", str(det_data), "--out", str(image)]) == 0
    assert image.stat().st_size > 1000
    # video-level class scores of zero remove every detection's score
    zero = tmp_path / "scores.json"
    zero.write_text(json.dumps({v: {} for v in results}))
    assert (
        main(
            [
                "predict",
                "--run",
                str(run),
                "--data",
                str(det_data),
                "--out",
                str(tmp_path / "p0"),
                "--video-scores",
                str(zero),
            ]
        )
        == 0
    )
    zeroed = json.loads((tmp_path / "p0" / "results.json").read_text())["results"]
    assert all(e["score"] == 0 for entries in zeroed.values() for e in entries)


def test_cli_detection_bad_inputs(det_data, tmp_path, toy_data):
    assert main(["train", "--model", "tags", "--data", str(toy_data), "--out", str(tmp_path / "r")]) == 2
    assert (
        main(["train", "--model", "tags", "--data", str(det_data), "--out", str(tmp_path / "r"), "--subset", "nope"])
        == 2
    )
    assert (
        main(
            [
                "train",
                "--model",
                "tags",
                "--data",
                str(det_data),
                "--out",
                str(tmp_path / "r"),
                "--set",
                "model.scales=[2,3]",
            ]
        )
        == 2
    )


# --- fidelity: positions, mask losses, and an overfit check ---------------------------------------------------
def _mask_of_content(model, start):
    """The mask column predicted by the middle snippet of a content block placed at ``start``."""
    x = torch.zeros(1, 8, 64)
    x[0, :, start : start + 10] = torch.linspace(1, 2, 8)[:, None]
    with torch.no_grad():
        return model(x)["mask_logits@1"][0, :, start + 5]


@pytest.mark.parametrize("positions", [False, True])
def test_shifted_content_moves_the_mask_only_with_positions(positions):
    torch.manual_seed(0)
    settings = {"input_dim": 8, "num_classes": 2, "scales": [1], "num_snippets": 64, "mask_channels": [16, 8, 8]}
    model = build_model("tags", {**settings, "positional_encoding": positions}).eval()
    change = (_mask_of_content(model, 10) - _mask_of_content(model, 40)).abs().max().item()
    if positions:
        assert change > 1e-2
    else:  # permutation-equivariant embedding: the mask of the same content cannot move (the defect positions fix)
        assert change < 1e-5


def test_windowed_presets_give_the_mask_branch_positions():
    from actionline.tasks.recipe import load_preset

    for preset in ("gsmt_thumos14", "tags_thumos14"):
        assert load_preset("tags", "", preset)["model"]["positional_encoding"] is True


def test_bce_dice_mask_loss_is_the_released_codes_mix():
    logits = torch.tensor([[3.0, -3.0, -3.0, 3.0]])
    target = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    expected = 0.4 * float(L.balanced_bce(logits, target)) + 0.6 * float(L.vnet_dice(torch.sigmoid(logits), target)[0])
    assert float(L.bce_dice_loss(logits, target)) == pytest.approx(expected)
    assert float(L.bce_dice_loss(torch.zeros(0, 4), torch.zeros(0, 4))) == 0.0


def test_gsmt_overfits_a_handful_of_videos(tmp_path):
    """Trained and evaluated on the same 6 videos, GSMT (with positions and the default mask loss) must find their
    instances: average mAP over THUMOS thresholds well above chance."""
    from torch.utils.data import DataLoader

    from actionline.tasks.detection import DetectionClips, DetectionDataConfig, collate_clips, detect

    torch.manual_seed(0)
    data = DetectionData(synthesize_detection(tmp_path, num_videos=8, num_classes=3, feature_dim=16, difficulty=0.5))
    videos = sorted(data.annotations.durations)[:6]
    model = build_model(
        "tags",
        {
            "input_dim": 16,
            "num_classes": 3,
            "scales": [1],
            "num_snippets": 64,
            "mask_channels": [64, 32, 32],
            "redundancy_loss": False,
            "consistency_loss": False,
            "positional_encoding": True,
            "mask_score": "max",
            "proposal_mode": "runs",
        },
    )
    cfg = DetectionDataConfig()
    batch = collate_clips(list(DetectionClips(data, videos, 64, cfg, data.classes)))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        total = model.loss(model(batch["features"], batch["mask"]), batch)["total"]
        opt.zero_grad()
        total.backward()
        opt.step()
    model.eval()
    clips = DetectionClips(data, videos, 64, cfg, data.classes, with_targets=False)
    found = detect(model, DataLoader(clips, batch_size=8, collate_fn=collate_clips), data.classes, False)
    scores = evaluate_detection([i for v in videos for i in data.instances(v)], found, THUMOS_TIOU)
    assert scores.average_map > 60, scores.headline()
