"""What the clip benchmarks share. The in-memory ones (`stc_ablation.py`, `transfer_init.py`): pixels -> clips, a
seeded training loop (AdamW, cosine, no checkpoint selection: the last weights are tested), per-clip correctness on
a test set. All of them (`sgs.py` and the superseded `video_classification.py` too): statistics over seeds, the mean
and standard deviation, and 95 % Student-t intervals (of a value, and of a difference paired by seed)."""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

from actionline.tasks.clips import kinetics_scale


def as_clips(videos: np.ndarray, start: int = 0, frames: int | None = None) -> torch.Tensor:
    """uint8 [n, T, S, S, 3] -> Kinetics-normalised float [n, 3, frames, S, S] from frame ``start``."""
    stop = videos.shape[1] if frames is None else start + frames
    x = torch.from_numpy(np.ascontiguousarray(videos[:, start:stop])).permute(4, 0, 1, 2, 3).float() / 255.0
    return kinetics_scale(x).transpose(0, 1).contiguous()


def random_windows(videos: np.ndarray, frames: int, generator: torch.Generator) -> torch.Tensor:
    """One random ``frames``-long window of each video (the whole video when it is that long), as clips."""
    n, t = videos.shape[:2]
    starts = torch.randint(0, t - frames + 1, (n,), generator=generator).numpy()
    idx = starts[:, None] + np.arange(frames)[None, :]
    return as_clips(videos[np.arange(n)[:, None], idx])


def train_classifier(
    model: torch.nn.Module,
    videos: np.ndarray,
    labels: np.ndarray,
    *,
    frames: int,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    weight_decay: float = 0.05,
) -> float:
    """Train ``model`` (logits from ``model(x)["logits"]``) for ``steps`` batches drawn with replacement, each clip
    a random window of ``frames``; returns the seconds taken."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    y = torch.from_numpy(labels).long()
    model.train()
    t0 = time.perf_counter()
    for _ in range(steps):
        pick = torch.randint(0, len(videos), (batch,), generator=generator)
        loss = F.cross_entropy(model(random_windows(videos[pick.numpy()], frames, generator))["logits"], y[pick])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    return time.perf_counter() - t0


@torch.no_grad()
def correct(model: torch.nn.Module, videos: np.ndarray, labels: np.ndarray, frames: int, batch: int = 128):
    """Per test clip whether the centre window of ``frames`` is classified right (bool [n])."""
    model.eval()
    start = (videos.shape[1] - frames) // 2
    hits = []
    for lo in range(0, len(videos), batch):
        logits = model(as_clips(videos[lo : lo + batch], start, frames))["logits"]
        hits.append(logits.argmax(1).numpy() == labels[lo : lo + batch])
    return np.concatenate(hits)


def summary(values: list[float]) -> dict:
    """Mean, standard deviation (0 for one seed) and the ``values`` themselves (one per seed)."""
    return {
        "mean": statistics.mean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "values": values,
    }


def interval(values: list[float]) -> dict[str, float]:
    """Mean and the 95 % Student-t interval over ``values`` (one per seed)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return {"mean": mean, "lo": mean, "hi": mean, "n": len(values)}
    half = float(stats.t.ppf(0.975, len(values) - 1) * stats.sem(values))
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "n": len(values)}


def verdict(difference: dict[str, float]) -> str:
    """ "higher" / "lower" when the interval of a difference excludes 0, else "no resolved difference"."""
    if difference["n"] < 2:
        return "one seed: no interval"
    if difference["lo"] > 0:
        return "higher"
    if difference["hi"] < 0:
        return "lower"
    return "no resolved difference"
