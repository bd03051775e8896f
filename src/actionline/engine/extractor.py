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

A clip backbone's window gives several output positions (I3D: T/8 - 1); the vector is their mean. Windows one
frame apart (the segmentation layout, centred or causal) share most of their frames: for I3D the layers up to
Mixed_3b compute the positions that do not reach a window's padding once for all the windows of a batch, and the
first two temporal convolutions' edge positions from per-tap products shared across windows (`engine.i3d_windows`;
38.8 -> 25.6 GMACs per frame at 224 x 224 with 16 windows per batch, 23.7 for long batches), the same features
within 1e-5 relative.

Frames stream from the decoder (`data.video.iter_frames`) through a sliding buffer of one window, so memory does
not grow with the video. Every video's files are written atomically; ``extraction.json`` at the output root
records the settings, and a resumed extraction skips the videos whose files are complete (and refuses other
settings). Under ``torchrun`` each rank takes every ``world``-th video; the files equal those of one process with
the same per-process thread count. A video that cannot be decoded is reported and the others still run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from actionline.data.video import find_videos, frame_chunks, probe
from actionline.engine.device import resolve_device
from actionline.engine.distributed import from_environment
from actionline.engine.graph_cache import backbone_with_onnxruntime
from actionline.engine.i3d_windows import SharedWindowsI3D
from actionline.engine.int8_backbone import int8_graph
from actionline.engine.onnx_graph import OnnxForward
from actionline.engine.run_record import ExtractionSettings, RunMeta
from actionline.errors import ConfigError, DataError
from actionline.io import atomic_write, atomic_write_text, file_digest, read_json
from actionline.models.backbone import Backbone, scale_pixels
from actionline.models.registry import backbone_class
from actionline.models.video.i3d import I3D
from actionline.nn.networks.inference_form import channels_last, inference_form

SETTINGS_FILE = "extraction.json"
Runtime = Literal["torch", "onnxruntime", "onnxruntime-int8"]
RUNTIMES: tuple[str, ...] = ("torch", "onnxruntime", "onnxruntime-int8")
MAX_BATCH = 1024  # windows per backbone batch: far beyond any use, low enough to refuse a mistyped value


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


