"""SCT and MuCon: every loss against a hand-computed value, model shapes and gradients, inference variants, and the
supervision modes (what a weakly supervised model may see)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from actionline.cli import main
from actionline.config import load_yaml
from actionline.data.layout import SegmentationData
from actionline.errors import ConfigError
from actionline.models.registry import build_model
from actionline.nn.losses import weak as W
from actionline.nn.losses.segmentation import IGNORE_INDEX
from actionline.tasks.supervision import Supervision

A = torch.tensor([[0.2, 0.8], [0.6, 0.2], [0.1, 0.1]])  # C = 3 classes x K = 2 regions
SET = torch.tensor([0, 1])
WEIGHTS = torch.tensor([0.001, 1.0, 1.0])


def test_sct_log_space_losses_keep_learning_from_saturated_regions():
    logits = torch.tensor([[30.0, 30.0], [-30.0, -30.0]], requires_grad=True)  # class 1 has probability ~1e-26
    log_probs = torch.log_softmax(logits, dim=0)
    loss = W.sct_set_loss(log_probs, torch.tensor([1]), torch.ones(2)) + W.sct_region_loss(log_probs, torch.tensor([1]))
    loss.backward()
    assert loss.item() > 50 and logits.grad[1].le(-0.5).all()


def test_sct_losses_hand_values():
    assert float(W.sct_set_loss(A.log(), SET, WEIGHTS)) == pytest.approx(
        (0.001 * -math.log(0.8) - math.log(0.6)) / 1.001, rel=1e-5
    )
    assert float(W.sct_region_loss(A.log(), SET)) == pytest.approx(-(math.log(0.6) + math.log(0.8)) / 2, rel=1e-5)
    assert float(W.sct_inverse_sparsity(A, SET, WEIGHTS)) == pytest.approx((0.001 * 0.5 + 0.6) / 1.001, rel=1e-5)
    # Eq. 8.8: summed absolute changes over the M = 2 set rows and K = 2 regions, divided by M K
    assert float(W.sct_temporal_consistency(A, SET)) == pytest.approx((0.6 + 0.4) / (2 * 2), rel=1e-5)
    assert float(W.sct_length_regulariser(torch.tensor([2.0, -3.0, 0.5]))) == pytest.approx(3.0)
    upsampled = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    frame_logits = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    expected = (math.log(1 + math.exp(-1.0)) + math.log(1 + math.exp(-1.5))) / 2
    value = W.sct_self_supervision(upsampled, frame_logits, torch.tensor([0, 1]), torch.ones(2))
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_mucon_losses_hand_values():
    y = torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])  # [T, N]
    masks = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    value = W.mutual_consistency_loss(y, masks, torch.tensor([2.0, 2.0]), torch.tensor([0, 1]))
    assert value.item() == pytest.approx(math.log(1 + math.exp(-2.0)), rel=1e-5)
    steps = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    assert float(W.transcript_loss(steps, torch.tensor([0, 0]))) == pytest.approx(
        math.log(2) + math.log(1 + math.exp(-1.0)), rel=1e-5
    )
    assert float(W.length_regulariser(torch.tensor([3.0, -2.5, 0.0]))) == pytest.approx(1.5)


def _batch(mode: str):
    torch.manual_seed(0)
    labels = torch.tensor([[0] * 120 + [2] * 150 + [1] * 130])
    batch = {"features": torch.randn(1, 8, 400), "mask": torch.ones(1, 400), "labels": labels}
    if mode == "transcript":
        batch["transcript"] = torch.tensor([[0, 2, 1]])
        batch["full"] = torch.tensor([False])
    else:
        batch["set"] = torch.tensor([[0, 1, 2]])
    return batch


def test_mucon_shapes_gradients_and_inference_variants():
    model = build_model("mucon", {"input_dim": 8, "num_classes": 3, "channels": 32})
    batch = _batch("transcript")
    out = model(batch["features"], batch["mask"])
    assert out["logits"].shape == (1, 1, 3, 400) and out["z"].shape == (1, 32, 25)
    terms = model.loss(out, batch)
    assert {"mu", "transcript", "length", "smooth", "total"} <= set(terms)
    terms["total"].backward()
    assert model.decoder.length[-1].weight.grad.abs().sum() > 0
    assert model.backbone.conv_in.weight.grad.abs().sum() > 0
    full = {**batch, "full": torch.tensor([True])}
    assert {"frame_ce", "frame_lengths"} <= set(model.loss(model(batch["features"], batch["mask"]), full))
    model.eval()
    with torch.no_grad():
        out = model(batch["features"], batch["mask"])
        for variant in ("y", "s", "full", "align"):
            model.config.inference = variant
            (tl,) = model.decode(out, batch["mask"], ["v"], ["a", "b", "c"], targets={"labels": batch["labels"]})
            assert tl.num_frames == 400
        # alignment on the given transcript yields exactly that transcript
        assert [s.label for s in tl.segments] == ["a", "c", "b"]


def test_mucon_full_aligns_a_transcript_too_short_for_the_maximum_segment_length():
    model = build_model("mucon", {"input_dim": 8, "num_classes": 3, "max_segment": 100, "viterbi_step": 10})
    labels = model._viterbi(torch.randn(3, 450), [2], np.array([450.0]))
    assert len(labels) == 450 and (labels == 2).all()


def test_sct_shapes_and_gradients():
    model = build_model("sct", {"input_dim": 8, "num_classes": 3, "channels": 32})
    batch = _batch("set")
    out = model(batch["features"], batch["mask"])
    assert out["regions"].shape == (1, 3, 12) and out["upsampled"].shape == (1, 3, 400)
    assert torch.allclose(out["upsampled"].sum(1), torch.ones(1, 400), atol=1e-4)  # probabilities spread
    terms = model.loss(out, batch)
    assert set(terms) == {"self", "set", "region", "consistency", "sparsity", "length", "total"}
    terms["total"].backward()
    assert model.length_head[0].weight.grad.abs().sum() > 0 and model.frame_head.weight.grad.abs().sum() > 0
    (tl,) = model.decode(out, batch["mask"], ["v"], ["a", "b", "c"])
    assert tl.num_frames == 400


def test_supervision_modes_hide_dense_labels(toy_data):
    data = SegmentationData(toy_data)
    video = data.split("train", 1)[0]
    labels = torch.from_numpy(data.labels(video))
    weak = Supervision.parse("transcript").weak_targets(data, video, labels)
    assert (weak["labels"] == IGNORE_INDEX).all() and "set" not in weak and not weak["full"]
    sets = Supervision.parse("set").weak_targets(data, video, labels)
    assert "transcript" not in sets and np.array_equal(sets["set"].numpy(), np.unique(data.labels(video)))
    mixed = Supervision.parse("mixed:25")
    videos = data.split("train", 1)
    mixed.choose_full(videos, seed=0)
    assert len(mixed.full_videos) == round(0.25 * len(videos))
    chosen = next(iter(mixed.full_videos))
    assert mixed.weak_targets(data, chosen, torch.from_numpy(data.labels(chosen)))["full"]
    for bad in ("mixed", "mixed:x", "mixed:150", "boxes"):
        with pytest.raises(ConfigError):
            Supervision.parse(bad)


def test_cli_weak_training_and_wrong_supervision(toy_data, tmp_path):
    args = ["train", "--model", "sct", "--data", str(toy_data), "--out", str(tmp_path / "r")]
    assert main([*args, "--supervision", "transcript"]) == 2  # SCT learns from sets
    small = ["--set", "model.channels=32", "--set", "model.layers=6", "--set", "model.pool_after=[1,2]"]
    assert main([*args, "--epochs", "1", *small]) == 0
    assert main(["predict", "--run", str(tmp_path / "r"), "--data", str(toy_data), "--out", str(tmp_path / "p")]) == 0


def test_sct_background_classes_come_from_the_dataset(tmp_path):
    """Issue: index 0 is a real action on 50Salads; SCT weights the dataset's own background labels."""
    from actionline.data.synthetic.features import synthesize_segmentation
    from actionline.tasks.segmentation import train_segmentation
    from conftest import shared

    data = SegmentationData(
        synthesize_segmentation(tmp_path / "d", labels_from=shared("50salads"), max_videos=6, feature_dim=8, seed=0)
    )
    small = {"channels": 32, "layers": 6, "pool_after": [1, 2]}
    train_segmentation("sct", data, 1, tmp_path / "r", {"model": small, "train": {"epochs": 1}})
    config = load_yaml(tmp_path / "r" / "config.yaml")
    expected = sorted(data.class_index[b] for b in ("action_start", "action_end"))
    assert config["model"]["background_classes"] == expected and 0 not in expected
