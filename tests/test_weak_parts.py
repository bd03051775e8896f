"""Shared pieces of weak supervision (SCT / MuCon): temporal sampling, Viterbi with a Poisson length model, weak
labels, the TCB backbone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from actionline.data.layout import SegmentationData
from actionline.data.weak_labels import action_set_of, read_weak_labels, transcript_of, write_weak_labels
from actionline.errors import ActionlineError, DataError
from actionline.nn.decoding.viterbi import poisson_log_pmf, viterbi_align
from actionline.nn.temporal.sampling import region_upsample, template_masks
from actionline.nn.temporal.tcb import TemporalBackbone


def test_box_masks_partition_frames_and_have_length_gradients():
    logits = torch.tensor([0.3, -1.0, 0.8, 0.1], requires_grad=True)
    masks = template_masks(logits, 50, "box")
    assert masks.shape == (4, 50)
    assert torch.allclose(masks.sum(0), torch.ones(50), atol=1e-5)
    lengths = 50 * torch.softmax(logits, 0)
    assert torch.allclose(masks.sum(1), lengths, atol=1e-4)  # each mask covers its segment's length
    (masks * torch.rand(4, 50, generator=torch.Generator().manual_seed(0))).sum().backward()
    assert logits.grad.abs().min() > 0


@pytest.mark.parametrize("template", ["bell", "trapezoid"])
def test_other_templates_stay_inside_their_segment(template):
    masks = template_masks(torch.zeros(2), 40, template)
    assert masks.min() >= 0 and masks.max() <= 1
    assert masks[0, 20:].sum() == 0 and masks[1, :20].sum() == 0
    assert masks[0, 10] > masks[0, 1]


def test_region_upsampling_with_equal_lengths_is_repetition():
    scores = torch.randn(5, 4)
    up = region_upsample(scores, torch.zeros(4), 12)
    assert torch.allclose(up, scores.repeat_interleave(3, dim=1), atol=1e-6)


def test_poisson_log_pmf_is_zero_at_its_mode():
    assert poisson_log_pmf(np.array([10]), 10.0)[0] == pytest.approx(0.0)
    assert (poisson_log_pmf(np.array([2, 30]), 10.0) < 0).all()


def test_viterbi_recovers_true_boundaries_from_near_one_hot_scores():
    truth = np.repeat([3, 0, 2, 0], [40, 60, 30, 70])
    probs = np.full((len(truth), 4), 0.02)
    probs[np.arange(len(truth)), truth] = 0.94
    rng = np.random.default_rng(0)
    probs[rng.choice(len(truth), 20, replace=False)] = 0.25  # some ambiguous frames
    labels = viterbi_align(np.log(probs), np.array([3, 0, 2, 0]), np.array([50.0, 50.0, 50.0, 50.0]), step=10)
    assert np.array_equal(labels, truth)
    fine = viterbi_align(np.log(probs), np.array([3, 0, 2, 0]), np.array([50.0] * 4), step=1)
    assert np.array_equal(fine, truth)
    with pytest.raises(ActionlineError):
        viterbi_align(np.log(probs[:20]), np.array([3, 0, 2, 0]), np.ones(4) * 5, step=10)


def test_weak_labels_derived_written_and_read(toy_data, tmp_path):
    labels = np.array([0, 0, 2, 2, 1, 0, 0])
    assert transcript_of(labels).tolist() == [0, 2, 1, 0]
    assert action_set_of(labels).tolist() == [0, 1, 2]
    import shutil

    root = tmp_path / "data"
    shutil.copytree(toy_data, root)
    data = SegmentationData(root)
    video = data.split("train", 1)[0]
    for kind, derive in (("transcripts", transcript_of), ("sets", action_set_of)):
        write_weak_labels(data, kind)
        assert np.array_equal(read_weak_labels(data, kind, video), derive(data.labels(video)))
    (root / "transcripts" / f"{video}.txt").write_text("not_a_class\n")
    with pytest.raises(DataError, match="unknown class"):
        read_weak_labels(data, "transcripts", video)
    with pytest.raises(DataError, match="not found"):
        read_weak_labels(data, "sets", "no_such_video")


def test_tcb_backbone_downsamples_and_taps():
    net = TemporalBackbone(16, channels=32, layers=11, pool_after=(1, 2, 4, 8))
    out, taps = net(torch.randn(1, 16, 320), taps=(4,))
    assert out.shape == (1, 32, 20) and taps[4].shape == (1, 32, 40) and net.downsampling == 16
