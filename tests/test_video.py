"""Video decoding, feature extraction and prediction from video files, on videos written here with PyAV (whose
content encodes the frame index) and on the two real clips in ../shared/data/videos."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from actionline.cli import main
from actionline.data.video import iter_frames, probe, read_clip
from actionline.errors import DataError
from conftest import shared


def write_indexed_video(path: Path, times: list[float], size: int = 32, time_base=Fraction(1, 30000)) -> None:
    """One frame per presentation time in ``times`` (seconds); frame i is a flat grey of level 4 i (mod 256), so a
    decoded frame tells which source frame it is. Variable frame rates come from irregular times."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.options = {"crf": "0", "preset": "ultrafast"}
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), (4 * i) % 256, np.uint8), format="rgb24")
            frame.pts = round(t / time_base)
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def source_index(frame: np.ndarray) -> int:
    return round(float(frame.mean()) / 4)


@pytest.mark.parametrize("height, width", [(56, 72), (48, 64)])
def test_synthetic_videos_encode_identically_every_time(tmp_path, height, width):
    """The same frames give the same file in a fresh process and in this one after other videos (x264's assembly
    routines read uninitialised memory: a fresh process has zeroed pages, a used one does not)."""
    from actionline.data.synthetic.video import write_video

    rng = np.random.default_rng(0)
    ramp = np.linspace(40, 200, width)[None, None, :, None] + rng.normal(0, 8, (32, height, width, 3))
    frames = np.clip(ramp, 0, 255).astype(np.uint8)
    np.save(tmp_path / "frames.npy", frames)
    fresh = (
        "import sys, pathlib, numpy as np; from actionline.data.synthetic.video import write_video; "
        "write_video(pathlib.Path(sys.argv[2]), np.load(sys.argv[1]), 10)"
    )
    subprocess.run([sys.executable, "-c", fresh, str(tmp_path / "frames.npy"), str(tmp_path / "fresh.mp4")], check=True)
    files = [(tmp_path / "fresh.mp4").read_bytes()]
    for i in range(3):
        write_video(tmp_path / "other.mp4", rng.integers(0, 256, frames.shape, dtype=np.uint8), 10)  # used memory
        write_video(tmp_path / f"{i}.mp4", frames, 10)
        files.append((tmp_path / f"{i}.mp4").read_bytes())
    assert [f == files[0] for f in files] == [True] * len(files)
    decoded = np.stack(list(iter_frames(tmp_path / "0.mp4")))
    assert decoded.shape == frames.shape and np.abs(decoded.astype(int) - frames).mean() < 10  # the picture itself


@pytest.mark.parametrize("rate", [Fraction(30000, 1001), Fraction(25)])
def test_resampling_by_timestamps_is_exact(tmp_path, rate):
    """At 15 fps, output frame k is the source frame shown at k / 15 s (29.97 and 25 fps sources)."""
    times = [float(i / rate) for i in range(30)]
    write_indexed_video(tmp_path / "v.mp4", times, time_base=Fraction(1, 30000))
    frames = list(iter_frames(tmp_path / "v.mp4", fps=15))
    duration = times[-1] + float(1 / rate)
    assert len(frames) == int(np.ceil(duration * 15 - 1e-6))
    expected = [max(i for i, t in enumerate(times) if t <= k / 15 + 1e-6) for k in range(len(frames))]
    assert [source_index(f) for f in frames] == expected


def test_variable_frame_rate(tmp_path):
    times = [0.0, 0.05, 0.3, 0.31, 0.7, 1.0, 1.02, 1.5]
    write_indexed_video(tmp_path / "vfr.mp4", times)
    frames = list(iter_frames(tmp_path / "vfr.mp4", fps=10))
    expected = [max(i for i, t in enumerate(times) if t <= k / 10 + 1e-6) for k in range(len(frames))]
    assert [source_index(f) for f in frames] == expected


