"""Clip-classification datasets read unchanged, and clips sampled from their decoded videos (dissertation Sec. 4.4).

Two layouts of a dataset folder ``root``:

- Kinetics-style CSVs: ``train.csv`` and ``val.csv`` / ``test.csv`` with a header naming at least ``path`` (a video
  file relative to ``root``) and ``label`` columns; other columns are ignored. The classes are ``classes.txt`` (one
  per line) when present, else the sorted labels of ``train.csv``.
- UCF101: ``classInd.txt`` (``<1-based index> <class>``) with ``trainlist0N.txt`` (``<path> <index>``) and
  ``testlist0N.txt`` (``<path>``, the class is the folder), in ``root`` or ``root/ucfTrainTestlist``; videos are found
  under ``root``, ``root/UCF-101`` or ``root/videos``.

Every reader names the file and line of a problem (a label outside the class list, a missing column, a bad index).
Videos are decoded once (PyAV, the shorter side resized) and kept in memory up to a byte budget so that training is
not bound by decoding; a video that does not decode is skipped, with a warning that counts and lists them.

Clips are T frames ``stride`` apart: random (training), centre (validation) or K uniform (testing). A video shorter
than the clip's span is looped (frames taken modulo its length, the default, as in the Kinetics reference loaders)
or padded by repeating its last frame (``short_policy: pad``).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from actionline.data.layout import read_text
from actionline.data.video import iter_frames
from actionline.errors import ConfigError, DataError
from actionline.io import relative_entry


@dataclass
class ClipSampling:
    """The ``clips`` config section: how clips are cut and augmented (T and the crop come from the model)."""

    fps: float | None = None  # resample videos to this rate when decoding; None = the video's own
    stride: int = 1  # frames between the T sampled frames (Table 4.6's best is 2 at 25 fps)
    short_side: int = 128  # decoded frames' shorter side (112 crops, as Hara et al.)
    scale_min: float = 0.25  # random resized crop: smallest area fraction
    flip: bool = True  # random horizontal flip at training
    test_clips: int = 10  # K uniform clips per video at test; video scores = their mean softmax
    short_policy: Literal["loop", "pad"] = "loop"
    cache_mb: int = 4096  # decoded videos kept in memory

    def validate(self) -> None:
        if self.stride < 1 or self.short_side < 8 or self.test_clips < 1 or self.cache_mb < 0:
            raise ConfigError("clips.stride, clips.test_clips >= 1, clips.short_side >= 8, clips.cache_mb >= 0")
        if not 0 < self.scale_min <= 1:
            raise ConfigError(f"clips.scale_min must be in (0, 1], got {self.scale_min}")
        if self.fps is not None and self.fps <= 0:
            raise ConfigError(f"clips.fps must be positive, got {self.fps}")


@dataclass(frozen=True)
class LabelledVideo:
    """A video (or the part ``[start, end)`` seconds of one) and its label: a class index, or a multi-hot vector
    over tags (tagging)."""

    video: str  # the id: the path relative to the root, without suffix
    path: Path
    label: int | np.ndarray
    start: float = 0.0
    end: float | None = None


# --- dataset layouts ------------------------------------------------------------------------------------------
def _read_csv(path: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(read_text(path))))
    missing = {"path", "label"} - set(rows[0] if rows else {})
    if not rows:
        raise DataError(f"{path}: no rows")
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(sorted(missing))} (header: path,label[,...])")
    return rows


class ClipData:
    """A clip-classification dataset folder (either layout); ``videos(part)`` lists a part's labelled videos."""

    def __init__(self, root: str | Path, split: int = 1):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: dataset folder not found")
        self.split_number = split
        lists = next((d for d in (self.root, self.root / "ucfTrainTestlist") if (d / "classInd.txt").is_file()), None)
        if lists is not None:
            self.layout, self._lists = "ucf101", lists
            self.classes = self._read_class_index(lists / "classInd.txt")
        elif (self.root / "train.csv").is_file():
            self.layout, self._lists = "csv", self.root
            self.classes = self._csv_classes()
        else:
            raise DataError(
                f"{self.root}: not a clip dataset (expected train.csv + val.csv/test.csv with path,label columns, "
                "or UCF101's classInd.txt with trainlist/testlist files)"
            )
        self.class_index = {c: i for i, c in enumerate(self.classes)}

    def _read_class_index(self, path: Path) -> list[str]:
        entries: dict[int, str] = {}
        for lineno, line in enumerate(read_text(path).splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) in entries or parts[1] in entries.values():
                raise DataError(f"{path}:{lineno}: expected a new '<index> <class>', got {line!r}")
            entries[int(parts[0])] = parts[1]
        if sorted(entries) != list(range(1, len(entries) + 1)):
            raise DataError(f"{path}: class indices must be 1..{len(entries)} without gaps")
        return [entries[i] for i in range(1, len(entries) + 1)]

    def _csv_classes(self) -> list[str]:
        listed = self.root / "classes.txt"
        if listed.is_file():
            classes = [c.strip() for c in read_text(listed).splitlines() if c.strip()]
            if len(set(classes)) != len(classes):
                raise DataError(f"{listed}: duplicate class names")
        else:
            classes = sorted({r["label"] for r in _read_csv(self.root / "train.csv")})
        if len(classes) < 2:
            raise DataError(f"{self.root}: at least two classes are needed, found {len(classes)}")
        return classes

    def parts(self) -> list[str]:
        if self.layout == "ucf101":
            return ["train", "test"]
        return [p for p in ("train", "val", "test") if (self.root / f"{p}.csv").is_file()]

    def eval_part(self, subset: str | None) -> str:
        """The part to predict and evaluate: ``subset`` when given, else test, else val."""
        parts = self.parts()
        chosen = subset or ("test" if "test" in parts else "val")
        if chosen not in parts:
            raise DataError(f"{self.root}: no {chosen!r} part (parts: {', '.join(parts)})")
        return chosen

    def _resolve(self, rel: str, where: str) -> Path:
        for base in (self.root, self.root / "UCF-101", self.root / "videos"):
            if (base / rel).is_file():
                return base / rel
        raise DataError(f"{where}: video {rel!r} not found under {self.root}")

    def videos(self, part: str) -> list[LabelledVideo]:
        """The labelled videos of ``part`` (train / val / test), each checked against the class list."""
        out: list[LabelledVideo] = []
        if self.layout == "csv":
            path = self.root / f"{part}.csv"
            if not path.is_file():
                raise DataError(f"{path}: not found (parts: {', '.join(self.parts())})")
            for lineno, row in enumerate(_read_csv(path), 2):
                out.append(self._entry(row["path"], row["label"], f"{path}:{lineno}"))
        else:
            name = "trainlist" if part == "train" else "testlist"
            path = self._lists / f"{name}{self.split_number:02d}.txt"
            if not path.is_file():
                raise DataError(f"{path}: split file not found")
            for lineno, line in enumerate(read_text(path).splitlines(), 1):
                fields = line.split()
                if not fields:
                    continue
                where = f"{path}:{lineno}"
                if len(fields) == 2:
                    if not fields[1].isdigit() or not 1 <= int(fields[1]) <= len(self.classes):
                        raise DataError(f"{where}: class index {fields[1]!r} is not in classInd.txt")
                    label = self.classes[int(fields[1]) - 1]
                else:
                    label = fields[0].replace("\\", "/").split("/")[0]
                out.append(self._entry(fields[0], label, where))
        ids = [v.video for v in out]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise DataError(f"{self.root}: video {dup!r} is listed twice in the {part} part")
        if not out:
            raise DataError(f"{self.root}: the {part} part lists no videos")
        return out

    def _entry(self, rel: str, label: str, where: str) -> LabelledVideo:
        if label not in self.class_index:
            raise DataError(f"{where}: label {label!r} is not in the class list ({len(self.classes)} classes)")
        rel = relative_entry(rel, where)
        return LabelledVideo(str(Path(rel).with_suffix("")), self._resolve(rel, where), self.class_index[label])


