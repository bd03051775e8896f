"""Feature extraction: video files -> feature files, with a registered backbone, bounded memory, resumable and
sharded over `torchrun` processes.

Two conventions (``layout``):

- ``segmentation`` (MS-TCN): one vector per frame at ``fps``, from a ``window``-frame window centred on it (the
  video's first / last frame repeated at the ends); ``features/<video>.npy`` [D, T]. Per-frame 2D backbones
  (``input.frames == 1``) use the frame itself. The benchmark I3D features: ``--fps 15 --window 21``. ``causal``
  (for live streams, `actionline.engine.live_features`): the window ends at the frame, the first frame repeated
  before it.
- ``detection``: one vector per snippet of ``window`` frames every ``stride`` frames; ``features/<video>.npy``
  [T, D] with ``features/<video>.json`` (`FeatureTiming`: fps, stride, window, offset) beside it. A 2D backbone's
  snippet vector is the mean of its frames'.

A clip backbone's window gives several output positions (I3D: T/8 - 1); the vector is their mean.

Frames stream from the decoder (`data.video.iter_frames`) through a sliding buffer of one window, so memory does
not grow with the video. Every video's files are written atomically; ``extraction.json`` at the output root
records the settings, and a resumed extraction skips the videos whose files are complete (and refuses other
settings). Under ``torchrun`` each rank takes every ``world``-th video; the files equal those of one process with
the same per-process thread count. A video that cannot be decoded is reported and the others still run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from actionline.data.video import find_videos, iter_frames
from actionline.engine.device import resolve_device
from actionline.engine.distributed import from_environment
from actionline.engine.run_record import ExtractionSettings, RunMeta
from actionline.errors import ConfigError, DataError
from actionline.io import atomic_write, atomic_write_text, read_json
from actionline.models.backbone import Backbone, scale_pixels
from actionline.models.registry import backbone_class

SETTINGS_FILE = "extraction.json"
MAX_BATCH = 1024  # windows per backbone batch: far beyond any use, low enough to refuse a mistyped value


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_backbone(
    name: str, weights: Path | None, console: Console, random_weights: bool = False
) -> tuple[Backbone, str | None]:
    """The backbone in eval mode and the digest of its weights. Without ``weights`` and without packaged ones the
    features would be random: only on request (``random_weights``, with a loud warning), else a `ConfigError`."""
    backbone = backbone_class(name)().eval()
    packaged = backbone.default_weights() if weights is None else None
    path = weights or packaged
    if path is None and not random_weights:
        raise ConfigError(
            f"{name} has no weights that ship with it: give --weights FILE (docs/models/backbones.md says which "
            "checkpoint each backbone loads and where it comes from), or --random-weights to extract random "
            "features on purpose (pipeline tests only)"
        )
    if path is None:
        console.print(
            f"WARNING: no --weights for {name}: its weights are RANDOM, so the features are too "
            "(useful only to test the pipeline)",
            style="bold red",
            markup=False,
        )
        return backbone, None
    backbone.load_weights(path)
    return backbone, ("packaged:" if packaged else "") + file_digest(Path(path))


def centred_windows(frames: Iterator[np.ndarray], window: int) -> Iterator[np.ndarray]:
    """One stack [window, H, W, 3] per frame, centred on it; the video is padded with ``window // 2`` copies of its
    first and last frames (a sliding window over the padded stream, so memory holds one window)."""
    half = window // 2
    buffer: deque[np.ndarray] = deque(maxlen=window)
    count = emitted = 0
    for frame in frames:
        if not buffer:
            buffer.extend([frame] * half)
        buffer.append(frame)
        count += 1
        if len(buffer) == window:
            emitted += 1
            yield np.stack(buffer)
    while emitted < count:
        buffer.append(buffer[-1])
        if len(buffer) == window:
            emitted += 1
            yield np.stack(buffer)


class CausalWindow:
    """The stack [window, H, W, 3] ending at each frame pushed; the first frame is repeated before the video."""

    def __init__(self, window: int):
        self.frames: deque[np.ndarray] = deque(maxlen=window)

    def push(self, frame: np.ndarray) -> np.ndarray:
        if not self.frames:
            self.frames.extend([frame] * (self.frames.maxlen - 1))
        self.frames.append(frame)
        return np.stack(self.frames)


def snippet_windows(frames: Iterator[np.ndarray], window: int, stride: int) -> Iterator[np.ndarray]:
    """Stacks [window, H, W, 3] starting every ``stride`` frames from frame 0 (ceil(frames / stride) of them);
    snippets running past the end are padded with the last frame."""
    buffer: deque[np.ndarray] = deque(maxlen=window)
    count = start = 0
    for frame in frames:
        buffer.append(frame)
        count += 1
        if count == start + window:
            yield np.stack(buffer)
            start += stride
    while start < count:
        tail = list(buffer)[len(buffer) - (count - start) :]
        yield np.stack(tail + [tail[-1]] * (window - len(tail)))
        start += stride


@torch.no_grad()
def embed(backbone: Backbone, batch: list[np.ndarray], device: torch.device) -> np.ndarray:
    """Vectors [N, D] of N windows ([T, H, W, C] uint8 each)."""
    x = torch.from_numpy(np.stack(batch)).to(device)  # [N, T, H, W, C]
    if backbone.input.frames == 1:
        n, t = x.shape[:2]
        frames = scale_pixels(x.flatten(0, 1).permute(0, 3, 1, 2), backbone.input.scaling)
        return backbone.features(frames).view(n, t, -1).mean(1).float().cpu().numpy()
    clips = scale_pixels(x.permute(0, 4, 1, 2, 3), backbone.input.scaling)  # [N, C, T, H, W]
    out = backbone.features(clips)
    return (out.mean(-1) if out.ndim == 3 else out).float().cpu().numpy()


def extract_video(
    path: Path, backbone: Backbone, settings: ExtractionSettings, batch_size: int, device: torch.device, progress=None
) -> np.ndarray:
    """Features [T, D] of one video (T frames or snippets)."""
    spec = backbone.input
    if spec.channels != 3:
        raise NotImplementedError(
            f"{backbone.name} takes optical flow, and computing flow (TV-L1) from video is not implemented; "
            "extract with i3d_rgb (1024-d RGB-only features) or bring flow features"
        )
    frames = iter_frames(path, settings.fps, spec.short_side, spec.size)
    if settings.layout == "detection":
        stacks = snippet_windows(frames, settings.window, settings.stride)
    elif settings.causal and spec.frames > 1:
        window = CausalWindow(settings.window)
        stacks = (window.push(frame) for frame in frames)
    else:  # a per-frame backbone sees the frame itself
        stacks = centred_windows(frames, 1 if spec.frames == 1 else settings.window)
    out, batch = [], []
    for stack in stacks:
        batch.append(stack)
        if len(batch) == batch_size:
            out.append(embed(backbone, batch, device))
            batch = []
            if progress is not None:
                progress(batch_size)
    if batch:
        out.append(embed(backbone, batch, device))
        if progress is not None:
            progress(len(batch))
    return np.concatenate(out).astype(np.float32)


def write_features(root: Path, video: str, features: np.ndarray, settings: ExtractionSettings) -> None:
    """Atomic per-video files: [D, T] for the segmentation layout, [T, D] + timing JSON for detection."""
    folder = root / "features"
    if settings.layout == "detection":
        atomic_write_text(folder / f"{video}.json", json.dumps(timing_of(settings)))
        array = features
    else:
        array = np.ascontiguousarray(features.T)
    atomic_write(folder / f"{video}.npy", lambda tmp: save_npy(tmp, array))


def save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as f:  # np.save on a name would append ".npy" to the temporary file's name
        np.save(f, array)


def is_complete(root: Path, video: str, settings: ExtractionSettings) -> bool:
    """Whether ``video``'s files are there and of ``settings`` (feature size, and for detection the timing); a file
    that is not is extracted again."""
    folder = root / "features"
    try:
        shape = np.load(folder / f"{video}.npy", mmap_mode="r", allow_pickle=False).shape
    except (OSError, ValueError, EOFError):  # missing, cut short or not an array
        return False
    dim = shape[1] if settings.layout == "detection" else shape[0]
    if len(shape) != 2 or dim != settings.feature_dim:
        return False
    if settings.layout != "detection":
        return True
    try:
        return read_json(folder / f"{video}.json") == timing_of(settings)
    except DataError:
        return False


def timing_of(settings: ExtractionSettings) -> dict[str, float]:
    """The timing file of a detection-layout video: how snippet index maps to seconds."""
    return {"fps": settings.fps, "stride": settings.stride, "window": settings.window, "offset": 0.0}


def check_settings(root: Path, settings: ExtractionSettings) -> None:
    """A folder extracted with other settings, or holding features that nothing says how were extracted, is not
    resumed (its files would mix two kinds of features)."""
    path = root / SETTINGS_FILE
    if path.is_file():
        stored = read_json(path)
        stored = stored if isinstance(stored, dict) else {}
        mine = asdict(settings)
        # a setting added later (``causal``) has its default in folders extracted before it existed
        different = sorted(
            k for k in mine if k != "feature_dim" and stored.get(k, getattr(ExtractionSettings, k, None)) != mine[k]
        )
        if different:
            raise ConfigError(
                f"{root} holds features extracted with other settings ({', '.join(different)}: "
                f"{', '.join(str(stored.get(k)) for k in different)}); choose another --out"
            )
    elif any((root / "features").glob("*.npy")):
        raise ConfigError(
            f"{root / 'features'} holds features but no {SETTINGS_FILE} says how they were extracted (backbone, "
            "fps, window), so they cannot be reused; choose another --out"
        )


def extract(
    source: Path | Sequence[Path],
    out: Path,
    requested: ExtractionSettings,
    weights: Path | None = None,
    batch_size: int = 16,
    device: str = "auto",
    console: Console | None = None,
    random_weights: bool = False,
) -> tuple[ExtractionSettings, list[str], list[tuple[str, str]]]:
    """Extract every video of ``source`` (a file, a folder or a list of files) into ``out`` as ``requested`` (its
    backbone, fps, window, stride and layout; `ExtractionSettings.request`) with the ``weights`` file (None: the
    backbone's packaged weights, else random ones, only with ``random_weights``: `load_backbone`); returns the
    settings used (with the weights' digest and the feature size), the videos done (or already complete) and the
    failures (video, reason)."""
    console = console or Console(stderr=True)
    requested.check()  # before any file is read
    if not 1 <= batch_size <= MAX_BATCH:
        raise ConfigError(f"--batch-size must be between 1 and {MAX_BATCH}, got {batch_size}")
    videos = find_videos(source) if isinstance(source, (str, Path)) else list(source)
    backbone, digest = load_backbone(requested.backbone, weights, console, random_weights)
    backbone.to(dev := resolve_device(device))
    settings = replace(requested, weights=digest, feature_dim=backbone.feature_dim)
    check_settings(out, settings)
    shard = from_environment()  # under torchrun each rank takes every world_size-th video
    if shard.is_main:
        atomic_write_text(out / SETTINGS_FILE, json.dumps(asdict(settings), indent=1))
    for stale in (out / "features").glob(".*.tmp"):  # left by a killed run: never a complete file
        stale.unlink(missing_ok=True)
    mine = videos[shard.rank :: shard.world_size]
    done, failures = [], []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, TextColumn("{task.fields[rate]}"), console=console, transient=True) as progress:
        overall = progress.add_task("videos", total=len(mine), rate="")
        for path in mine:
            if is_complete(out, path.stem, settings):
                done.append(path.stem)
                progress.advance(overall)
                continue
            started, counted = time.monotonic(), [0]

            def tick(n: int, counted=counted, started=started, name=path.name) -> None:
                counted[0] += n
                rate = counted[0] / max(time.monotonic() - started, 1e-9)
                progress.update(overall, rate=f"{name}: {counted[0]} vectors, {rate:.1f}/s")

            try:
                features = extract_video(path, backbone, settings, batch_size, dev, tick)
            except DataError as exc:
                failures.append((path.name, str(exc)))
                console.print(f"skipped {path.name}: {exc}", markup=False)
                progress.advance(overall)
                continue
            write_features(out, path.stem, features, settings)
            done.append(path.stem)
            progress.advance(overall)
    return settings, done, failures


def stored_settings(root: Path) -> ExtractionSettings | None:
    """The settings a feature folder was extracted with, if it was extracted by actionline."""
    path = Path(root) / SETTINGS_FILE
    if not path.is_file():
        return None
    return ExtractionSettings.from_dict(read_json(path), str(path))


def extract_like_training(
    meta: RunMeta, input_dim: int, source: Path, out: Path, batch_size: int, console: Console | None = None
) -> list[str]:
    """Extract the video file(s) ``source`` into ``out/features`` exactly as the run whose checkpoint ``meta``
    describes had its training features extracted (`predict --video`); returns the videos extracted. Only packaged
    weights can be drawn again: random or user weights are refused with what to do instead."""
    run, s = meta.model, meta.extraction
    if s is None:
        raise ConfigError(
            f"{run}: the run does not record how its features were extracted (it was trained on features that "
            "`actionline extract` did not write), so --video cannot reproduce them; extract the videos with the "
            "same backbone yourself and predict with --data"
        )
    if s.feature_dim != input_dim:
        raise ConfigError(f"{run}: {s.feature_dim}-d features recorded, the model takes {input_dim}")
    if s.weights is None:
        raise ConfigError(
            f"{run}: its features came from a {s.backbone} with random weights, which cannot be drawn again"
        )
    if not s.weights.startswith("packaged:"):
        raise ConfigError(
            f"{run}: its features came from {s.backbone} with user weights (sha256 {s.weights[:12]}...); "
            "extract with `actionline extract --weights` and predict with --data"
        )
    used, done, failures = extract(source, out, s, None, batch_size, console=console)
    if used.weights != s.weights:
        raise ConfigError(f"{run}: its features came from other {s.backbone} weights than the installed ones")
    if failures and not done:
        raise DataError(f"no video could be decoded: {'; '.join(f'{v}: {why}' for v, why in failures)}")
    return done