@pytest.mark.parametrize("fps", [10, 30])
def test_a_skipped_frame_does_not_lengthen_the_video(tmp_path, fps):
    """A 2 s video at 30 fps whose frame 30 never decodes (a damaged frame a decoder skips) still lasts 2 s: the
    last frame lasts the frame period its timestamps show, not the span over one frame fewer."""
    times = [i / 30 for i in range(60)]
    write_indexed_video(tmp_path / "whole.mp4", times)
    write_indexed_video(tmp_path / "gap.mp4", times[:30] + times[31:])
    whole = [source_index(f) for f in iter_frames(tmp_path / "whole.mp4", fps=fps)]
    gap = [source_index(f) for f in iter_frames(tmp_path / "gap.mp4", fps=fps)]
    assert len(whole) == len(gap) == 2 * fps
    assert gap == [i if i < 30 else max(i - 1, 29) for i in whole]  # indices in gap.mp4: the frame before is held


def test_clip_reads_are_frame_accurate_and_resize_crop(tmp_path):
    write_indexed_video(tmp_path / "v.mp4", [i / 30 for i in range(60)], size=48)
    clip = read_clip(tmp_path / "v.mp4", start=1.0, num_frames=4, fps=10)
    assert [source_index(f) for f in clip] == [30, 33, 36, 39]
    assert read_clip(tmp_path / "v.mp4", 1.0, 4, 10, short_side=40, crop=32).shape == (4, 32, 32, 3)
    tail = read_clip(tmp_path / "v.mp4", start=1.9, num_frames=3, fps=10)
    assert [source_index(f) for f in tail] == [57, 57, 57]  # past the end: the last frame repeats


def test_real_clips_metadata_and_frame_counts():
    bikes, bunny = shared("videos", "bikes.mp4"), shared("videos", "bigbuckbunny.mp4")
    info = probe(bikes)
    assert (info.width, info.height, info.num_frames, info.duration) == (640, 272, 250, 10.0)
    assert sum(1 for _ in iter_frames(bikes, fps=15)) == 150 == info.frames_at(15)  # a 10 s clip at 15 fps
    frames = list(iter_frames(bunny, fps=5, short_side=64, crop=56))  # 720p with an audio stream
    assert len(frames) == probe(bunny).frames_at(5) and frames[0].shape == (56, 56, 3)