# --- decoding and sampling ------------------------------------------------------------------------------------
class DecodedVideos:
    """Decoded videos (or their parts ``[start, end)`` seconds) [N, H, W, 3] uint8, kept in memory while under
    ``budget_bytes``."""

    def __init__(self, fps: float | None, short_side: int, budget_bytes: int):
        self.fps, self.short_side, self._budget = fps, short_side, budget_bytes
        self._cache: dict[tuple[Path, float, float | None], np.ndarray] = {}

    def __call__(self, path: Path, start: float = 0.0, end: float | None = None) -> np.ndarray:
        key = (path, start, end)
        if key in self._cache:
            return self._cache[key]
        frames = np.stack(list(iter_frames(path, self.fps, self.short_side, start=start, end=end)))
        if frames.nbytes <= self._budget:
            self._budget -= frames.nbytes
            self._cache[key] = frames
        return frames


def clip_indices(num_frames: int, frames: int, stride: int, start: int, policy: str) -> np.ndarray:
    """The T frame indices of the clip starting at ``start`` (looped or padded past the end)."""
    idx = start + stride * np.arange(frames)
    return idx % num_frames if policy == "loop" else np.minimum(idx, num_frames - 1)


def uniform_starts(num_frames: int, span: int, k: int) -> np.ndarray:
    """K clip starts spread evenly over the video (all 0 when it is shorter than the span)."""
    return np.round(np.linspace(0, max(num_frames - span, 0), k)).astype(int)


