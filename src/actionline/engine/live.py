"""A live timeline from a live source (`predict --stream`): frames -> causal features -> a causal model one frame at
a time (`TemporalModel.stream`) -> frame labels -> online smoothing -> timeline events, with per-frame latencies.

Each frame costs one backbone pass (a window ending at it for clip backbones, `engine.live_features`) and one model
step of O(layers) (`nn.streaming`), so the cost per frame does not grow with the stream's length.

Smoothing (`OnlineSmoother`): a new label is emitted only once it has won ``min_frames`` frames in a row; its segment
then starts where that run began. Shorter runs are absorbed by the current label. That is the smoothing's delay:
``(min_frames - 1) / fps`` seconds between a change in the video and its event (``--smooth`` seconds, rounded to
frames).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from actionline.data.live_video import LiveStats, live_frames
from actionline.engine.extractor import load_backbone
from actionline.engine.live_features import LiveFeatures
from actionline.engine.run_record import ExtractionSettings, RunMeta
from actionline.errors import ConfigError
from actionline.models.base import TemporalModel

Event = dict  # {"t": seconds, "label": str, "event": "start" | "end" | "update", "score": float}
STAGES = ("decode", "features", "model", "total")


@dataclass(frozen=True)
class LiveSettings:
    """How a stream is read and decided: ``smoothing`` seconds a new label must last before it is emitted,
    ``realtime`` paces a file at its own frame rate, ``timeout`` seconds of silence end a stream, ``follow`` reads a
    file still being written, ``update_every`` seconds between ``update`` events."""

    smoothing: float = 0.0
    realtime: bool = False
    timeout: float = 10.0
    follow: bool = False
    update_every: float = 1.0

    def check(self) -> None:
        if self.smoothing < 0 or self.timeout <= 0 or self.update_every <= 0:
            raise ConfigError("--smooth must be >= 0, --timeout and the update period > 0")


class OnlineSmoother:
    """Frame labels in, timeline events out, committed only after ``min_frames`` frames of a new label in a row
    (1: every change at once). ``labels`` and ``scores`` hold the smoothed per-frame decisions so far."""

    def __init__(self, min_frames: int, classes: list[str], fps: float):
        self.min_frames, self.classes, self.fps = max(1, min_frames), classes, fps
        self.labels: list[int] = []
        self.scores: list[float] = []
        self.current: int | None = None
        self.segment_start = 0
        self.run_label, self.run_start = -1, 0

    def _event(self, kind: str, frame: int, label: int, score: float) -> Event:
        return {"t": round(frame / self.fps, 6), "label": self.classes[label], "event": kind, "score": round(score, 6)}

    def segment_score(self, stop: int | None = None) -> float:
        return float(np.mean(self.scores[self.segment_start : stop])) if self.scores else 0.0

    def push(self, label: int, score: float) -> list[Event]:
        """The events that frame ``len(labels)``, labelled ``label`` with probability ``score``, settles."""
        t = len(self.labels)
        self.labels.append(label if self.current is None else self.current)
        self.scores.append(score)
        if label == self.current:
            self.run_label = -1
            return []
        if label != self.run_label:
            self.run_label, self.run_start = label, t
        if t - self.run_start + 1 < self.min_frames:
            return []
        start = 0 if self.current is None else self.run_start  # the first label covers the frames before it
        events = [] if self.current is None else [self._event("end", start, self.current, self.segment_score(start))]
        self.labels[start:] = [label] * (t + 1 - start)
        self.current, self.segment_start, self.run_label = label, start, -1
        return [*events, self._event("start", start, label, self.segment_score())]

    def update(self) -> list[Event]:
        """The current label now, with its segment's mean score so far."""
        if self.current is None:
            return []
        return [self._event("update", len(self.labels), self.current, self.segment_score())]

    def finish(self) -> list[Event]:
        """The stream ended: the current segment ends (a pending shorter run stays absorbed)."""
        if self.current is None:
            return []
        return [self._event("end", len(self.labels), self.current, self.segment_score())]


@dataclass
class LatencyLog:
    """Per-frame seconds of each stage; `report` gives percentiles in milliseconds and the real-time factor
    (seconds of stream processed per second of work: above 1 keeps up)."""

    fps: float
    times: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def add(self, decode: float, features: float, model: float) -> None:
        for stage, value in zip(STAGES, (decode, features, model, decode + features + model), strict=True):
            self.times[stage].append(value)

    def report(self) -> dict:
        frames = len(self.times["total"])
        out: dict = {"frames": frames, "fps": self.fps}
        for stage, values in self.times.items():
            ms = np.asarray(values) * 1000 if values else np.zeros(1)
            out[stage] = {f"p{q}": round(float(np.percentile(ms, q)), 3) for q in (50, 90, 99)}
        work = float(np.sum(self.times["total"]))
        out["realtime_factor"] = round(frames / self.fps / work, 3) if work > 0 else None
        return out


