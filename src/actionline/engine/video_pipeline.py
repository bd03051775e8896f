"""`predict --video` as a pipeline: decoding, feature extraction and the model run at the same time.

Three stages, each on its own thread, joined by bounded queues:

- decoding + resizing (`data.video.frame_chunks`): at most ``prefetch + 2`` chunks of frames exist at once, so the
  frames in memory never depend on the video's length;
- the backbone (`engine.extractor.extract`, on a background thread here): it writes each video's features to
  ``out/features`` and hands the video's name on (`AHEAD` names at most wait; beyond that it waits for the model);
- the model (the caller's thread): it reads a video's features as soon as they are written and segments it while
  the next video is extracted.

Memory is therefore a few chunks of frames plus the features of the video being extracted and of the one being
segmented (one hour at 15 fps of 1280-d EfficientNet-Lite0 features: 54,000 x 1280 x 4 B = 276 MB each). The
non-causal models need a video's every feature before their first output, so within one video the model follows
the extraction; across videos it overlaps it. The outputs are those of extracting everything first and then
predicting (tests/test_video_pipeline.py). Progress (frames/s and the time left) is the extractor's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

AHEAD = 2  # extracted videos waiting for the model, at most
_DONE = object()


def overlapped(extract: Callable[[Callable[[str], None]], object]) -> Iterator[str]:
    """The names ``extract(on_video)`` reports through ``on_video``, yielded while it still runs on a background
    thread; its exception is raised here, in the consumer. A consumer that stops early (or fails) stops the
    extraction at its next video without waiting for it (the current video's file is written completely or not at
    all)."""
    ready: queue.Queue = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()

    def put(item) -> None:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def on_video(name: str) -> None:
        put(name)

    def work() -> None:
        try:
            extract(on_video)
            put(_DONE)
        except _Stopped:
            return
        except BaseException as exc:  # handed to the consumer, raised there
            try:
                put(exc)
            except _Stopped:
                return

    worker = threading.Thread(target=work, name="extract", daemon=True)
    worker.start()
    finished = False
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                finished = True
                raise item
            yield item
        finished = True
    finally:
        stop.set()
        if finished:
            worker.join()
        # else (the consumer failed or stopped, Ctrl-C included) the thread is not waited for: it ends at its next
        # hand-over, which may be a whole video away, or with the process (a daemon)


class _Stopped(Exception):
    """The consumer went away: the extraction thread ends."""
