"""A seeded synthetic *video* segmentation dataset: real H.264 MP4 files (written with PyAV) whose frames show one
of a few activities, with frame labels in the MS-TCN layout. It gives an offline path from video files through a
real pretrained backbone to a trained model and back (`make demo`, tests).

Activities (each a distinct look a pretrained network can tell apart): ``background`` (a still grey scene),
``slide`` (a red disc moving left to right), ``bounce`` (a blue square moving up and down), ``blink`` (a yellow
frame flashing), ``grow`` (a green disc growing). A video is a random sequence of 3-6 segments of 1-4 s. Labels are
per frame at the video's frame rate, which is also the rate features should be extracted at (``--fps``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from actionline.data.layout import DatasetInfo, write_info, write_labels, write_mapping, write_split
from actionline.data.synthetic.features import require_positive, require_settings

ACTIVITIES = ("background", "slide", "bounce", "blink", "grow")


def render(activity: int, t: np.ndarray, size: int, rng_phase: float) -> np.ndarray:
    """Frames [len(t), size, size, 3] uint8 of one activity at times ``t`` (seconds from the segment start)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    frames = np.full((len(t), size, size, 3), 90, dtype=np.uint8)
    for i, ti in enumerate(t):
        phase = ti + rng_phase
        if activity == 1:  # slide: red disc, left to right
            cx = (phase * 0.35) % 1.0
            frames[i][((xx - cx) ** 2 + (yy - 0.5) ** 2) < 0.02] = (220, 40, 40)
        elif activity == 2:  # bounce: blue square, up and down
            cy = 0.5 + 0.35 * np.sin(2 * np.pi * 0.8 * phase)
            frames[i][(np.abs(xx - 0.5) < 0.12) & (np.abs(yy - cy) < 0.12)] = (40, 60, 220)
        elif activity == 3:  # blink: yellow border flashing at 2 Hz
            if int(phase * 4) % 2 == 0:
                border = (xx < 0.15) | (xx > 0.85) | (yy < 0.15) | (yy > 0.85)
                frames[i][border] = (230, 210, 40)
        elif activity == 4:  # grow: green disc, radius cycling
            radius = 0.05 + 0.3 * ((phase * 0.5) % 1.0)
            frames[i][((xx - 0.5) ** 2 + (yy - 0.5) ** 2) < radius**2] = (40, 200, 70)
    return frames


def write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    """Encode [T, H, W, 3] uint8 frames as H.264 (yuv420p) at ``fps``; the same frames give the same file.

    x264's assembly routines read memory that PyAV leaves uninitialised (the padding of the frames' rows), so with
    them the same frames encoded to slightly different pictures from run to run: a few files of every synthetic
    dataset, and the benchmarks trained on them, differed between identical runs. The portable C routines
    (``asm=0``) take about twice as long here and give the same file every time."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast", "x264-params": "asm=0"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)


def synthesize_video_segmentation(
    out: str | Path,
    *,
    num_videos: int = 12,
    fps: float = 15.0,
    size: int = 128,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``out/videos/*.mp4`` and the MS-TCN layout around them (``groundTruth/``, ``mapping.txt``, one
    train/test split). ``actionline extract out/videos --out out --fps <fps>`` then adds ``features/``."""
    require_settings(num_videos=(num_videos, 2), size=(size, 32))
    require_positive(fps=fps)
    out = Path(out)
    rng = np.random.default_rng(seed)
    names = [f"video_{i:03d}" for i in range(num_videos)]
    for i, name in enumerate(names):
        labels, frames = [], []
        for _ in range(int(rng.integers(3, 7))):
            activity = int(rng.integers(len(ACTIVITIES)))
            n = round(rng.uniform(1.0, 4.0) * fps)
            frames.append(render(activity, np.arange(n) / fps, size, float(rng.uniform(0, 10))))
            labels += [ACTIVITIES[activity]] * n
        write_video(out / "videos" / f"{name}.mp4", np.concatenate(frames), fps)
        write_labels(out / "groundTruth" / f"{name}.txt", labels)
        if progress is not None:
            progress(i + 1, num_videos)
    write_mapping(out, ACTIVITIES)
    test = max(1, num_videos // 4)
    write_split(out, "train", 1, names[:-test])
    write_split(out, "test", 1, names[-test:])
    write_info(out, DatasetInfo("synthetic-video", sample_rate=1, num_splits=1, background=("background",), fps=fps))
    return out
