"""Decoding video files with PyAV: metadata, a streaming frame reader resampled to a target frame rate by
timestamps, shorter-side resize and centre crop, and frame-accurate clip reads.

The reader never holds the whole video: frames are decoded, resampled and yielded one by one (`iter_frames`), or
in chunks of consecutive frames decoded ahead on a background thread (`frame_chunks`, for feature extraction: the
decoder and the network then run at the same time, with at most ``prefetch`` chunks waiting).
Resampling is by presentation time, so 29.97 fps and variable frame rates come
out exact: output frame k shows what the video shows at ``t0 + k / fps`` (t0 the first frame's time), i.e. the
last decoded frame whose timestamp is at or before that time (sample and hold). A video of duration d yields one
frame per time ``k / fps < d``, i.e. ``ceil(d * fps)`` frames (a 10 s clip at 15 fps gives 150, a 5.28 s clip 80),
where d runs from the first frame's time to the end of the last frame: its timestamp plus the frame period, the
median interval between the last `PERIOD_WINDOW` timestamps (a frame the decoder skipped as damaged leaves one
interval of two periods, which the median ignores; a mean over the decoded frames would count one frame too few
and lengthen the video by a frame).

Every failure names the file: unreadable or corrupt files, files without a video stream (audio only), still images
(a PNG or JPEG renamed ``.mp4``: only videos are read) and videos without a decodable frame raise `DataError`.
"""

from __future__ import annotations

import math
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from actionline.errors import DataError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")
IMAGE_FORMATS = ("image2", "gif", "webp_pipe", "apng")  # FFmpeg demuxers of still images (also every "*_pipe")
EPS = 2e-5  # seconds: tolerance for timestamps stored in a container's time base
PERIOD_WINDOW = 31  # the last frames' timestamps whose median interval is the last frame's period


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (``num_frames`` and ``duration`` may be estimates for some formats)."""

    path: str
    fps: float
    num_frames: int
    duration: float
    width: int
    height: int

    def frames_at(self, fps: float) -> int:
        """Frames the reader yields at ``fps`` (from the container's duration; decoding is authoritative)."""
        return math.ceil(self.duration * fps - EPS)


def _open(path: str | Path):
    import av

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: video file not found")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable video ({exc})") from None
    if not container.streams.video:
        container.close()
        raise DataError(f"{path}: no video stream (an audio-only or data file?)")
    if container.format.name in IMAGE_FORMATS or container.format.name.endswith("_pipe"):
        kind = container.format.name
        container.close()
        raise DataError(f"{path}: a still image ({kind}), not a video: only video files are read")
    return container


def probe(path: str | Path) -> VideoInfo:
    """Metadata of the first video stream."""
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        fps = float(rate)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frames = stream.frames or round(duration * fps)
        if fps <= 0 or duration <= 0 or frames <= 0:
            raise DataError(f"{path}: the video stream reports no frames (fps {fps}, duration {duration} s)")
        return VideoInfo(str(path), fps, int(frames), duration, stream.codec_context.width, stream.codec_context.height)


