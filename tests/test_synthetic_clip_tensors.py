"""The in-memory clip sets of the STC and transfer experiments (issue 39): the distractor clips' labels are the
target's direction, the transfer videos' negatives match in background and differ in identity, and the labelled
classes need identity and motion together; the model option that switches STC branches off (Table 4.5)."""

from __future__ import annotations

import numpy as np
import pytest

from actionline.data.synthetic.distractor_clips import DIRECTIONS, TARGET, distractor_clips
from actionline.data.synthetic.object_videos import (
    COLOURS,
    IDENTITIES,
    MOTIONS,
    labelled_videos,
    negative_partners,
    object_frames,
    unlabelled_videos,
)
from actionline.errors import ConfigError, DataError
from actionline.models.registry import build_model


def _centroids(videos: np.ndarray, colour) -> np.ndarray:
    """[n, T, 2] (x, y) centre of the pixels of exactly ``colour`` (noise-free videos)."""
    mask = np.all(videos == np.array(colour, np.uint8), axis=-1)
    ys, xs = np.mgrid[0 : videos.shape[2], 0 : videos.shape[3]]
    area = mask.sum(axis=(2, 3))
    assert area.min() > 0, "the object is missing from a frame"
    return np.stack([(mask * xs).sum(axis=(2, 3)) / area, (mask * ys).sum(axis=(2, 3)) / area], axis=-1)


def test_distractor_clips_are_seeded_balanced_and_labelled_by_the_targets_direction():
    x, y = distractor_clips(32, noise=1e-9, seed=3)
    again, _ = distractor_clips(32, noise=1e-9, seed=3)
    assert x.dtype == np.uint8 and x.shape == (32, 8, 32, 32, 3)
    np.testing.assert_array_equal(x, again)
    assert not np.array_equal(x, distractor_clips(32, noise=1e-9, seed=4)[0])
    np.testing.assert_array_equal(np.bincount(y), [4] * DIRECTIONS)
    clean, labels = distractor_clips(32, distractors=0, noise=1e-9, seed=3)  # the target alone, not occluded
    move = _centroids(clean, TARGET)
    step = move[:, -1] - move[:, 0]
    angle = np.degrees(np.arctan2(-step[:, 1], step[:, 0])) % 360  # image y grows downwards
    error = (angle - labels * 360 / DIRECTIONS + 180) % 360 - 180
    assert np.abs(error).max() < 10


def test_distractor_clips_reject_bad_sizes():
    with pytest.raises(DataError, match="--frames"):
        distractor_clips(4, frames=1)


def test_unlabelled_negatives_share_the_background_and_differ_in_identity():
    videos = unlabelled_videos(12, per_group=3, frames=4, noise=0.0, seed=0)
    assert videos.videos.shape == (36, 4, 32, 32, 3)
    for group in range(12):
        assert len(set(videos.identity[videos.background == group])) == 3  # distinct identities per background
    partner = negative_partners(videos, np.random.default_rng(0))
    assert np.all(partner != np.arange(36))
    assert np.all(videos.background[partner] == videos.background)
    assert np.all(videos.identity[partner] != videos.identity)
    first = videos.videos[:, 0].astype(int)
    same_scene = np.all(first == first[partner], axis=-1).mean(axis=(1, 2))
    other_scene = np.all(first == np.roll(first, 3, axis=0), axis=-1).mean(axis=(1, 2))  # the next group
    assert same_scene.min() > 0.6 and other_scene.max() < 0.05  # pixels equal except where the objects are


def test_labelled_classes_need_identity_and_motion():
    videos = labelled_videos(2, frames=6, noise=0.0, seed=1)
    labels = videos.labels
    classes = len(IDENTITIES) * len(MOTIONS)
    np.testing.assert_array_equal(np.bincount(labels), [2] * classes)
    assert len(set(zip(videos.identity, videos.motion, strict=True))) == classes  # one class per pair
    for identity in range(len(IDENTITIES)):  # identity alone leaves the motion open, and the reverse
        assert len(set(labels[videos.identity == identity])) == len(MOTIONS)
    for motion in range(len(MOTIONS)):
        assert len(set(labels[videos.motion == motion])) == len(IDENTITIES)
    red = np.isin(videos.identity, (0, 2))
    for colour, which in ((COLOURS["red"], red), (COLOURS["blue"], ~red)):
        x = _centroids(videos.videos[which], colour)[:, :, 0]
        rightward = videos.motion[which] == 0
        assert np.all(np.diff(x[rightward], axis=1) > 0) and np.all(np.diff(x[~rightward], axis=1) < 0)


def test_teacher_frames_show_the_named_identity():
    frames, identity = object_frames(16, noise=0.0, seed=2)
    assert frames.shape == (16, 32, 32, 3)
    np.testing.assert_array_equal(np.bincount(identity), [4] * len(IDENTITIES))
    for frame, who in zip(frames, identity, strict=True):
        colour = COLOURS["red"] if who % 2 == 0 else COLOURS["blue"]
        mask = np.all(frame == np.array(colour, np.uint8), axis=-1)
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        fill = mask.sum() / ((rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1))
        assert fill < 0.65 if who >= 2 else 0.7 < fill < 0.9  # a cross fills 5/9 of its box, a disc about pi / 4


@pytest.mark.parametrize(("branches", "tcb", "scb"), [("both", True, True), ("tcb", True, False), ("scb", False, True)])
def test_stc_branches_option_switches_branches_off(branches, tcb, scb):
    model = build_model("stc_resnet3d_18", {"width": 4, "frames": 8, "size": 32, "stc_branches": branches})
    blocks = [m.stc for m in model.net.modules() if getattr(m, "stc", None) is not None]
    assert len(blocks) == 8
    assert all((b.tcb is not None) == tcb and (b.scb is not None) == scb for b in blocks)


def test_stc_branches_option_rejects_an_unknown_value():
    with pytest.raises(ConfigError, match="stc_branches"):
        build_model("stc_resnet3d_18", {"stc_branches": "neither"})
