"""Videos as tensors: a map-style dataset over an MS-TCN-layout folder and a padding collate function."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from actionline.data.layout import SegmentationData
from actionline.nn.losses import IGNORE_INDEX


class SegmentationVideos(Dataset):
    """(features [D, T'], labels [T']) at the dataset's sample rate; every file is validated on first read.

    ``preload=True`` reads (and so validates) everything up front: bad files fail before training starts.
    """

    def __init__(self, data: SegmentationData, videos: Sequence[str], preload: bool = True):
        self.data = data
        self.videos = list(videos)
        self._cache: dict[int, dict] = {}
        if preload:
            for i in range(len(self.videos)):
                self[i]

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int) -> dict:
        if i not in self._cache:
            feats, labels = self.data.pair(self.videos[i])
            self._cache[i] = {
                "video": self.videos[i],
                "features": torch.from_numpy(feats.copy()),
                "labels": torch.from_numpy(labels.copy()),
            }
        return self._cache[i]


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
    return {"videos": [it["video"] for it in items], "features": features, "mask": mask, "labels": labels}