class FeatureNetwork:
    """A backbone's ``features`` on a device: uint8 frames or windows in, float32 vectors out. ``runtime`` torch:
    the inference form (`nn.networks.inference_form`: BatchNorm folded, in-place activations, channels-last);
    onnxruntime: the exported graph run by ONNX Runtime on the CPU (`engine.graph_cache`: exported once, then cached),
    the same features within 1e-4 (neither is recorded in the features' settings: both compute the same function);
    onnxruntime-int8: the static int8 graph at ``int8_path`` (`engine.int8_backbone`; other features, recorded)."""

    def __init__(
        self, backbone: Backbone, device: torch.device, runtime: Runtime = "torch", int8_path: Path | None = None
    ):
        self.spec, self.device, self.positions = backbone.input, device, backbone.positions
        self.clip = backbone.input.frames > 1
        self.check(backbone, device, runtime)
        self.layout_last = runtime == "torch"  # ONNX Runtime's graph takes contiguous NCHW / NCDHW
        self._buffer: torch.Tensor | None = None
        if runtime == "onnxruntime-int8":
            if int8_path is None:
                raise ConfigError("--runtime onnxruntime-int8 needs its calibrated graph (engine.int8_backbone)")
            graph = OnnxForward(int8_path, backbone)
            self.network = lambda frames: graph(frames)["features"]
        elif runtime == "onnxruntime":
            self.network = backbone_with_onnxruntime(backbone)
        else:
            self.network = inference_form(backbone, 3 if self.clip else 2).to(device)
        self.shared = SharedWindowsI3D(backbone, device) if isinstance(backbone, I3D) and runtime == "torch" else None

    @staticmethod
    def check(backbone: Backbone, device: torch.device, runtime: str) -> None:
        """Refuse a runtime that cannot run ``backbone`` on ``device`` (`ConfigError`), before any work."""
        if runtime not in RUNTIMES:
            raise ConfigError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if runtime != "torch" and device.type != "cpu":
            raise ConfigError(f"--runtime {runtime} runs on the CPU: give --device cpu (or use --runtime torch)")
        if runtime != "torch" and backbone.input.frames > 1:
            raise ConfigError(
                "--runtime onnxruntime runs per-frame backbones (a clip backbone's graph is exported for one clip "
                "length, and windows and sliding spans differ from it): use --runtime torch"
            )

    def _scaled(self, pixels: np.ndarray) -> torch.Tensor:
        """[N, H, W, C] or [N, T, H, W, C] uint8 (a strided view is fine) -> scaled float32 (channels-last for
        PyTorch) in the network's input buffer (`_input_of`)."""
        x = torch.from_numpy(pixels).to(self.device)
        x = x.permute(0, 3, 1, 2) if x.ndim == 4 else x.permute(0, 4, 1, 2, 3)
        return scale_pixels(x, self.spec.scaling, self._input_of(x.shape))

    def _input_of(self, shape: torch.Size) -> torch.Tensor:
        """The float32 input for a batch of ``shape``: the first rows of one buffer, kept from batch to batch (grown
        when a batch is larger). A fresh input per batch (9.6 MB at 16 frames of 224²), freed while the batch's small
        feature rows stay, left a hole per batch that glibc (its mapping threshold raised, `engine.allocator`) did
        not reuse: ONNX Runtime extraction grew by about that much per batch (1.8 GB resident after 3 minutes of
        video; 0.55 GB, flat, with this buffer)."""
        buffer = self._buffer
        if buffer is None or buffer.shape[0] < shape[0] or buffer.shape[1:] != shape[1:]:
            buffer = torch.empty(shape, dtype=torch.float32, device=self.device)
            self._buffer = buffer = channels_last(buffer) if self.layout_last else buffer
        return buffer[: shape[0]]

    @torch.inference_mode()
    def frames(self, frames: np.ndarray) -> np.ndarray:
        """Vectors [N, D] of N frames [N, H, W, C] (per-frame backbones)."""
        return self.network(self._scaled(frames)).float().cpu().numpy()

    @torch.inference_mode()
    def windows(self, windows: np.ndarray, keep_positions: bool = False) -> np.ndarray:
        """Vectors [N, D] of N windows [N, T, H, W, C]: the mean of a clip backbone's output positions (with
        ``keep_positions``, the positions themselves, [N, T', D])."""
        out = self.network(self._scaled(windows))
        if keep_positions:
            return out.transpose(1, 2).float().cpu().numpy()
        return (out.mean(-1) if out.ndim == 3 else out).float().cpu().numpy()

    @torch.inference_mode()
    def consecutive_windows(self, windows: np.ndarray) -> np.ndarray:
        """`windows` of N windows [N, T, H, W, C] that start on N consecutive frames (`window_batches` at stride 1),
        with the work they share done once where the backbone allows it (I3D: `engine.i3d_windows`)."""
        if self.shared is None:
            return self.windows(windows)
        frames = self._scaled(np.concatenate([windows[:, 0], windows[-1, 1:]]))  # [N + T - 1, C, H, W]
        return self.shared.features(frames.transpose(0, 1)[None], windows.shape[1]).float().cpu().numpy()


