"""RTK's rule-based re-assembling (Sec. 3.3): over-complete action and boundary points -> alternating points that
satisfy Eq. 6a-6d -> a dense segmentation. Parameter-free, loops over points (never frames).

Steps: (i) action points between two adjacent boundaries (the video ends included) merge into one at their
score-weighted mean position, keeping the class of the most confident; (ii) boundaries between two adjacent action
points merge likewise, and boundaries before the first or after the last action point are dropped (the video
ends are the outer boundaries, Eq. 6b); (iii) neighbouring actions of the same class merge: the boundary between
them goes, the more confident action point stays (Eq. 6d); (iv) segment i spans ``[b_i, b_{i+1})`` with class c_i.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Keypoints:
    """Action points (position, class, score) and boundary points (position, score), frame units."""

    action_pos: np.ndarray
    action_cls: np.ndarray
    action_score: np.ndarray
    boundary_pos: np.ndarray
    boundary_score: np.ndarray


def _merge_groups(pos: np.ndarray, score: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group (sorted ids): score-weighted mean position, index of the most confident member, max score."""
    ids, first = np.unique(group, return_index=True)
    weights = np.maximum(score, 1e-12)
    mean = np.add.reduceat(pos * weights, first) / np.add.reduceat(weights, first)
    order = np.lexsort((-score, group))  # by group, most confident first
    best = order[np.searchsorted(group[order], ids)]
    return mean, best, score[best]


def reassemble(points: Keypoints, length: int, fallback_class: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments (starts, ends, classes) covering ``[0, length)``. Without action points the whole video gets
    ``fallback_class``."""
    if len(points.action_pos) == 0:
        return np.array([0]), np.array([length]), np.array([fallback_class])
    order = np.argsort(points.action_pos, kind="stable")
    a_pos, a_cls, a_score = points.action_pos[order], points.action_cls[order], points.action_score[order]
    inner = (points.boundary_pos > 0) & (points.boundary_pos < length)
    b_order = np.argsort(points.boundary_pos[inner], kind="stable")
    b_pos, b_score = points.boundary_pos[inner][b_order], points.boundary_score[inner][b_order]
    # (i) one action point per boundary interval
    interval = np.searchsorted(b_pos, a_pos, side="right")
    mean, best, a_score = _merge_groups(a_pos.astype(np.float64), a_score, interval)
    a_pos, a_cls = np.floor(mean + 1e-9).astype(np.int64), a_cls[best]
    # (ii) one boundary between each pair of adjacent action points; none outside them
    slot = np.searchsorted(a_pos, b_pos, side="left")  # boundary b lies in (a_{slot-1}, a_slot]
    keep = (slot > 0) & (slot < len(a_pos))
    if keep.any():
        b_mean, _, b_score = _merge_groups(b_pos[keep].astype(np.float64), b_score[keep], slot[keep])
        b_pos = np.ceil(b_mean - 1e-9).astype(np.int64)
    else:
        b_pos, b_score = np.zeros(0, dtype=np.int64), np.zeros(0)
    # (iii) merge neighbours of the same class, keeping the most confident action point of each run
    run = np.concatenate(([0], np.cumsum(a_cls[1:] != a_cls[:-1])))
    _, best, _ = _merge_groups(a_pos.astype(np.float64), a_score, run)
    classes = a_cls[best]
    b_pos = b_pos[np.flatnonzero(a_cls[1:] != a_cls[:-1])] if len(b_pos) else b_pos
    # (iv) alternate boundaries and actions
    edges = np.concatenate(([0], b_pos, [length]))
    return edges[:-1], edges[1:], classes