def live_settings(meta: RunMeta, input_dim: int) -> ExtractionSettings:
    """How the run's features were extracted, refused where a live stream cannot compute the same features."""
    run, s = meta.model, meta.extraction
    if s is None:
        raise ConfigError(
            f"{run}: the run does not record how its features were extracted, so a stream cannot compute them; "
            "train on features from `actionline extract`"
        )
    if s.feature_dim != input_dim:
        raise ConfigError(f"{run}: {s.feature_dim}-d features recorded, the model takes {input_dim}")
    if s.weights is None or not s.weights.startswith("packaged:"):
        raise ConfigError(f"{run}: its features came from {s.backbone} weights that are not packaged")
    return s


def frame_decisions(
    model: TemporalModel, meta: RunMeta, source: str, settings: LiveSettings, stats: LiveStats, console
) -> tuple[ExtractionSettings, Iterator[tuple[float, np.ndarray, float, float]]]:
    """The extraction settings and an iterator of (decode s, class probabilities [K], features s, model s) per
    frame of ``source``."""
    step = model.stream()  # refuses a model trained offline
    extraction = live_settings(meta, model.config.input_dim)
    backbone, digest = load_backbone(extraction.backbone, None, console)
    if digest != extraction.weights:
        raise ConfigError(f"{extraction.backbone}: the installed weights differ from the run's")
    if backbone.input.frames > 1 and not extraction.causal:
        raise ConfigError(
            f"the run's {extraction.backbone} features came from windows centred on each frame, which need later "
            "frames; extract with --causal, train again, then stream"
        )
    device = next(model.parameters()).device
    features = LiveFeatures(backbone.to(device), extraction, device)
    spec = backbone.input
    frames = live_frames(source, extraction.fps, spec.short_side, spec.size, stats, settings.timeout, settings.follow)
    return extraction, timed_decisions(frames, features, step, extraction.fps, settings.realtime)


def timed_decisions(
    frames: Iterator[np.ndarray],
    features: LiveFeatures,
    step: Callable[[torch.Tensor], torch.Tensor],
    fps: float,
    realtime: bool = False,
) -> Iterator[tuple[float, np.ndarray, float, float]]:
    """(decode s, class probabilities [K], features s, model s) per frame of ``frames``: decode is the wait for the
    frame (decoding included), features `features(frame)`, model one ``step`` (the last stage's softmax).
    ``realtime``: frame k + 1 is not taken before (k + 1) / ``fps`` seconds after the first (a file at its pace)."""
    device = features.network.device
    origin = started = time.perf_counter()
    for k, frame in enumerate(frames):
        decoded = time.perf_counter()
        vector = features(frame)
        embedded = time.perf_counter()
        with torch.inference_mode():
            logits = step(torch.from_numpy(vector).to(device))[-1]
            probs = torch.softmax(logits, dim=0).cpu().numpy()
        stepped = time.perf_counter()
        yield decoded - started, probs, embedded - decoded, stepped - embedded
        if realtime:
            time.sleep(max(0.0, (k + 1) / fps - (time.perf_counter() - origin)))
        started = time.perf_counter()


@dataclass
class StreamOutcome:
    """What `run_stream` decided and measured: the smoother (the frame decisions), the latencies, what the source
    delivered, and whether the stream was interrupted (Ctrl-C: everything decided until then is kept)."""

    smoother: OnlineSmoother
    log: LatencyLog
    stats: LiveStats
    interrupted: bool

    def report(self) -> dict:
        """``latency.json``: the latency percentiles and real-time factor, skipped packets, why the source stopped,
        whether it was interrupted and the smoothing delay in seconds."""
        report = {**self.log.report(), "skipped_packets": self.stats.skipped, "stopped": self.stats.stopped}
        report["interrupted"] = self.interrupted
        report["smoothing_delay_s"] = round((self.smoother.min_frames - 1) / self.log.fps, 6)
        return report


def run_stream(
    model: TemporalModel,
    meta: RunMeta,
    source: str,
    settings: LiveSettings,
    emit: Callable[[Event], None],
    console,
    on_frame: Callable[[int, int, float, LatencyLog], None] | None = None,
) -> StreamOutcome:
    """Decide ``source`` frame by frame, calling ``emit`` for each event (and ``on_frame(t, label, score, log)``
    for a live view) until it ends, stalls past the timeout or Ctrl-C."""
    settings.check()
    stats = LiveStats()
    extraction, decisions = frame_decisions(model, meta, source, settings, stats, console)
    classes = list(meta.classes)
    smoother = OnlineSmoother(1 + round(settings.smoothing * extraction.fps), classes, extraction.fps)
    log = LatencyLog(extraction.fps)
    every = max(1, round(settings.update_every * extraction.fps))
    interrupted = False
    try:
        for decode, probs, embed_time, model_time in decisions:
            log.add(decode, embed_time, model_time)
            label = int(probs.argmax())
            for event in smoother.push(label, float(probs[label])):
                emit(event)
            t = len(smoother.labels)
            if t % every == 0:
                for event in smoother.update():
                    emit(event)
            if on_frame is not None:
                on_frame(t, smoother.current if smoother.current is not None else label, float(probs[label]), log)
    except KeyboardInterrupt:
        interrupted = True
    for event in smoother.finish():
        emit(event)
    return StreamOutcome(smoother, log, stats, interrupted)