def bad_videos(folder: Path) -> dict[str, str]:
    """A corpus of files that are not decodable videos -> the words their error must contain."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "random.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.avi").write_text("not a video")
    with av.open(str(folder / "audio.mp4"), "w") as container:  # audio only
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    good = folder / "ok.mp4"
    write_indexed_video(good, [i / 30 for i in range(30)])
    (folder / "truncated.mp4").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    return {"random.mp4": "random.mp4", "empty.mp4": "empty.mp4", "text.avi": "text.avi", "audio.mp4": "audio"}


def test_undecodable_files_give_errors_naming_them(tmp_path):
    for name, words in bad_videos(tmp_path).items():
        with pytest.raises(DataError, match=words):
            list(iter_frames(tmp_path / name, fps=10))


def test_extract_a_folder_goes_on_past_bad_files_and_lists_them(tmp_path, capsys):
    bad_videos(tmp_path / "in")
    code = main(["extract", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--fps", "5"])
    err = capsys.readouterr().err
    assert code == 2 and "could not be decoded" in err
    for name in ("random.mp4", "empty.mp4", "text.avi", "audio.mp4"):
        assert name in err
    assert (tmp_path / "out" / "features" / "ok.npy").is_file()
    assert np.load(tmp_path / "out" / "features" / "ok.npy").shape == (1280, 5)  # 1 s at 5 fps, per-frame 1280-d


def test_extract_real_clips_gives_a_vector_per_frame_at_the_chosen_fps(tmp_path):
    folder = shared("videos")
    assert main(["extract", str(folder), "--out", str(tmp_path), "--fps", "3", "--batch-size", "8"]) == 0
    assert np.load(tmp_path / "features" / "bikes.npy").shape == (1280, 30)  # 10 s at 3 fps
    assert np.load(tmp_path / "features" / "bigbuckbunny.npy").shape == (1280, 16)  # 5.28 s at 3 fps
    settings = json.loads((tmp_path / "extraction.json").read_text())
    assert settings["backbone"] == "efficientnet_lite0" and settings["weights"].startswith("packaged:")
    assert main(["extract", str(folder), "--out", str(tmp_path), "--fps", "4"]) == 2  # other settings: refused


def test_detection_layout_writes_snippets_and_timing(tmp_path):
    write_indexed_video(tmp_path / "v" / "a.mp4", [i / 30 for i in range(90)])  # 3 s
    args = ["extract", str(tmp_path / "v"), "--out", str(tmp_path / "d"), "--fps", "10", "--window", "4"]
    assert main([*args, "--stride", "5", "--layout", "detection"]) == 0
    features = np.load(tmp_path / "d" / "features" / "a.npy")
    assert features.shape == (6, 1280)  # 30 frames, a snippet every 5
    assert json.loads((tmp_path / "d" / "features" / "a.json").read_text()) == {
        "fps": 10.0,
        "stride": 5,
        "window": 4,
        "offset": 0.0,
    }


def _extract_cmd(source: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "actionline", "extract", str(source), "--out", str(out), "--fps", "10"]


@pytest.fixture(scope="module")
def three_videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("three")
    for name in ("a", "b", "c"):
        write_indexed_video(folder / f"{name}.mp4", [i / 30 for i in range(60 + 15 * ord(name[0]) % 30)])
    return folder


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "features").iterdir())}


def test_killed_extraction_resumes_to_identical_files(three_videos, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_extract_cmd(three_videos, tmp_path / "whole"), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(_extract_cmd(three_videos, tmp_path / "killed"), env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "killed" / "features" / "a.npy").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list((tmp_path / "killed" / "features").glob("*.npy"))) < 3  # it really stopped half-way
    subprocess.run(_extract_cmd(three_videos, tmp_path / "killed"), check=True, env=env, capture_output=True)
    assert _files(tmp_path / "killed") == _files(tmp_path / "whole")


def test_torchrun_shards_write_the_files_of_one_process(three_videos, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_extract_cmd(three_videos, tmp_path / "one"), check=True, env=env, capture_output=True)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "actionline", "extract"]
    cmd += [str(three_videos), "--out", str(tmp_path / "two"), "--fps", "10"]
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    assert _files(tmp_path / "two") == _files(tmp_path / "one")


def test_predict_video_end_to_end(tmp_path, capsys, monkeypatch):
    """Real MP4s -> EfficientNet-Lite0 features -> MS-TCN -> predict --video on a held-out file."""
    data = tmp_path / "data"
    assert main(["synth", "videos", "--out", str(data), "--num-videos", "5", "--size", "48", "--fps", "5"]) == 0
    assert main(["extract", str(data / "videos"), "--out", str(data), "--fps", "5"]) == 0
    small = ["--set", "model.num_stages=1", "--set", "model.num_layers=4", "--set", "model.num_f_maps=16"]
    run = tmp_path / "run"
    assert main(["train", "--model", "mstcn", "--data", str(data), "--out", str(run), "--epochs", "3", *small]) == 0
    video = sorted((data / "videos").glob("*.mp4"))[-1]
    out = tmp_path / "pred"
    assert main(["predict", "--run", str(run), "--video", str(video), "--out", str(out)]) == 0
    timelines = json.loads((out / "timelines.json").read_text())["timelines"]
    labels = (data / "groundTruth" / f"{video.stem}.txt").read_text().split()
    assert timelines[0]["num_frames"] == len(labels)
    for name in ("timelines.csv", "timelines.png", f"srt/{video.stem}.srt", video.stem):
        assert (out / name).is_file(), name
    # the same features through --data give the same labels
    assert main(["predict", "--run", str(run), "--data", str(data), "--out", str(tmp_path / "p2")]) == 0
    assert (out / video.stem).read_text() == (tmp_path / "p2" / video.stem).read_text()
    # a prediction that fails while writing its outputs leaves the previous ones (and the features) as they were
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken_plot(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("actionline.tasks.segmentation.plot_timelines", broken_plot)
    assert main(["predict", "--run", str(run), "--video", str(video), "--out", str(out)]) != 0
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_predict_video_needs_a_run_that_knows_its_features(tmp_path, toy_data, capsys):
    run = tmp_path / "run"
    small = ["--set", "model.num_stages=1", "--set", "model.num_layers=2", "--set", "model.num_f_maps=8"]
    assert main(["train", "--model", "mstcn", "--data", str(toy_data), "--out", str(run), "--epochs", "1", *small]) == 0
    write_indexed_video(tmp_path / "v.mp4", [i / 30 for i in range(30)])
    capsys.readouterr()
    assert main(["predict", "--run", str(run), "--video", str(tmp_path / "v.mp4"), "--out", str(tmp_path / "o")]) == 2
    assert "does not record how its features were extracted" in capsys.readouterr().err
    assert main(["predict", "--run", str(run), "--out", str(tmp_path / "o")]) == 2  # neither --data nor --video


def test_without_weights_a_clip_backbone_needs_the_random_weights_opt_in(tmp_path, capsys):
    write_indexed_video(tmp_path / "v" / "a.mp4", [0.0], size=32)  # one frame: one window
    args = ["extract", str(tmp_path / "v"), "--fps", "10", "--window", "16", "--batch-size", "1"]
    assert main([*args, "--out", str(tmp_path / "o"), "--backbone", "i3d_rgb"]) == 2
    assert "--weights" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert main([*args, "--out", str(tmp_path / "o"), "--backbone", "i3d_rgb", "--random-weights"]) == 0
    assert "RANDOM" in capsys.readouterr().err
    assert np.load(tmp_path / "o" / "features" / "a.npy").shape == (1024, 1)
    assert main([*args, "--out", str(tmp_path / "f"), "--backbone", "i3d_flow", "--random-weights"]) == 2  # flow
    assert "TV-L1" in capsys.readouterr().err


def test_predict_video_detects_with_a_detection_run(tmp_path):
    """Videos -> snippet features (detection layout) -> actionness -> predict --video gives detections in seconds."""
    from actionline.timeline import runs

    data = tmp_path / "data"
    assert main(["synth", "videos", "--out", str(data), "--num-videos", "4", "--size", "48", "--fps", "5"]) == 0
    classes = (data / "mapping.txt").read_text().split()[1::2]
    database = {}
    for i, path in enumerate(sorted((data / "groundTruth").glob("*.txt"))):
        labels = np.array([classes.index(n) for n in path.read_text().split()])
        starts, ends, values = runs(labels)
        instances = [
            {"segment": [s / 5, e / 5], "label": classes[v]} for s, e, v in zip(starts, ends, values, strict=True) if v
        ]
        subset = "training" if i < 3 else "validation"
        database[path.stem] = {"duration": len(labels) / 5, "subset": subset, "annotations": instances}
    (data / "annotations.json").write_text(json.dumps({"database": database}))
    extract = ["extract", str(data / "videos"), "--out", str(data), "--fps", "5", "--layout", "detection"]
    assert main([*extract, "--window", "4", "--stride", "2"]) == 0
    run = tmp_path / "run"
    small = ["--set", "model.num_snippets=16", "--set", "model.heads=1", "--set", "train.val_fraction=0"]
    assert (
        main(["train", "--model", "actionness", "--data", str(data), "--out", str(run), "--epochs", "2", *small]) == 0
    )
    video = sorted((data / "videos").glob("*.mp4"))[-1]
    out = tmp_path / "pred"
    assert main(["predict", "--run", str(run), "--video", str(video), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())["results"][video.stem]
    duration = np.load(out / "features" / f"{video.stem}.npy").shape[0] * 2 / 5  # whole snippets (stride 2, 5 fps)
    assert abs(duration - database[video.stem]["duration"]) <= 2 / 5  # at most one snippet (stride 2 at 5 fps)
    assert results and all(0 <= r["segment"][0] < r["segment"][1] <= duration + 1e-6 for r in results)
    assert (out / "timelines.csv").is_file()
