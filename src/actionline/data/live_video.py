"""Live video sources for `predict --stream`, all through PyAV (FFmpeg): a video file, a file still being written
(``follow``: FFmpeg's file protocol waits at its end), a camera device (``/dev/video0``: FFmpeg's v4l2 input) or a
network URL (rtsp://, tcp://, udp://, http://, ...).

Frames come out as `iter_frames` gives them for a file (`actionline.data.video.resample_frames`: the same
resampling, resize and crop), so a stream of a file yields the file's frames. Packets that do not decode and frames
the decoder marks damaged are skipped (the previous frame is held) and counted; a source that stalls longer than
``timeout`` seconds, drops its connection or disappears ends the stream (the reason is kept in `LiveStats`); a
source that cannot be opened, or gives no frame, is a `DataError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actionline.data.video import resample_frames
from actionline.errors import DataError

URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass
class LiveStats:
    """What a source delivered: packets read, packets or frames skipped because they did not decode or decoded
    damaged, and why it ended early (None: it ended normally)."""

    packets: int = 0
    skipped: int = 0
    stopped: str | None = None


def kind_of(source: str) -> str:
    """``url``, ``camera`` (a /dev/video device) or ``file``."""
    if URL.match(source):
        return "url"
    if source.startswith("/dev/video"):
        return "camera"
    return "file"


def open_source(source: str, timeout: float, follow: bool = False):
    """An open PyAV container of ``source`` with its read timeout set (``follow``: keep reading a growing file)."""
    import av

    kind = kind_of(source)
    if kind == "file" and not Path(source).is_file():
        raise DataError(f"{source}: video file not found")
    if kind == "camera" and not Path(source).exists():
        raise DataError(f"{source}: no such camera device")
    try:
        container = av.open(
            source,
            format="v4l2" if kind == "camera" else None,
            options={"follow": "1"} if follow else {},
            timeout=(timeout, timeout) if kind != "file" or follow else None,  # a wait longer than that: ExitError
        )
    except av.ExitError:
        raise DataError(f"{source}: cannot open the stream (no answer within --timeout {timeout:g} s)") from None
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise DataError(f"{source}: cannot open the stream ({exc})") from None
    if not container.streams.video:
        container.close()
        raise DataError(f"{source}: no video stream")
    return container


def live_frames(
    source: str,
    fps: float,
    short_side: int | None,
    crop: int | None,
    stats: LiveStats,
    timeout: float = 10.0,
    follow: bool = False,
) -> Iterator[np.ndarray]:
    """RGB frames [H, W, 3] at ``fps`` from ``source`` as they arrive; ``stats`` is filled in as they do."""
    container = open_source(source, timeout, follow)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    count = 0
    try:
        for frame in resample_frames(_decoded(container, stream, stats, timeout), stream, fps, short_side, crop):
            count += 1
            yield frame
    finally:
        container.close()
    if count == 0:
        raise DataError(f"{source}: no frame could be read" + (f" ({stats.stopped})" if stats.stopped else ""))


def _decoded(container, stream, stats: LiveStats, timeout: float) -> Iterator:
    """The decoded frames of ``stream``, packet by packet. A packet that does not decode, or a frame the decoder
    marks damaged (H.264 conceals corrupt data and flags the frame instead of failing), is skipped and counted: the
    previous frame is held in its place. A read error (stall past the timeout, connection lost, device gone) ends
    the frames and is recorded; the frames still inside the decoder are delivered first."""
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as exc:  # ExitError: the read timeout's interrupt
            stats.stopped = f"no data for {timeout:g} s" if isinstance(exc, av.ExitError) else f"read error: {exc}"
            packet = None  # drain the decoder
        if packet is not None:
            stats.packets += 1
        try:
            frames = packet.decode() if packet is not None else stream.codec_context.decode(None)
        except av.FFmpegError:  # corrupt data: the decoder resynchronises on a later packet
            stats.skipped += 1
            frames = []
        for frame in frames:
            if frame.is_corrupt:
                stats.skipped += 1
                continue
            if frame.time_base is None:  # a drained frame carries no time base of its own
                frame.time_base = stream.time_base
            yield frame
        if packet is None:
            return
