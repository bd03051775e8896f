"""Videos as tensors: a map-style dataset over an MS-TCN-layout folder and a padding collate function."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from actionline.data.layout import SegmentationData
from actionline.errors import DataError
from actionline.nn.losses.segmentation import IGNORE_INDEX
from actionline.tasks.supervision import Supervision


class SegmentationVideos(Dataset):
    """(features [D, T'], labels [T']) at the dataset's sample rate; every file is validated on first read.

    ``preload=True`` reads (and so validates) every video up front, so bad files fail before training starts.
    Videos are kept in memory while the total stays under ``cache_bytes`` (real I3D features of all of Breakfast
    are ~29 GB); the rest is read from disk when needed.
    """

    def __init__(
        self,
        data: SegmentationData,
        videos: Sequence[str],
        preload: bool = True,
        cache_bytes: int = 4 * 2**30,
        supervision: Supervision | None = None,
    ):
        self.data = data
        self.videos = list(videos)
        self.supervision = supervision
        self._cache: dict[int, dict] = {}
        self._budget = cache_bytes
        self.feature_dim: int | None = None
        if preload:
            for i in range(len(self.videos)):
                self[i]

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int) -> dict:
        if i in self._cache:
            return self._cache[i]
        feats, labels = self.data.pair(self.videos[i])
        if self.feature_dim is None:
            self.feature_dim = int(feats.shape[0])
        elif feats.shape[0] != self.feature_dim:
            raise DataError(
                f"video {self.videos[i]}: features have {feats.shape[0]} dimensions, the other videos "
                f"{self.feature_dim}"
            )
        item = {
            "video": self.videos[i],
            "features": torch.from_numpy(feats.copy()),
            "labels": torch.from_numpy(labels.copy()),
        }
        if self.supervision is not None:
            item.update(self.supervision.weak_targets(self.data, self.videos[i], item["labels"]))
        size = item["features"].numel() * item["features"].element_size()
        if size <= self._budget:
            self._budget -= size
            self._cache[i] = item
        return item


def collate(items: list[dict]) -> dict:
    """Pad to the longest video: features [B, D, T], mask [B, T] (1 = real frame), labels [B, T] (-100 pad)."""
    lengths = [it["features"].shape[1] for it in items]
    T, D, B = max(lengths), items[0]["features"].shape[0], len(items)
    features = torch.zeros(B, D, T)
    mask = torch.zeros(B, T)
    labels = torch.full((B, T), IGNORE_INDEX, dtype=torch.long)
    for b, (it, n) in enumerate(zip(items, lengths, strict=True)):
        features[b, :, :n] = it["features"]
        mask[b, :n] = 1.0
        if "labels" in it:
            labels[b, :n] = it["labels"]
    batch = {"videos": [it["video"] for it in items], "features": features, "mask": mask, "labels": labels}
    for key in ("transcript", "set"):
        if key in items[0]:
            longest = max(len(it[key]) for it in items)
            padded = torch.full((B, longest), -1, dtype=torch.long)
            for b, it in enumerate(items):
                padded[b, : len(it[key])] = it[key]
            batch[key] = padded
    if "full" in items[0]:
        batch["full"] = torch.tensor([bool(it["full"]) for it in items])
    return batch