def window_batches(chunks: Iterator[np.ndarray], window: int, stride: int, lead: int) -> Iterator[np.ndarray]:
    """Windows [n, window, H, W, 3] (strided views, no copy) starting every ``stride`` frames of the stream padded
    with ``lead`` copies of its first frame before it and copies of its last frame after it, one batch per chunk;
    windows start at padded positions 0, stride, ... below the number of frames (the segmentation layout's centred
    windows: ``lead = window // 2``, stride 1; detection snippets: ``lead = 0``). Memory: a chunk and a window."""
    buffer, base, start, count = None, 0, 0, 0  # buffer[0] is padded position `base`; `start` the next window's
    for chunk in chunks:
        buffer = np.concatenate([np.repeat(chunk[:1], lead, 0), chunk] if buffer is None else [buffer, chunk])
        count += len(chunk)
        ready = min(count - 1, base + len(buffer) - window)  # the last start whose window is complete
        if ready >= start:
            n = (ready - start) // stride + 1
            yield _strided(buffer[start - base :], n, window, stride)
            start += n * stride
            buffer, base = buffer[start - base :], start
    if buffer is None or start >= count:
        return
    buffer = np.concatenate([buffer, np.repeat(buffer[-1:], window - 1, 0)])
    yield _strided(buffer[start - base :], (count - 1 - start) // stride + 1, window, stride)


def _strided(frames: np.ndarray, n: int, window: int, stride: int) -> np.ndarray:
    step = frames.strides[0]
    return np.lib.stride_tricks.as_strided(
        frames, (n, window, *frames.shape[1:]), (stride * step, step, *frames.strides[1:])
    )


def snippet_means(vectors: np.ndarray, window: int, stride: int) -> np.ndarray:
    """A per-frame backbone's snippet vectors: the mean over ``window`` frames every ``stride`` frames from frame 0,
    snippets past the end padded with the last frame's vector."""
    padded = np.concatenate([vectors, np.repeat(vectors[-1:], window - 1, 0)])
    starts = np.arange(0, len(vectors), stride)
    return np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)[starts].mean(-1, dtype=np.float32)


SLIDING_SPAN, SLIDING_CONTEXT = 128, 32  # frames per pass of the sliding mode, and the context on each side


