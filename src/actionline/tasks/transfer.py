"""Correspondence pre-training (dissertation Sec. 4.3) as a task: unlabeled videos -> image-clip pairs, half of
them positive (frames and clip of the same moment of one video), half negative (the clip from another video), a
pair accuracy on videos held out of the training videos, and a run whose student starts fine-tuning
(``train --set model.init=<run>``). A pre-training run predicts nothing itself.

Negatives are not matched in background: Sec. 4.3 draws the other video at random, and unlabeled videos name no
background or scene to match on. Where videos differ in background (every `synth clips` video does), the pretext is
therefore solvable from the background alone (tests/test_classification.py); benchmarks/transfer_init.py, whose
in-memory videos come in background groups, draws its negatives within a group
(`data.synthetic.object_videos.negative_partners`)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from actionline.config import as_dict, build
from actionline.data.clips import ClipSampling, DecodedVideos, augment, centre_square, clip_indices, decodable
from actionline.data.layout import carve_validation
from actionline.data.video import VIDEO_SUFFIXES
from actionline.engine.run_record import DatasetRecord, TaskSettings
from actionline.engine.trainer import TrainConfig
from actionline.errors import DataError
from actionline.tasks.base import NoOptions, Task, TrainingData, TrainingPlan
from actionline.tasks.clips import kinetics_scale, warn_failures

NOT_PREDICTING = "a pre-training run predicts nothing: fine-tune it with `actionline train --set model.init=<run>`"


class UnlabeledVideos:
    """Every video file under ``root`` (recursively); ids are paths relative to ``root`` without suffix."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: folder of videos not found")
        self.paths = {
            str(p.relative_to(self.root).with_suffix("")): p
            for p in sorted(self.root.rglob("*"))
            if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file() and not p.name.startswith(".")
        }
        if len(self.paths) < 2:
            raise DataError(
                f"{self.root}: correspondence pre-training needs at least two videos, found {len(self.paths)}"
            )


class CorrespondencePairs(Dataset):
    """Item i: a pair, positive when i is even. Frames for the teacher (uint8 [T, 3, S, S], centre crop) and the
    student's clip (normalised [3, T, S, S], random resized crop and flip when ``train``) at the same frame
    indices; a negative takes the clip from another video (chosen at random)."""

    def __init__(self, paths: list[Path], sampling: ClipSampling, frames: int, size: int, train: bool, decoded):
        self.sampling, self.frames, self.size, self.train, self.decoded = sampling, frames, size, train, decoded
        kept, _, failed = decodable(paths, decoded)
        self.paths = [paths[i] for i in kept]
        self.failures = [(paths[i].name, why) for i, why in failed]

    def __len__(self) -> int:
        return 2 * len(self.paths)

    def _moment(self, path: Path, generator: torch.Generator | None) -> torch.Tensor:
        video = self.decoded(path)
        span = (self.frames - 1) * self.sampling.stride + 1
        start = int(torch.randint(0, max(len(video) - span, 0) + 1, (1,), generator=generator))
        idx = clip_indices(len(video), self.frames, self.sampling.stride, start, self.sampling.short_policy)
        return torch.from_numpy(video[idx]).permute(3, 0, 1, 2)  # uint8 [3, T, H, W]

    def __getitem__(self, i: int) -> dict:
        v, positive = i // 2, i % 2 == 0
        # validation pairs are fixed (seeded by the item), training pairs are drawn from the global generator
        generator = None if self.train else torch.Generator().manual_seed(i)
        anchor = self._moment(self.paths[v], generator)
        teacher = centre_square(anchor.float(), self.size).round().to(torch.uint8).permute(1, 0, 2, 3)
        if positive:
            source = anchor
        else:
            other = int(torch.randint(0, len(self.paths) - 1, (1,), generator=generator))
            source = self._moment(self.paths[other + (other >= v)], generator)
        clip = (
            augment(source.float(), self.sampling, self.size)
            if self.train
            else centre_square(source.float(), self.size)
        )
        return {
            "video": self.paths[v].stem,
            "features": kinetics_scale(clip / 255.0),
            "frames": teacher,
            "label": int(positive),
        }


def collate_pairs(items: list[dict]) -> dict:
    return {
        "videos": [it["video"] for it in items],
        "features": torch.stack([it["features"] for it in items]),
        "frames": torch.stack([it["frames"] for it in items]),
        "labels": torch.tensor([it["label"] for it in items], dtype=torch.long),
        "mask": torch.ones(len(items)),
    }


@torch.no_grad()
def validate_pairs(model, loader: DataLoader) -> dict[str, float]:
    model.eval()
    device = next(model.parameters()).device
    hits, total = 0, 0
    for batch in loader:
        logits = model.logits(model(batch["features"].to(device)), batch["frames"].to(device))
        hits += int((logits.argmax(1).cpu() == batch["labels"]).sum())
        total += len(batch["labels"])
    return {"pair_acc": 100.0 * hits / max(total, 1)}


class TransferTask(Task):
    """Options read: none (every video under ``--data`` is used; labels, if any, are ignored)."""

    name = "transfer"
    config_keys = ("model", "train", "clips")

    def open_data(self, path: Path, options: NoOptions) -> UnlabeledVideos:
        return UnlabeledVideos(path)

    def plan_training(self, model_cls, data: UnlabeledVideos, train: TrainConfig, settings: dict, options):
        sampling = build(ClipSampling, settings.get("clips"), where="clips")
        train_ids, val_ids = carve_validation(list(data.paths), train.val_fraction, train.seed)
        decoded = DecodedVideos(sampling.fps, sampling.short_side, sampling.cache_mb * 2**20)

        def build_sets(model) -> TrainingData:
            s = model.student_config
            train_set = CorrespondencePairs(
                [data.paths[v] for v in train_ids], sampling, s.frames, s.size, True, decoded
            )
            val_set = CorrespondencePairs([data.paths[v] for v in val_ids], sampling, s.frames, s.size, False, decoded)
            warn_failures(train_set.failures + val_set.failures)
            if len(train_set.paths) < 2:
                raise DataError(f"{data.root}: fewer than two training videos decode")
            summary = f"{len(train_set)} pairs of {len(train_set.paths)} unlabeled videos, validating on {len(val_set)}"
            return TrainingData(train_set, collate_pairs, val_set, validate_pairs, summary)

        return TrainingPlan(
            input_dim=3,
            classes=["different", "same"],
            train_videos=train_ids,
            val_videos=val_ids,
            build=build_sets,
            selection={},
            metrics=("pair_acc",),
            select_default="pair_acc",
            settings_record={"clips": as_dict(sampling)},
            settings=TaskSettings(clips=as_dict(sampling)),
            dataset=DatasetRecord(str(data.root)),
        )

    @property
    def predicts_nothing(self) -> str:
        return NOT_PREDICTING
