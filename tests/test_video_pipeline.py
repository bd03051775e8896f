"""`predict --video` as a pipeline (engine/video_pipeline.py): the model takes each video while the next is
extracted; the outputs are those of extracting everything first; the queue bounds how far extraction runs ahead."""

from __future__ import annotations

import threading
import time

import pytest

from actionline.cli import main
from actionline.engine import video_pipeline
from actionline.engine.video_pipeline import AHEAD, overlapped
from actionline.errors import DataError


def test_names_arrive_in_order():
    def extract(on_video):
        for name in "abc":
            on_video(name)

    assert list(overlapped(extract)) == list("abc")


def test_extraction_runs_at_most_ahead_videos_ahead_of_the_model():
    reported = []

    def extract(on_video):
        for i in range(10):
            on_video(str(i))
            reported.append(i)

    videos = overlapped(extract)
    assert next(videos) == "0"
    time.sleep(0.3)  # time for the extraction to run as far as the queue lets it
    assert len(reported) <= AHEAD + 1  # AHEAD waiting in the queue, one blocked handing over; "0" consumed
    assert list(videos) == [str(i) for i in range(1, 10)]


def test_an_extraction_error_is_raised_in_the_consumer_after_the_videos_before_it():
    def extract(on_video):
        on_video("a")
        raise DataError("b.mp4: decoding failed")

    videos = overlapped(extract)
    assert next(videos) == "a"
    with pytest.raises(DataError, match=r"b\.mp4"):
        next(videos)


def test_a_consumer_that_stops_early_stops_the_extraction():
    before = threading.active_count()

    def extract(on_video):
        for i in range(1000):
            on_video(str(i))

    videos = overlapped(extract)
    next(videos)
    videos.close()  # returns at once; the thread ends at its next hand-over
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_predict_video_on_a_folder_gives_the_outputs_of_extracting_first(tmp_path, monkeypatch, video_run):
    """Three videos through the overlapped pipeline and through extract-everything-then-predict: same files."""
    data, run = video_run
    videos = tmp_path / "new"
    videos.mkdir()
    for path in sorted((data / "videos").glob("*.mp4"))[:3]:
        (videos / path.name).write_bytes(path.read_bytes())
    assert main(["predict", "--run", str(run), "--video", str(videos), "--out", str(tmp_path / "piped")]) == 0

    def sequential(extract):
        return iter(extract(lambda video: None))  # every video extracted before the model sees the first

    monkeypatch.setattr(video_pipeline, "overlapped", sequential)
    assert main(["predict", "--run", str(run), "--video", str(videos), "--out", str(tmp_path / "first")]) == 0
    piped = {p.relative_to(tmp_path / "piped"): p.read_bytes() for p in (tmp_path / "piped").rglob("*") if p.is_file()}
    first = {p.relative_to(tmp_path / "first"): p.read_bytes() for p in (tmp_path / "first").rglob("*") if p.is_file()}
    images = {k for k in piped if k.suffix == ".png"}  # drawn by matplotlib: compared by presence only
    assert len([k for k in piped if k.suffix == ".npy"]) == 3
    assert piped.keys() == first.keys()
    assert {k: v for k, v in piped.items() if k not in images} == {k: v for k, v in first.items() if k not in images}

    # resumed: the middle video's features are already there (an earlier call on it alone, or an interrupted run);
    # timelines.json lists the videos in the folder's order all the same
    monkeypatch.undo()  # overlapped again
    resumed = tmp_path / "resumed"
    middle = sorted(videos.glob("*.mp4"))[1].stem
    (resumed / "features").mkdir(parents=True)
    (resumed / "extraction.json").write_bytes((tmp_path / "piped" / "extraction.json").read_bytes())
    (resumed / "features" / f"{middle}.npy").write_bytes(
        (tmp_path / "piped" / "features" / f"{middle}.npy").read_bytes()
    )
    assert main(["predict", "--run", str(run), "--video", str(videos), "--out", str(resumed)]) == 0
    assert (resumed / "timelines.json").read_bytes() == (tmp_path / "piped" / "timelines.json").read_bytes()
