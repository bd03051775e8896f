"""`actionline.load(...)` beyond features of a segmentation run: `predict_video` (a video file extracted with the
run's recorded settings) and `predict` of a detection run (the detections as a timeline)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import actionline
from actionline.cli import main
from actionline.data.detection import DetectionData
from actionline.data.synthetic.features import synthesize_detection
from actionline.engine.package import package_run
from actionline.errors import ConfigError
from actionline.timeline import load_timelines


def test_predict_video_gives_the_timeline_of_the_videos_extracted_features(tmp_path, video_run):
    """Real MP4s -> EfficientNet-Lite0 features -> a small MS-TCN; `predict_video` on a file equals `predict` on
    the features `actionline extract` wrote for it, from the run and from its package."""
    data, run = video_run
    package_run(run, tmp_path / "pkg", latency_length=64)
    video = sorted((data / "videos").glob("*.mp4"))[-1]
    features = np.load(data / "features" / f"{video.stem}.npy")
    loaded = actionline.load(run)
    assert loaded.extraction is not None and loaded.extraction.backbone == "efficientnet_lite0"
    timeline = loaded.predict_video(video)
    assert timeline == loaded.predict(features, video.stem)
    assert timeline.video == video.stem and timeline.fps == 4.0
    assert timeline.num_frames == len((data / "groundTruth" / f"{video.stem}.txt").read_text().split())
    assert actionline.load(tmp_path / "pkg").predict_video(video) == timeline
    # the backbone run by ONNX Runtime (its graph exported into the session's cache): the same features within 1e-4,
    # so the same segments, scores within 1e-3 (as `predict --video --extract-runtime onnxruntime`)
    ort = loaded.predict_video(video, extract_runtime="onnxruntime")
    assert (ort.video, ort.num_frames, ort.fps) == (timeline.video, timeline.num_frames, timeline.fps)
    assert [(s.start, s.end, s.label) for s in ort.segments] == [(s.start, s.end, s.label) for s in timeline.segments]
    assert [s.score for s in ort.segments] == pytest.approx([s.score for s in timeline.segments], abs=1e-3)
    with pytest.raises(ConfigError, match="extract_runtime must be one of torch, onnxruntime"):
        loaded.predict_video(video, extract_runtime="tvm")


@pytest.fixture(scope="module")
def detection_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("detection")
    data = synthesize_detection(root / "data", num_videos=8, num_classes=3, feature_dim=8, seed=2)
    small = ["--set", "model.num_snippets=16", "--set", "model.heads=1", "--set", "train.val_fraction=0"]
    args = ["train", "--model", "actionness", "--data", str(data), "--out", str(root / "run"), "--epochs", "1"]
    assert main([*args, *small]) == 0
    return data, root / "run"


def test_a_detection_run_predicts_its_detections_as_a_timeline(detection_run, tmp_path):
    data, run = detection_run
    assert main(["predict", "--run", str(run), "--data", str(data), "--out", str(tmp_path / "pred")]) == 0
    written = {t.video: t for t in load_timelines(tmp_path / "pred" / "timelines.json")}
    results = json.loads((tmp_path / "pred" / "results.json").read_text())["results"]
    dataset = DetectionData(data)
    loaded = actionline.load(run)
    assert loaded.task == "detection"
    for video in written:
        timeline = loaded.predict(np.load(data / "features" / f"{video}.npy"), video, duration=dataset.duration(video))
        assert timeline == written[video]  # the form `predict` writes: 100 frames per second, scored segments
        assert len(timeline.segments) == len(results[video]) > 0
        assert all(s.score is not None for s in timeline.segments)


def test_a_detection_run_without_recorded_timing_needs_the_duration(detection_run):
    data, run = detection_run
    features = np.load(sorted((data / "features").glob("*.npy"))[0])
    with pytest.raises(ConfigError, match="give the video's duration in seconds"):
        actionline.load(run).predict(features)
    with pytest.raises(ConfigError, match=r"features must be a matrix"):
        actionline.load(run).predict(features[0])


def test_static_int8_of_a_detection_run_calibrates_on_its_training_clips(detection_run, tmp_path, capsys):
    data, run = detection_run
    args = ["export-model", "--run", str(run), "--quantize", "int8-static"]
    assert main([*args, "--out", str(tmp_path / "int8.onnx"), "--calibration-videos", "3"]) == 0
    assert "calibrated on 3 inputs of the training data" in capsys.readouterr().err
    moved = data.with_name("moved")
    data.rename(moved)  # the run's training data is no longer where it recorded it
    try:
        assert main([*args, "--out", str(tmp_path / "other.onnx")]) == 2
    finally:
        moved.rename(data)
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --quantize int8-static calibrates on the run's training data, which is no longer")
    assert not (tmp_path / "other.onnx").exists()