def output_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) after scaling the shorter side to ``short_side`` (None: unchanged), keeping the aspect."""
    if short_side is None:
        return width, height
    scale = short_side / min(width, height)
    return max(short_side, round(width * scale)), max(short_side, round(height * scale))


def centre_crop(frame: np.ndarray, size: int | None) -> np.ndarray:
    """The central ``size`` x ``size`` window of an [H, W, 3] frame (None: unchanged)."""
    if size is None:
        return frame
    h, w = frame.shape[:2]
    if size > min(h, w):
        raise DataError(f"centre crop {size} is larger than the frame ({w}x{h}); resize the shorter side first")
    top, left = (h - size) // 2, (w - size) // 2
    return frame[top : top + size, left : left + size]


def iter_frames(
    path: str | Path,
    fps: float | None = None,
    short_side: int | None = None,
    crop: int | None = None,
    start: float = 0.0,
    end: float | None = None,
) -> Iterator[np.ndarray]:
    """RGB frames [H, W, 3] uint8 at ``fps`` (None: every decoded frame) from ``start`` to ``end`` seconds (relative
    to the first frame), the shorter side scaled to ``short_side`` and centre-cropped to ``crop``."""
    import av

    if fps is not None and fps <= 0:
        raise DataError(f"fps must be positive, got {fps}")
    container = _open(path)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    count = 0
    try:
        if start > 0:
            container.seek(int(start / stream.time_base), stream=stream, backward=True, any_frame=False)
        for frame in resample_frames(container.decode(stream), stream, fps, short_side, crop, start, end):
            count += 1
            yield frame
    except av.FFmpegError as exc:
        raise DataError(f"{path}: decoding failed ({exc})") from None
    finally:
        container.close()
    if count == 0:
        raise DataError(f"{path}: no decodable frame in [{start}, {end}] s")


def resample_frames(
    decoded: Iterable,
    stream,
    fps: float | None,
    short_side: int | None,
    crop: int | None,
    start: float = 0.0,
    end: float | None = None,
) -> Iterator[np.ndarray]:
    """`iter_frames`' frames from PyAV frames ``decoded`` of the video ``stream`` (a file's or a live source's):
    sample and hold at ``fps`` by presentation time; a frame is yielded once a later one shows it is due (or the
    frames end: the last lasts `frame_period`)."""
    width, height = output_size(stream.codec_context.width, stream.codec_context.height, short_side)
    t0: float | None = None
    held, held_image, held_time, k = None, None, 0.0, 0
    recent: deque[float] = deque(maxlen=PERIOD_WINDOW)  # the last frames' timestamps

    def image(frame) -> np.ndarray:
        return centre_crop(frame.to_ndarray(format="rgb24", width=width, height=height), crop)

    def due(k: int) -> float:
        return start + k / fps

    for frame in decoded:
        if frame.time is None:
            continue
        if t0 is None:
            t0 = 0.0 if start > 0 else frame.time  # after a seek, times stay absolute
        t = frame.time - t0
        if end is not None and t >= end + EPS and held is not None:
            break
        if fps is None:
            if t + EPS >= start:
                yield image(frame)
            continue
        while held is not None and due(k) < t - EPS and (end is None or due(k) < end - EPS):
            if held_image is None:  # converted once, and only when it is shown (dropped frames cost nothing)
                held_image = image(held)
            yield held_image
            k += 1
        recent.append(t)
        held, held_image, held_time = frame, None, t
    period = frame_period(recent, stream)
    stop = held_time + period if end is None else min(end, held_time + period)
    while fps is not None and held is not None and due(k) < stop - EPS:
        held_image = image(held) if held_image is None else held_image
        yield held_image
        k += 1


def frame_period(times: Iterable[float], stream) -> float:
    """The period of frames shown at ``times`` (seconds, ascending): the median interval between them, so that a
    skipped frame (an interval of two periods) does not count; the ``stream``'s nominal rate without two times."""
    intervals = np.diff(np.fromiter(times, float))
    intervals = intervals[intervals > 0]
    if len(intervals):
        return float(np.median(intervals))
    return 1.0 / float(stream.average_rate or stream.guessed_rate or 25)


def read_clip(
    path: str | Path, start: float, num_frames: int, fps: float, short_side: int | None = None, crop: int | None = None
) -> np.ndarray:
    """``num_frames`` frames [T, H, W, 3] at ``fps`` starting at ``start`` seconds (frame-accurate: seek to the
    previous keyframe, decode forward). A clip running past the end repeats the last frame."""
    out = []
    for frame in iter_frames(path, fps, short_side, crop, start=start, end=start + num_frames / fps):
        out.append(frame)
        if len(out) == num_frames:
            break
    while len(out) < num_frames:
        out.append(out[-1])
    return np.stack(out)


def frame_chunks(
    path: str | Path,
    fps: float | None,
    short_side: int | None,
    crop: int | None,
    chunk: int,
    prefetch: int = 2,
) -> Iterator[np.ndarray]:
    """The frames of `iter_frames` as arrays [n, H, W, 3] of ``chunk`` consecutive frames (the last one shorter),
    decoded, resized and copied into place on a background thread. PyAV decodes and scales without holding the GIL,
    so this overlaps the consumer's work; memory holds at most ``prefetch + 2`` chunks. Errors (`DataError`)
    are raised here, in the consumer; a consumer that stops early stops the thread."""
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    ready: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            buffer, n = None, 0
            for frame in iter_frames(path, fps, short_side, crop):
                if buffer is None:
                    buffer = np.empty((chunk, *frame.shape), np.uint8)
                buffer[n] = frame
                n += 1
                if n == chunk:
                    if not put(buffer):
                        return
                    buffer, n = None, 0
            if n and not put(buffer[:n]):
                return
            put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    worker = threading.Thread(target=decode, name=f"decode {Path(path).name}", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def find_videos(path: str | Path) -> list[Path]:
    """``path`` itself, or the video files of a folder (by suffix, sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: no such video file or folder")
    # a dangling link is kept: it fails to open and is listed among the failures instead of vanishing
    videos = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and (p.is_file() or p.is_symlink()))
    if not videos:
        raise DataError(f"{path}: no video files ({', '.join(VIDEO_SUFFIXES)})")
    return videos


def video_file(folder: Path | None, video: str) -> Path | None:
    """``folder/<video>.<suffix>`` for the first video suffix with such a file, else None."""
    if folder is None:
        return None
    for suffix in VIDEO_SUFFIXES:
        path = folder / f"{video}{suffix}"
        if path.is_file():
            return path
    return None
