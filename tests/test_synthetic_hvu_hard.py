"""The harder HVU-lite (issue 39): seeded, tags in HVU's category order, overlap makes cues overlap, missing
categories at the set rate."""

from __future__ import annotations

import numpy as np
import pytest

from actionline.data.hvu import CATEGORIES
from actionline.data.synthetic.hvu_hard import TAG_CATEGORY, TAG_ORDER, hard_hvu
from actionline.errors import DataError


def test_hard_hvu_is_seeded_and_consistent():
    a, b = hard_hvu(40, seed=3), hard_hvu(40, seed=3)
    assert np.array_equal(a.clips, b.clips) and np.array_equal(a.targets, b.targets)
    assert a.clips.shape == (40, 8, 32, 32, 3) and a.targets.shape == (40, len(TAG_ORDER))
    assert sorted(TAG_CATEGORY) == TAG_CATEGORY and len(set(TAG_CATEGORY)) == len(CATEGORIES)
    for c in range(len(CATEGORIES)):  # labelled = at least one tag of the category
        assert np.array_equal(a.labelled[:, c], a.targets[:, np.asarray(TAG_CATEGORY) == c].any(1))
    scene = np.asarray(TAG_CATEGORY) == CATEGORIES.index("scene")
    assert (a.targets[:, scene].sum(1) <= 1).all()  # one scene at most


def _scene_background_spread(overlap: float) -> float:
    """How far apart the mean backgrounds of indoor and night clips are, in units of their spread."""
    data = hard_hvu(300, overlap=overlap, missing=0.0, seed=5)
    scene = [TAG_ORDER.index(t) for t in ("indoor", "night")]
    corner = data.clips[:, 0, :3, :3].reshape(len(data.clips), -1).astype(float).mean(1)  # mostly background
    groups = [corner[data.targets[:, s]] for s in scene]
    return abs(groups[0].mean() - groups[1].mean()) / np.sqrt((groups[0].var() + groups[1].var()) / 2)


def test_overlap_brings_scene_cues_together_and_missing_sets_the_rate():
    assert _scene_background_spread(0.0) > 4 * _scene_background_spread(1.0)
    assert _scene_background_spread(1.0) < 2.5  # indoor and night overlap: no separable background
    data = hard_hvu(400, missing=0.5, seed=1)
    full = hard_hvu(400, missing=0.0, seed=1)
    assert (~data.labelled).sum() > (~full.labelled).sum() + 120  # ~ 200 categories left out


def test_hard_hvu_rejects_bad_settings():
    with pytest.raises(DataError, match="overlap"):
        hard_hvu(4, overlap=-1)
    with pytest.raises(DataError, match="--n"):
        hard_hvu(0)
