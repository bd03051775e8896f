"""The image and clip sets of the token- and frame-sampling benchmarks (issue 39): seeded, labels as documented,
redundancy known per clip, re-timing keeps the moments."""

from __future__ import annotations

import numpy as np
import pytest

from actionline.data.synthetic.clutter import COLOURS, cluttered_objects
from actionline.data.synthetic.held_moments import held_moments, hold_lengths, retimed
from actionline.errors import DataError


def test_cluttered_objects_colour_labels_name_the_large_objects_colour():
    x, labels, clutter = cluttered_objects(60, np.random.default_rng(0), "colour")
    assert x.shape == (60, 3, 32, 32) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert int(clutter.min()) >= 0 and int(clutter.max()) <= 16
    centres = np.asarray(list(COLOURS.values()))
    pixels = x.permute(0, 2, 3, 1).reshape(60, -1, 3).numpy()
    for image, label in zip(pixels, labels.tolist(), strict=True):
        near = np.abs(image[:, None] - centres[None]).max(axis=2) < 0.1  # pixels within the colour jitter
        assert near[:, label].sum() > 40 and near[:, label].sum() > near.sum(axis=0).max() / 2  # the object's area
    again = cluttered_objects(60, np.random.default_rng(0), "colour")[0]
    assert np.array_equal(x.numpy(), again.numpy())
    with pytest.raises(DataError, match="target"):
        cluttered_objects(2, np.random.default_rng(0), "size")


def test_hold_lengths_split_the_frames_into_runs():
    rng = np.random.default_rng(1)
    for moments in (1, 2, 7, 32):
        runs = hold_lengths(32, moments, rng)
        assert runs[0] == 0 and runs[-1] == moments - 1 and set(np.diff(runs)) <= {0, 1}


def test_held_moments_have_k_distinct_moments_and_retiming_keeps_them():
    data = held_moments(12, frames=16, size=16, seed=3)
    assert data.clips.shape == (12, 16, 16, 16, 3) and set(data.labels) <= {0, 1, 2, 3}
    assert ((data.moments >= 2) & (data.moments <= 16)).all()
    assert np.allclose(data.redundancy, 1 - data.moments / 16)
    again = retimed(data, seed=5)
    for clip, new, moments, k in zip(data.clips, again, data.moment_of_frame, data.moments, strict=True):
        firsts = clip[np.searchsorted(moments, np.arange(k))]
        # every re-timed frame is a moment's first frame, all moments appear, in their order
        match = [next(m for m in range(k) if np.array_equal(frame, firsts[m])) for frame in new]
        assert sorted(set(match)) == list(range(k)) and match == sorted(match)


def test_order_task_labels_the_direction_of_travel():
    data = held_moments(40, task="order", frames=8, size=24, seed=2)
    column = data.clips.astype(float).mean(axis=(2, 4)).argmax(axis=2)  # the brightest column (the shape) [N, T]
    assert np.array_equal(column[:, -1] > column[:, 0], data.labels == 0)  # left to right = label 0
    with pytest.raises(DataError, match="task"):
        held_moments(2, task="speed")
