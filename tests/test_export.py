import csv
import io

import pytest

from actionline.cli import main
from actionline.errors import ActionlineError
from actionline.export import to_csv, to_srt
from actionline.timeline import Segment, Timeline, save_timelines

TL = Timeline(
    "v1", 100, [Segment(0, 10, "background"), Segment(10, 75, "pour", 0.9), Segment(75, 100, "stir")], fps=10.0
)


def test_csv_rows():
    rows = list(csv.reader(io.StringIO(to_csv([TL]))))
    assert rows[0] == ["video", "start_frame", "end_frame", "start_s", "end_s", "label", "score"]
    assert rows[2] == ["v1", "10", "75", "1.000", "7.500", "pour", "0.9000"]
    assert len(rows) == 4


def test_srt_cues_and_times():
    srt = to_srt(TL, skip=["background"])
    assert srt.splitlines()[:3] == ["1", "00:00:01,000 --> 00:00:07,500", "pour (0.90)"]
    assert "background" not in srt
    long = Timeline("v", 40_000, [Segment(36_000, 40_000, "x")], fps=10.0)
    assert "01:00:00,000 --> 01:06:40,000" in to_srt(long)


def test_needs_a_frame_rate():
    with pytest.raises(ActionlineError, match="--fps"):
        to_csv([Timeline("v", 5, [Segment(0, 5, "a")])])
    assert "0.500" in to_csv([Timeline("v", 5, [Segment(0, 5, "a")])], fps=10.0)


def test_cli_export(tmp_path):
    save_timelines(tmp_path / "timelines.json", [TL])
    assert (
        main(["export", "--pred", str(tmp_path / "timelines.json"), "--format", "srt", "--out", str(tmp_path / "srt")])
        == 0
    )
    assert (tmp_path / "srt" / "v1.srt").read_text().startswith("1\n00:00:00,000")
    assert main(["export", "--pred", str(tmp_path / "timelines.json"), "--out", str(tmp_path / "t.csv")]) == 0
    assert main(["export", "--pred", str(tmp_path / "timelines.json"), "--format", "xml", "--out", "x"]) == 2
