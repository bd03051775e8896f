"""Prediction: a trained run + features -> one `Timeline` per video, written as MS-TCN label files at full
frame rate (``<video>`` with the ``### Frame level recognition: ###`` header, as the MS-TCN code writes them)
plus ``timelines.json``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from rich.progress import track

from actionline.data.layout import SegmentationData
from actionline.engine.checkpoint import load_checkpoint
from actionline.engine.trainer import resolve_device
from actionline.errors import CheckpointError
from actionline.io import atomic_write_text
from actionline.models.registry import build_model
from actionline.timeline import Timeline, save_timelines, upsample_labels

MSTCN_HEADER = "### Frame level recognition: ###"


def load_run(
    run: str | Path, which: str = "best", device: str = "auto", overrides: dict | None = None
) -> tuple[torch.nn.Module, dict]:
    """The model of ``run/checkpoints/{which}.pt`` in eval mode, and the checkpoint's metadata.

    ``overrides`` changes model settings that only act at inference (e.g. BaFormer's ``voting`` or
    ``boundaries``); settings that change the weights make loading fail with a `CheckpointError`.
    """
    run = Path(run)
    path = run / "checkpoints" / f"{which}.pt" if run.is_dir() else run
    if run.is_dir() and not path.is_file() and (run / "config.yaml").is_file():
        raise CheckpointError(f"{path}: no checkpoint yet (was training interrupted before the first epoch?)")
    ckpt = load_checkpoint(path)
    model = build_model(ckpt["model"], {**ckpt["model_config"], **(overrides or {})})
    try:
        model.load_state_dict(ckpt["model_state"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit model {ckpt['model']!r}: {str(exc)[:200]}") from exc
    if hasattr(model, "set_epoch") and ckpt.get("epoch") and ckpt.get("train_config"):
        # staged models (RTK Sec. 4.1) decode as they did when this checkpoint was validated and chosen
        model.set_epoch(int(ckpt["epoch"]), int(ckpt["train_config"]["epochs"]))
    model.to(resolve_device(device)).eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("model_state", "optimizer", "scheduler", "rng")}
    return model, meta


def write_mstcn_prediction(path: Path, names: Sequence[str]) -> None:
    atomic_write_text(path, f"{MSTCN_HEADER}\n{' '.join(names)}\n")


@torch.no_grad()
def predict_segmentation(
    run: str | Path,
    data: SegmentationData,
    videos: Sequence[str],
    out: str | Path,
    which: str = "best",
    device: str = "auto",
    overrides: dict | None = None,
) -> list[Timeline]:
    """Predict ``videos`` of ``data``; write ``out/<video>`` label files and ``out/timelines.json``.

    ``overrides``: inference-time model settings (see `load_run`)."""
    model, meta = load_run(run, which, device, overrides)
    classes = list(meta["classes"])
    if list(data.classes) != classes:
        raise CheckpointError(
            f"run {run} was trained on {len(classes)} classes that differ from {data.root / 'mapping.txt'} "
            f"({len(data.classes)} classes)"
        )
    sr = data.info.sample_rate
    dev = next(model.parameters()).device
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timelines = []
    for video in track(videos, description="predicting", transient=True):
        full = data.features(video)
        if full.shape[0] != model.config.input_dim:
            raise CheckpointError(
                f"video {video}: features have {full.shape[0]} dimensions, the model expects {model.config.input_dim}"
            )
        x = torch.from_numpy(np.ascontiguousarray(full[:, ::sr]))[None].to(dev)
        mask = torch.ones(1, x.shape[-1], device=dev)
        targets = None
        if (data.root / "groundTruth" / f"{video}.txt").is_file():  # for oracle analyses only (e.g. BaFormer Table 5)
            labels = torch.from_numpy(data.labels(video)[: full.shape[1] : sr][: x.shape[-1]])
            targets = {"labels": labels[None].to(dev)}
        coarse = model.decode(model(x, mask), mask, [video], classes, targets=targets)[0]
        dense = upsample_labels(coarse.to_labels(classes), sr, full.shape[1])
        seg_scores = [s.score if s.score is not None else np.nan for s in coarse.segments]
        frame_scores = np.repeat(seg_scores, [s.length for s in coarse.segments])
        scores = upsample_labels(frame_scores, sr, full.shape[1])
        timeline = Timeline.from_labels(
            video, dense, classes, fps=data.info.fps, scores=None if np.isnan(scores).any() else scores
        )
        write_mstcn_prediction(out / video, [classes[i] for i in dense])
        timelines.append(timeline)
    save_timelines(out / "timelines.json", timelines, classes)
    return timelines
