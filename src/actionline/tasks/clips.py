"""What the clip tasks (classification, tagging, transfer) share: pixel scaling, reporting videos that do not
decode, scoring batches of clips (with their MACs) and every non-overlapping clip of video files."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import track

from actionline.data.clips import ClipSampling, DecodedVideos, centre_square, clip_indices
from actionline.data.video import find_videos, probe
from actionline.engine.profiler import MacCounter
from actionline.errors import ConfigError, DataError
from actionline.models.backbone import MEAN_STD
from actionline.models.base import ClassificationModel


def kinetics_scale(clip: torch.Tensor) -> torch.Tensor:
    """[3, ...] values in [0, 1] -> normalised with the Kinetics mean and std (torchvision's video models)."""
    mean, std = (torch.tensor(v).view(3, *([1] * (clip.ndim - 1))) for v in MEAN_STD["kinetics"])
    return (clip - mean) / std


def warn_failures(failures: Sequence[tuple[str, str]], console: Console | None = None) -> None:
    """Videos that did not decode: counted and listed, never skipped silently."""
    if failures:
        console = console or Console(stderr=True)
        console.print(f"[yellow]warning: {len(failures)} video(s) skipped, they do not decode:", markup=True)
        for video, why in failures:
            console.print(f"  {video}: {why}", markup=False)


@torch.no_grad()
def clip_scores(
    model: ClassificationModel, batches: Iterable[torch.Tensor], macs: list[float] | None = None, sigmoid: bool = False
) -> np.ndarray:
    """Scores [N, K] of every clip of the batches [B, 3, T, S, S], in order: softmax, or per-tag sigmoid
    (``sigmoid``, tagging); ``macs`` (a list) receives each clip's MACs: the model's own count where it reports one,
    else the layers' (`MacCounter`) per batch (so one clip per batch)."""
    device = next(model.parameters()).device
    out = []
    for x in batches:
        with MacCounter(model) as counted:
            outputs = model(x.to(device))
        logits = outputs["logits"]
        out.append((torch.sigmoid(logits) if sigmoid else torch.softmax(logits, 1)).cpu().numpy())
        if macs is not None:
            macs.extend(outputs["macs"].tolist() if "macs" in outputs else [counted.total])
    return np.concatenate(out) if out else np.zeros((0, model.config.num_classes))


def refuse_extract_runtime(task: str, extract_runtime: str) -> None:
    """Clip models read pixels themselves: `predict --video --extract-runtime` (a feature backbone's runtime) does
    not apply to them."""
    if extract_runtime != "torch":
        raise ConfigError(
            f"--extract-runtime is for runs on extracted features; a {task} run scores the video's clips itself"
        )


def score_video_files(
    model: ClassificationModel,
    sampling: ClipSampling,
    source: Path,
    batch_size: int,
    console: Console,
    sigmoid: bool = False,
) -> list[tuple[Path, list[tuple[np.ndarray, float, np.ndarray]]]]:
    """Every non-overlapping clip of each video file of ``source`` (the thesis' test protocol, centre crop): per
    video, (frame indices, fps, scores) of its clips. Videos that do not decode are reported and left out."""
    c = model.config
    decoded = DecodedVideos(sampling.fps, sampling.short_side, 0)
    span = (c.frames - 1) * sampling.stride + 1
    results, failures = [], []
    for path in track(find_videos(source), description="scoring clips", console=console, transient=True):
        try:
            frames = decoded(path)
            fps = sampling.fps or probe(path).fps
        except DataError as exc:
            failures.append((path.name, str(exc)))
            continue
        starts = range(0, max(len(frames) - span, 0) + 1, span)
        indices = [clip_indices(len(frames), c.frames, sampling.stride, s, sampling.short_policy) for s in starts]

        def batches(indices=indices, frames=frames) -> Iterator[torch.Tensor]:
            for i in range(0, len(indices), batch_size):
                clips = [
                    torch.from_numpy(frames[idx]).permute(3, 0, 1, 2).float() for idx in indices[i : i + batch_size]
                ]
                yield torch.stack([kinetics_scale(centre_square(x, c.size).div(255.0)) for x in clips])

        scores = clip_scores(model, batches(), sigmoid=sigmoid)
        results.append((path, [(idx, fps, s) for idx, s in zip(indices, scores, strict=True)]))
    warn_failures(failures, console)
    if not results:
        raise DataError(f"no video could be decoded: {'; '.join(f'{v}: {why}' for v, why in failures)}")
    return results
