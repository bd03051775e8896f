"""``dataset build``: real MP4s + a Label Studio export -> the MS-TCN layout / ActivityNet JSON; and the loop back
to the tool (train, predict --video --format labelstudio, read as Label Studio predictions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from actionline.cli import main
from actionline.data.annotations import read_annotation_file
from actionline.data.synthetic.video import synthesize_video_segmentation
from actionline.engine.dataset_builder import BuildSettings, build_dataset
from actionline.errors import DataError
from actionline.timeline import load_timelines, runs

FPS = 5.0


def label_studio_export(ground_truth: Path, fps: float) -> list[dict]:
    """What Label Studio exports for videos labelled as in ``ground_truth`` (ranges: first and last frame from 1)."""
    tasks = []
    for k, path in enumerate(sorted(ground_truth.glob("*.txt"))):
        names = np.array(path.read_text().split())
        starts, ends, values = runs(names)
        result = [
            {
                "value": {"ranges": [{"start": int(b) + 1, "end": int(e)}], "timelinelabels": [str(v)]},
                "id": f"r{k}_{i}",
                "from_name": "videoLabels",
                "to_name": "video",
                "type": "timelinelabels",
                "origin": "manual",
            }
            for i, (b, e, v) in enumerate(zip(starts, ends, values, strict=True))
            if v != "background"
        ]
        tasks.append(
            {
                "id": 100 + k,
                "data": {"video": f"/data/local-files/?d=clips/{path.stem}.mp4", "fps": fps},
                "annotations": [{"id": k, "result": result, "was_cancelled": False}],
            }
        )
    return tasks


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("labelled")
    synthesize_video_segmentation(root / "synth", num_videos=3, fps=FPS, size=48, seed=3)
    videos = root / "videos"
    shutil.copytree(root / "synth" / "videos", videos)
    shutil.copy(videos / "video_000.mp4", videos / "not_labelled.mp4")
    tasks = label_studio_export(root / "synth" / "groundTruth", FPS)
    ghost = json.loads(json.dumps(tasks[0]))
    ghost["data"]["video"] = "/data/local-files/?d=clips/ghost.mp4"
    (root / "export.json").write_text(json.dumps([*tasks, ghost]))
    return root


@pytest.fixture(scope="module")
def built(labelled, tmp_path_factory):
    """One extraction for the module: later builds into a copy resume it (complete videos are skipped)."""
    out = tmp_path_factory.mktemp("built") / "data"
    settings = BuildSettings(fps=FPS, test_fraction=0.25, seed=1)
    return out, build_dataset(labelled / "videos", labelled / "export.json", out, settings=settings)


def features_of(built_dir: Path, out: Path) -> Path:
    out.mkdir(parents=True)
    shutil.copytree(built_dir / "features", out / "features")
    shutil.copy(built_dir / "extraction.json", out / "extraction.json")
    return out


def test_build_segmentation_dataset_from_label_studio(labelled, built, tmp_path):
    out, summary = built
    assert summary.videos == [f"video_{i:03d}" for i in range(3)]
    for v in summary.videos:  # features at the videos' own rate: every frame keeps its label
        got = (out / "groundTruth" / f"{v}.txt").read_text().split()
        assert got == (labelled / "synth" / "groundTruth" / f"{v}.txt").read_text().split()
        assert np.load(out / "features" / f"{v}.npy").shape[1] == len(got)
    assert (out / "mapping.txt").read_text().splitlines()[0] == "0 background"
    assert any("not_labelled" in s and "without annotations" in s for s in summary.skipped)
    assert any("ghost" in s and "no video" in s for s in summary.skipped)
    split = summary.splits[0]
    assert len(split["test"]) == 1 and sorted(split["train"] + split["test"]) == summary.videos
    bundle = (out / "splits" / "test.split1.bundle").read_text().split()
    assert bundle == [f"{v}.txt" for v in split["test"]]
    frames = sum(len((out / "groundTruth" / f"{v}.txt").read_text().split()) for v in summary.videos)
    assert sum(summary.per_class.values()) == frames
    assert json.loads((out / "summary.json").read_text())["videos"] == summary.videos
    # the same seed gives the same split; folds test every video once
    again = features_of(out, tmp_path / "again")
    folds = build_dataset(
        labelled / "videos", labelled / "export.json", again, settings=BuildSettings(fps=FPS, splits=2)
    )
    assert sorted(v for s in folds.splits for v in s["test"]) == summary.videos


def test_build_detection_dataset(labelled, tmp_path):
    out = tmp_path / "det"
    settings = BuildSettings(task="detection", fps=FPS, window=1, stride=4)
    summary = build_dataset(labelled / "videos", labelled / "export.json", out, settings=settings)
    db = json.loads((out / "annotations.json").read_text())["database"]
    assert sorted(db) == summary.videos
    first = read_annotation_file(labelled / "export.json").by_video()["video_000"]
    assert [a["segment"] for a in db["video_000"]["annotations"]] == [
        [first.seconds(s.start), first.seconds(s.end)] for s in first.segments
    ]
    assert {a["subset"] for a in db.values()} == {"training", "validation"}
    assert json.loads((out / "features" / "video_000.json").read_text())["stride"] == 4
    run = tmp_path / "run"  # train reads the built folder unchanged
    assert main(["train", "--model", "actionness", "--data", str(out), "--out", str(run), "--epochs", "2"]) == 0


def test_overlaps_are_an_error_unless_prioritised(labelled, built, tmp_path):
    tasks = json.loads((labelled / "export.json").read_text())
    result = tasks[0]["annotations"][0]["result"]
    result.append(
        {
            "type": "timelinelabels",
            "id": "extra",
            "value": {"ranges": [{"start": 1, "end": 3}], "timelinelabels": ["wave"]},
        }
    )
    first = result[0]["value"]
    if first["ranges"][0]["start"] > 3:  # make sure the extra segment overlaps another one
        first["ranges"][0]["start"] = 2
    path = tmp_path / "overlap.json"
    path.write_text(json.dumps(tasks))
    with pytest.raises(DataError, match=r"video video_000: segments .* overlap; give a priority order"):
        build_dataset(labelled / "videos", path, tmp_path / "x", settings=BuildSettings(fps=FPS))
    assert not (tmp_path / "x").exists()  # nothing written: the check comes before extraction
    labels = sorted({r["value"]["timelinelabels"][0] for r in result} - {"wave"})
    y = features_of(built[0], tmp_path / "y")
    summary = build_dataset(labelled / "videos", path, y, settings=BuildSettings(fps=FPS, priority=("wave", *labels)))
    assert (tmp_path / "y" / "groundTruth" / "video_000.txt").read_text().split()[:3] == ["wave"] * 3
    assert "wave" in summary.classes


def test_labels_after_the_video_end_name_the_file_and_segment(labelled, built, tmp_path):
    tasks = json.loads((labelled / "export.json").read_text())
    late = tasks[1]["annotations"][0]["result"][0]
    late["value"]["ranges"] = [{"start": 1, "end": 100000}]
    tasks[1]["annotations"][0]["result"] = [late]
    path = tmp_path / "late.json"
    path.write_text(json.dumps(tasks))
    with pytest.raises(
        DataError, match=r"late.json: video video_001: segment .* 0.000-20000.000 s ends after the video"
    ):
        build_dataset(labelled / "videos", path, tmp_path / "z", settings=BuildSettings(fps=FPS))
    assert not (tmp_path / "z").exists()


@pytest.mark.slow
def test_label_studio_loop_end_to_end(labelled, built, tmp_path, capsys):
    """Label Studio export + MP4s -> dataset build -> train -> predict --video --format labelstudio -> the file
    reads back as Label Studio predictions of the right video at the predicted times."""
    data = features_of(built[0], tmp_path / "data")  # the extraction resumes: its videos are complete
    build = ["dataset", "build", str(labelled / "videos"), "--annotations", str(labelled / "export.json")]
    assert main([*build, "--out", str(data), "--fps", str(FPS)]) == 0
    assert "3 videos, " in capsys.readouterr().err
    run = tmp_path / "run"
    small = ["--set", "model.num_stages=1", "--set", "model.num_layers=4", "--set", "model.num_f_maps=16"]
    assert main(["train", "--model", "mstcn", "--data", str(data), "--out", str(run), "--epochs", "3", *small]) == 0
    video = labelled / "videos" / "video_002.mp4"
    out = tmp_path / "pred"
    prefix = "/data/local-files/?d=clips/"
    predict = ["predict", "--run", str(run), "--video", str(video), "--out", str(out)]
    assert main([*predict, "--format", "labelstudio", "--media-prefix", prefix]) == 0
    tasks = json.loads((out / "labelstudio.json").read_text())
    assert [t["data"]["video"] for t in tasks] == [prefix + "video_002.mp4"]
    assert all(r["type"] == "timelinelabels" and r["to_name"] == "video" for r in tasks[0]["predictions"][0]["result"])
    (back,) = read_annotation_file(out / "labelstudio.json").timelines
    (predicted,) = load_timelines(out / "timelines.json")
    assert (back.video, back.fps) == ("video_002", FPS)
    expected = [(predicted.seconds(s.start), predicted.seconds(s.end), s.label) for s in predicted.segments]
    expected = [e for e in expected if e[2] != "background"]
    got = [(back.seconds(s.start), back.seconds(s.end), s.label) for s in back.segments]
    assert [g[2] for g in got] == [e[2] for e in expected] and expected
    assert np.allclose([g[:2] for g in got], [e[:2] for e in expected], atol=0.5 / FPS)


def test_cli_bad_annotations_exit_2_and_write_nothing(labelled, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"data": {"video": "a.mp4"}, "annotations": [{"result": [{"type": "timelinelabels"}]}]}]')
    out = tmp_path / "out"
    assert main(["dataset", "build", str(labelled / "videos"), "--annotations", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "bad.json: task 0, result 0: no value.ranges" in err[0]
    assert not out.exists()


def test_labels_with_spaces_are_renamed_for_the_mstcn_layout():
    from actionline.engine.dataset_builder import _without_spaces
    from actionline.timeline import Segment, Timeline

    t = Timeline("v", 10, [Segment(0, 4, "pour  water"), Segment(4, 10, "stir")], 5.0)
    renamed, names = _without_spaces({"v": t})
    assert [s.label for s in renamed["v"].segments] == ["pour_water", "stir"] and names == {"pour  water": "pour_water"}
    clash = Timeline("v", 10, [Segment(0, 4, "a b"), Segment(4, 10, "a_b")], 5.0)
    with pytest.raises(DataError, match=r"labels 'a b' and 'a_b' both become 'a_b'"):
        _without_spaces({"v": clash})


def test_a_video_that_cannot_be_read_is_listed_and_the_others_built(labelled, built, tmp_path):
    videos = tmp_path / "videos"
    shutil.copytree(labelled / "videos", videos)
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    tasks = json.loads((labelled / "export.json").read_text())
    broken = json.loads(json.dumps(tasks[0]))
    broken["data"]["video"] = "/data/upload/1/0a1b2c3d-broken.mp4"
    path = tmp_path / "export.json"
    path.write_text(json.dumps([*tasks, broken]))
    summary = build_dataset(videos, path, features_of(built[0], tmp_path / "out"), settings=BuildSettings(fps=FPS))
    assert summary.videos == built[1].videos
    assert any(s.startswith("broken: ") and "broken.mp4" in s for s in summary.skipped)
