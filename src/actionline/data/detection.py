"""A temporal action detection dataset on disk: ``annotations.json`` (ActivityNet-style, seconds) beside
``features/<video>.npy`` [T, D] with optional ``features/<video>.json`` `FeatureTiming`.

``actionline synth detection`` writes this layout; real datasets only need their features saved as .npy next to
their annotation file (``--annotations`` points at the ActivityNet/BSN/ActionFormer JSON when it lives elsewhere).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from actionline.data.instances import DetectionAnnotations, FeatureTiming, read_annotations
from actionline.errors import DataError
from actionline.io import read_matrix, relative_entry
from actionline.timeline import Instance

# Training / evaluation subsets when none is named: ActivityNet trains on `training` and reports `validation`;
# THUMOS14 trains on `Validation` and reports `Test`.
DEFAULT_SUBSETS = (("training", "validation"), ("validation", "test"))
# Real ground truth has a few instances past their video's end (THUMOS14's thumos14.json: 30 of 6,365 start after
# it, in Test 270, 814, 1081 and Validation 364, 856): they are clipped to the duration, with one warning naming the
# videos (`DetectionAnnotations.within_durations`); many more means the durations or the times are in another unit,
# and nothing would be learnt: refused.
MAX_SHARE_OUTSIDE = 0.1


def check_within_durations(annotations: DetectionAnnotations, where: str) -> None:
    """A `DataError` when more than ``MAX_SHARE_OUTSIDE`` of the instances start at or after their video's end."""
    durations = annotations.durations
    outside = [i for i in annotations.instances if durations[i.video] > 0 and i.start >= durations[i.video]]
    if len(outside) > MAX_SHARE_OUTSIDE * len(annotations.instances):
        first = outside[0]
        raise DataError(
            f"{where}: {len(outside)} of {len(annotations.instances)} instances start after their video ends (e.g. "
            f"{first.video}: {first.start:g} s in a {durations[first.video]:g} s video): durations and segments "
            "must both be in seconds"
        )


class DetectionData:
    """Ground truth and features of a detection dataset; every feature file is validated when read."""

    def __init__(
        self,
        root: str | Path,
        annotations: str | Path | DetectionAnnotations | None = None,
        classes: list[str] | None = None,
    ):
        """``annotations``: a file (default ``root/annotations.json``) or annotations already in memory.
        ``classes`` (e.g. a trained run's) replace those of the annotations, which may then hold no instance:
        videos to detect in, with their durations only."""
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: dataset folder not found")
        if isinstance(annotations, DetectionAnnotations):
            self.annotations, where = annotations, "the annotations"
        else:
            path = Path(annotations) if annotations is not None else self.root / "annotations.json"
            if not path.is_file():
                raise DataError(f"{path}: annotation file not found (ActivityNet-style JSON with a 'database')")
            self.annotations, where = read_annotations(path), str(path)
        self.classes: list[str] = list(classes) if classes is not None else self.annotations.classes
        if not self.classes:
            raise DataError(f"{where}: no annotated instances, so no classes to learn")
        check_within_durations(self.annotations, where)
        self.annotations, past_end = self.annotations.within_durations()
        if past_end:
            warnings.warn(
                f"{where}: instances past their video's end, clipped to its duration, in {len(past_end)} video(s): "
                f"{', '.join(past_end)}",
                stacklevel=2,
            )
        self._by_video: dict[str, list[Instance]] = {v: [] for v in self.annotations.durations}
        for inst in self.annotations.instances:
            self._by_video[inst.video].append(inst)
        for video in self.annotations.durations:  # ids name the feature files
            relative_entry(video, where)

    @property
    def subset_names(self) -> list[str]:
        return sorted({s for s in self.annotations.subsets.values() if s})

    def default_subsets(self) -> tuple[str, str]:
        """(training subset, evaluation subset) by the dataset's convention (see ``DEFAULT_SUBSETS``)."""
        names = {s.lower(): s for s in self.subset_names}
        for train, test in DEFAULT_SUBSETS:
            if train in names and test in names:
                return names[train], names[test]
        raise DataError(
            f"{self.root}: cannot tell training from evaluation videos (subsets: {', '.join(names) or 'none'}); "
            "name them with --subset"
        )

    def videos(self, subset: str) -> list[str]:
        """Videos of ``subset`` (case-insensitive) that have a feature file, sorted."""
        wanted = sorted(v for v, s in self.annotations.subsets.items() if s.lower() == subset.lower())
        if not wanted:
            raise DataError(f"no videos in subset {subset!r} (subsets: {', '.join(self.subset_names) or 'none'})")
        have = [v for v in wanted if (self.root / "features" / f"{v}.npy").is_file()]
        if not have:
            raise DataError(f"{self.root / 'features'}: no feature files for the {len(wanted)} videos of {subset!r}")
        return have

    def duration(self, video: str) -> float:
        if video not in self.annotations.durations:
            raise DataError(f"video {video} is not in the annotation file")
        return self.annotations.durations[video]

    def instances(self, video: str) -> list[Instance]:
        return list(self._by_video.get(video, []))

    def timing(self, video: str) -> FeatureTiming | None:
        path = self.root / "features" / f"{video}.json"
        if not path.is_file():
            return None
        try:
            return FeatureTiming(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as exc:
            raise DataError(f"{path}: not a feature timing file ({exc})") from None

    def features(self, video: str) -> np.ndarray:
        """Features [T, D] as float32; shape, finiteness and (when stored) timing vs duration are checked."""
        feats = read_matrix(self.root / "features" / f"{video}.npy", "[T, D]")
        timing = self.timing(video)
        if timing is not None:
            timing.validate(feats.shape[0], self.duration(video), video)
        return feats