def random_resized_crop(clip: torch.Tensor, size: int, scale_min: float, generator=None) -> torch.Tensor:
    """One random box (area fraction in [scale_min, 1], aspect in [3/4, 4/3]) cut from every frame of a float clip
    [C, T, H, W] and resized to ``size`` x ``size``."""
    h, w = clip.shape[-2:]
    area = float(torch.empty(1).uniform_(scale_min, 1.0, generator=generator)) * h * w
    aspect = math.exp(float(torch.empty(1).uniform_(math.log(3 / 4), math.log(4 / 3), generator=generator)))
    ch = min(h, max(1, round(math.sqrt(area / aspect))))
    cw = min(w, max(1, round(math.sqrt(area * aspect))))
    top = int(torch.randint(0, h - ch + 1, (1,), generator=generator))
    left = int(torch.randint(0, w - cw + 1, (1,), generator=generator))
    box = clip[:, :, top : top + ch, left : left + cw]
    return F.interpolate(box, size=(size, size), mode="bilinear", align_corners=False)


def centre_square(clip: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` square of a clip [C, T, H, W] (resized when the frame is smaller)."""
    h, w = clip.shape[-2:]
    if min(h, w) < size:
        scale = size / min(h, w)
        clip = F.interpolate(clip, size=(max(size, round(h * scale)), max(size, round(w * scale))), mode="bilinear")
        h, w = clip.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return clip[:, :, top : top + size, left : left + size]


def decodable(
    videos: Sequence[Path | LabelledVideo], decoded: DecodedVideos
) -> tuple[list[int], list[int], list[tuple[int, str]]]:
    """Decode every video (or its part) once, validating it and filling the cache: the positions and frame counts of
    those that decode, and (position, reason) for those that do not."""
    kept, lengths, failures = [], [], []
    for i, v in enumerate(videos):
        try:
            lengths.append(len(decoded(v) if isinstance(v, Path) else decoded(v.path, v.start, v.end)))
            kept.append(i)
        except DataError as exc:
            failures.append((i, str(exc)))
    return kept, lengths, failures


def augment(clip: torch.Tensor, sampling: ClipSampling, size: int) -> torch.Tensor:
    """Training augmentation of a float clip [3, T, H, W]: random resized crop, then a flip with probability 0.5."""
    clip = random_resized_crop(clip, size, sampling.scale_min)
    return clip.flip(-1) if sampling.flip and bool(torch.rand(1) < 0.5) else clip


class ClipSet(torch.utils.data.Dataset):
    """Clips of labelled videos as uint8-derived float tensors [3, T, S, S] (scaled by ``scale``).

    ``mode``: ``train`` (a random clip, random resized crop and flip), ``centre`` (the middle clip, centre crop) or
    ``uniform`` (item i is clip i % K of video i // K). Videos that do not decode are left out and listed in
    ``failures``; the caller reports them.
    """

    def __init__(
        self,
        videos: Sequence[LabelledVideo],
        sampling: ClipSampling,
        frames: int,
        size: int,
        mode: Literal["train", "centre", "uniform"],
        scale: Callable[[torch.Tensor], torch.Tensor],
        decoded: DecodedVideos | None = None,
    ):
        self.sampling, self.frames, self.size, self.mode, self.scale = sampling, frames, size, mode, scale
        self.decoded = decoded or DecodedVideos(sampling.fps, sampling.short_side, sampling.cache_mb * 2**20)
        kept, self.lengths, failed = decodable(videos, self.decoded)
        self.videos = [videos[i] for i in kept]
        self.failures = [(videos[i].video, why) for i, why in failed]
        self.clips_per_video = sampling.test_clips if mode == "uniform" else 1

    def __len__(self) -> int:
        return len(self.videos) * self.clips_per_video

    def clip(self, i: int) -> tuple[LabelledVideo, np.ndarray, int]:
        """Video, frame indices and clip number of item ``i``."""
        v, k = divmod(i, self.clips_per_video)
        n, s = self.lengths[v], self.sampling
        span = (self.frames - 1) * s.stride + 1
        if self.mode == "train":
            start = int(torch.randint(0, max(n - span, 0) + 1, (1,)))
        elif self.mode == "centre":
            start = max(n - span, 0) // 2
        else:
            start = int(uniform_starts(n, span, self.clips_per_video)[k])
        return self.videos[v], clip_indices(n, self.frames, s.stride, start, s.short_policy), k

    def __getitem__(self, i: int) -> dict:
        video, idx, _ = self.clip(i)
        frames = self.decoded(video.path, video.start, video.end)[idx]
        frames = torch.from_numpy(frames).permute(3, 0, 1, 2).float()  # [3, T, H, W]
        clip = augment(frames, self.sampling, self.size) if self.mode == "train" else centre_square(frames, self.size)
        return {"video": video.video, "features": self.scale(clip.clamp(0, 255).div(255.0)), "label": video.label}


def collate_clips(items: list[dict]) -> dict:
    """Clips [B, 3, T, S, S], labels [B] (class indices) or [B, tags] (multi-hot), mask [B] (all ones)."""
    labels = [it["label"] for it in items]
    return {
        "videos": [it["video"] for it in items],
        "features": torch.stack([it["features"] for it in items]),
        "labels": torch.from_numpy(np.stack(labels)) if isinstance(labels[0], np.ndarray) else torch.tensor(labels),
        "mask": torch.ones(len(items)),
    }