def sliding_features(chunks: Iterator[np.ndarray], network: FeatureNetwork, progress=None) -> np.ndarray:
    """The fast mode for a clip backbone in the per-frame convention (``--mode sliding``): one pass over the video
    instead of one window per frame. The backbone runs on spans of `SLIDING_SPAN` frames with `SLIDING_CONTEXT`
    frames of context on each side (the video's first / last frame repeated at its ends); the positions centred in
    each span are kept (I3D: one every 8 frames) and each frame's vector is interpolated linearly between the two
    positions around it (the first / last position's vector beyond them). A window of its own per frame (exact
    mode) sees zero padding at its edges where this sees the neighbouring frames, so the vectors differ: the
    benchmark (`benchmarks/extraction.py`) states by how much and what that does to a segmentation model."""
    if network.positions is None:
        raise ConfigError("--mode sliding needs a clip backbone whose features keep their temporal positions (I3D)")
    step, centre = network.positions
    if SLIDING_SPAN % step or SLIDING_CONTEXT % step:
        raise ConfigError(f"the sliding spans are not a multiple of the backbone's temporal stride {step}")
    first = (SLIDING_CONTEXT - centre + step - 1) // step  # the first position centred inside the span
    per_span = SLIDING_SPAN // step
    window = SLIDING_SPAN + 2 * SLIDING_CONTEXT
    counted = [0]

    def counting(chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for chunk in chunks:
            counted[0] += len(chunk)
            if progress is not None:
                progress(len(chunk))
            yield chunk

    vectors = []
    for batch in window_batches(counting(chunks), window, SLIDING_SPAN, SLIDING_CONTEXT):
        positions = network.windows(batch, keep_positions=True)[:, first : first + per_span]
        vectors.append(positions.reshape(-1, positions.shape[-1]))
    kept = np.concatenate(vectors)
    centres = np.arange(len(kept)) * step + (first * step + centre - SLIDING_CONTEXT)
    return interpolate_rows(kept, centres, np.arange(counted[0]))


def interpolate_rows(rows: np.ndarray, at: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Rows [N, D] given at increasing frames ``at`` -> [len(frames), D], linear in between, constant beyond."""
    right = np.clip(np.searchsorted(at, frames), 1, len(at) - 1) if len(at) > 1 else np.zeros_like(frames)
    left = np.maximum(right - 1, 0)
    span = np.maximum(at[right] - at[left], 1)
    weight = np.clip((frames - at[left]) / span, 0.0, 1.0).astype(np.float32)[:, None]
    return (rows[left] * (1 - weight) + rows[right] * weight).astype(np.float32)


def extract_video(
    path: Path, network: FeatureNetwork, settings: ExtractionSettings, batch_size: int, progress=None
) -> np.ndarray:
    """Features [T, D] of one video (T frames or snippets). Decoding runs on a background thread ahead of the
    network (`data.video.frame_chunks`); a per-frame backbone sees each frame once (detection snippets average the
    frames' vectors), a clip backbone one window per output."""
    spec = network.spec
    if spec.channels != 3:
        raise NotImplementedError(
            "the backbone takes optical flow, and computing flow (TV-L1) from video is not implemented; "
            "extract with i3d_rgb (1024-d RGB-only features) or bring flow features"
        )
    detection = settings.layout == "detection"
    stride = settings.stride if detection else 1
    if settings.mode == "sliding":
        return sliding_features(
            frame_chunks(path, settings.fps, spec.short_side, spec.size, SLIDING_SPAN), network, progress
        )
    chunk = batch_size * stride if network.clip else batch_size
    chunks = frame_chunks(path, settings.fps, spec.short_side, spec.size, chunk)
    out = []
    if network.clip:
        # segmentation windows are centred on their frame, or end at it (``causal``: the first frame repeated)
        lead = 0 if detection else settings.window - 1 if settings.causal else settings.window // 2
        windows = network.consecutive_windows if stride == 1 else network.windows
        for batch in window_batches(chunks, settings.window, stride, lead):
            out.append(windows(batch))
            if progress is not None:
                progress(len(batch) * stride)
        return np.concatenate(out)
    for frames in chunks:
        out.append(network.frames(frames))
        if progress is not None:
            progress(len(frames))
    vectors = np.concatenate(out)
    return snippet_means(vectors, settings.window, stride) if detection else vectors


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
        defaults = {f.name: f.default for f in fields(ExtractionSettings)}  # keys added since (mode) read as theirs
        different = sorted(k for k in mine if k != "feature_dim" and stored.get(k, defaults[k]) != mine[k])
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


class FrameRateColumn(ProgressColumn):
    """The task's speed as frames per second (rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:.1f} frames/s")


PROGRESS_COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TextColumn("frames"),
    TaskProgressColumn(),
    FrameRateColumn(),
    TimeRemainingColumn(),
)


def expected_frames(path: Path, fps: float) -> int:
    """Frames a video should give at ``fps`` by its container's duration (0 when it cannot be read: the
    extraction reports that video's error)."""
    try:
        return probe(path).frames_at(fps)
    except DataError:
        return 0


def extract(
    source: Path | Sequence[Path],
    out: Path,
    requested: ExtractionSettings,
    weights: Path | None = None,
    batch_size: int = 16,
    device: str = "auto",
    console: Console | None = None,
    random_weights: bool = False,
    runtime: Runtime = "torch",
    on_video: Callable[[str], None] | None = None,
) -> tuple[ExtractionSettings, list[str], list[tuple[str, str]]]:
    """Extract every video of ``source`` (a file, a folder or a list of files) into ``out`` as ``requested`` (its
    backbone, fps, window, stride and layout; `ExtractionSettings.request`) with the ``weights`` file (None: the
    backbone's packaged weights, else random ones, only with ``random_weights``: `load_backbone`) run by
    ``runtime`` (`FeatureNetwork`); returns the settings used (with the weights' digest and the feature size), the
    videos done (or already complete) and the failures (video, reason). ``on_video`` is called with each video
    whose files are complete, as soon as they are (`engine.video_pipeline` segments it meanwhile); videos are done
    and reported in the folder's order, complete ones included, so a resumed run's outputs keep that order."""
    console = console or Console(stderr=True)
    requested.check()  # before any file is read
    if not 1 <= batch_size <= MAX_BATCH:
        raise ConfigError(f"--batch-size must be between 1 and {MAX_BATCH}, got {batch_size}")
    videos = find_videos(source) if isinstance(source, (str, Path)) else list(source)
    backbone, digest = load_backbone(requested.backbone, weights, console, random_weights)
    if requested.mode == "sliding" and backbone_class(requested.backbone).positions is None:
        raise ConfigError(
            f"--mode sliding is for clip backbones that keep temporal positions (i3d_rgb), not {requested.backbone}"
        )
    backbone.to(dev := resolve_device(device))
    FeatureNetwork.check(backbone, dev, runtime)  # before anything is written: a runtime it refuses stops here
    settings = replace(requested, weights=digest, feature_dim=backbone.feature_dim)
    int8 = None
    if runtime == "onnxruntime-int8":
        stored = stored_settings(out)
        if stored is None:
            check_settings(out, settings)  # features nothing describes: refused before the graph is written
        int8 = int8_graph(backbone, videos, out, stored and stored.int8, stored is not None)
        settings = replace(settings, int8=file_digest(int8))
    network = FeatureNetwork(backbone, dev, runtime, int8)
    check_settings(out, settings)
    shard = from_environment()  # under torchrun each rank takes every world_size-th video
    if shard.is_main:
        atomic_write_text(out / SETTINGS_FILE, json.dumps(settings.as_dict(), indent=1))
    for stale in (out / "features").glob(".*.tmp"):  # left by a killed run: never a complete file
        stale.unlink(missing_ok=True)
    shard_videos = videos[shard.rank :: shard.world_size]
    complete = {v for v in shard_videos if is_complete(out, v.stem, settings)}
    done: list[str] = []
    failures: list[tuple[str, str]] = []
    with Progress(*PROGRESS_COLUMNS, console=console, transient=True) as progress:
        total = sum(expected_frames(v, settings.fps) for v in shard_videos if v not in complete)
        frames = progress.add_task("frames", total=total or None)
        for position, path in enumerate(shard_videos, 1):
            if path in complete:
                done.append(path.stem)
                if on_video is not None:
                    on_video(path.stem)
                continue
            progress.update(frames, description=f"{path.name} ({position}/{len(shard_videos)})")
            try:
                features = extract_video(path, network, settings, batch_size, lambda n: progress.advance(frames, n))
            except DataError as exc:
                failures.append((path.name, str(exc)))
                console.print(f"skipped {path.name}: {exc}", markup=False)
                continue
            write_features(out, path.stem, features, settings)
            done.append(path.stem)
            if on_video is not None:
                on_video(path.stem)
    return settings, done, failures


def stored_settings(root: Path) -> ExtractionSettings | None:
    """The settings a feature folder was extracted with, if it was extracted by actionline."""
    path = Path(root) / SETTINGS_FILE
    if not path.is_file():
        return None
    return ExtractionSettings.from_dict(read_json(path), str(path))


def training_extraction(meta: RunMeta, input_dim: int) -> ExtractionSettings:
    """How the run whose checkpoint ``meta`` describes had its training features extracted, when that can be
    reproduced: only packaged weights can be drawn again; random or user weights are a `ConfigError` with what to
    do instead."""
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
    if s.int8 is not None:
        raise ConfigError(
            f"{run}: its features came from a static int8 {s.backbone} calibrated on its own videos "
            "(`extract --runtime onnxruntime-int8`), which --video does not reproduce; extract the videos into that "
            "folder and predict with --data"
        )
    if not s.weights.startswith("packaged:"):
        raise ConfigError(
            f"{run}: its features came from {s.backbone} with user weights (sha256 {s.weights[:12]}...); "
            "extract with `actionline extract --weights` and predict with --data"
        )
    return s


def extract_like_training(
    meta: RunMeta,
    input_dim: int,
    source: Path,
    out: Path,
    batch_size: int,
    console: Console | None = None,
    on_video: Callable[[str], None] | None = None,
    runtime: Runtime = "torch",
) -> list[str]:
    """Extract the video file(s) ``source`` into ``out/features`` exactly as the run whose checkpoint ``meta``
    describes had its training features extracted (`training_extraction`; `predict --video`), the backbone run by
    ``runtime`` (`FeatureNetwork`; onnxruntime on the CPU); returns the videos extracted."""
    run, s = meta.model, training_extraction(meta, input_dim)
    device = "cpu" if runtime == "onnxruntime" else "auto"
    used, done, failures = extract(
        source, out, s, None, batch_size, device, console, runtime=runtime, on_video=on_video
    )
    if used.weights != s.weights:
        raise ConfigError(f"{run}: its features came from other {s.backbone} weights than the installed ones")
    if failures and not done:
        raise DataError(f"no video could be decoded: {'; '.join(f'{v}: {why}' for v, why in failures)}")
    return done
