"""Keypoint quality (RTK Table 6), pure numpy: accuracy and recall of action points and boundary points.

- An action point is correct when its class equals the ground-truth label at its position; a ground-truth
  segment is recalled when at least one correct action point lies inside it.
- A boundary point is correct when a ground-truth boundary (a label change) lies within ``radius`` frames
  (5 in the paper); a ground-truth boundary is recalled when a predicted boundary lies within ``radius``.

Counts are summed over videos (micro average) and reported in percent.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from actionline.timeline import runs


def keypoint_counts(
    action_pos: np.ndarray, action_cls: np.ndarray, boundary_pos: np.ndarray, labels: np.ndarray, radius: int = 5
) -> np.ndarray:
    """[correct actions, predicted actions, recalled segments, segments, correct boundaries, predicted boundaries,
    recalled boundaries, true boundaries] for one video."""
    labels = np.asarray(labels)
    starts, ends, values = runs(labels)
    action_pos = np.asarray(action_pos, dtype=np.int64)
    correct = labels[action_pos] == np.asarray(action_cls) if len(action_pos) else np.zeros(0, dtype=bool)
    segment = np.searchsorted(ends, action_pos, side="right")
    recalled_segments = len(np.unique(segment[correct]))
    truth = starts[1:]
    boundary_pos = np.asarray(boundary_pos, dtype=np.int64)
    if len(truth) and len(boundary_pos):
        dist = np.abs(boundary_pos[:, None] - truth[None, :]) <= radius
        correct_b, recalled_b = int(dist.any(axis=1).sum()), int(dist.any(axis=0).sum())
    else:
        correct_b, recalled_b = 0, 0
    return np.array(
        [
            int(correct.sum()),
            len(action_pos),
            recalled_segments,
            len(values),
            correct_b,
            len(boundary_pos),
            recalled_b,
            len(truth),
        ],
        dtype=np.int64,
    )


def keypoint_quality(counts: Iterable[np.ndarray]) -> dict[str, float]:
    """Percent accuracy / recall from summed `keypoint_counts`."""
    c = np.sum(np.stack(list(counts)), axis=0)

    def pct(a: int, b: int) -> float:
        return 100.0 * a / b if b else 0.0

    return {
        "action_acc": pct(c[0], c[1]),
        "action_rec": pct(c[2], c[3]),
        "boundary_acc": pct(c[4], c[5]),
        "boundary_rec": pct(c[6], c[7]),
    }


def keypoints_from_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints of a frame-wise segmentation (Table 6's baselines): segment mid-points with their classes, and
    segment starts after the first as boundaries."""
    starts, ends, values = runs(np.asarray(labels))
    return (starts + ends - 1) // 2, values, starts[1:]
