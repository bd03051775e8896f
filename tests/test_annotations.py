"""Annotation-tool formats: hand-written fixtures (as each tool writes them), round trips on generated corpora,
and malformed input."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from actionline.data.annotations import (
    FORMATS,
    AnnotationOptions,
    detect_format,
    read_annotation_file,
    write_annotation_file,
)
from actionline.data.annotations.base import video_id
from actionline.data.annotations.mstcn import dense_labels
from actionline.errors import DataError
from actionline.timeline import Segment, Timeline

FIXTURES = Path(__file__).parent / "fixtures" / "annotations"


def spans(timeline: Timeline) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.label) for s in timeline.segments]


# --- fixtures written by hand from each tool's documentation -------------------------------------------------------
def test_label_studio_export_fixture():
    got = read_annotation_file(FIXTURES / "labelstudio" / "export.json")
    tea, box = got.timelines
    assert (tea.video, tea.fps, tea.num_frames) == ("make_tea", 25.0, 150)  # upload prefix dropped
    assert spans(tea) == [(0, 75, "pour water"), (89, 150, "stir")]  # ranges 1..75 and 90..150, both ends in
    assert (tea.seconds(0), tea.seconds(75), tea.seconds(89)) == (0.0, 3.0, 3.56)
    assert (box.video, box.fps) == ("open box", 29.97)
    assert spans(box) == [(30, 60, "öffnen"), (120, 121, "öffnen")]  # two ranges, the second one frame
    assert any("task 101" in s and "videorectangle" not in s and "not timelinelabels" in s for s in got.skipped)
    assert any("task 103" in s and "unlabelled" in s and "no annotation" in s for s in got.skipped)


def test_label_studio_json_min_export_reads_like_the_full_one():
    (t,) = read_annotation_file(FIXTURES / "labelstudio" / "export_min.json").timelines
    assert (t.video, t.fps, spans(t)) == ("make_tea", 25.0, [(0, 75, "pour water"), (89, 150, "stir")])


def test_label_studio_predictions_fixture():
    (t,) = read_annotation_file(FIXTURES / "labelstudio" / "predictions.json").timelines
    assert (t.video, t.fps) == ("assembly", 30.0)
    assert [(s.start, s.end, s.label, s.score) for s in t.segments] == [(15, 45, "screw", 0.9), (45, 90, "hammer", 0.7)]
    assert (t.seconds(15), t.seconds(45), t.seconds(90)) == (0.5, 1.5, 3.0)


def test_elan_fixture_needs_its_tier_and_reads_milliseconds():
    path = FIXTURES / "elan" / "cooking_03.eaf"  # CRLF line ends, two tiers, a video and an audio descriptor
    with pytest.raises(
        DataError, match=r"cooking_03.eaf: 2 tiers; choose the action tier with --tier \(tiers: actions, comments\)"
    ):
        read_annotation_file(path)
    (t,) = read_annotation_file(path, options=AnnotationOptions(tier="actions")).timelines
    assert (t.video, t.fps) == ("cooking_03", 1000.0)
    assert spans(t) == [(0, 1520, "cut bread"), (2040, 4480, "spread butter")]
    (t25,) = read_annotation_file(path, options=AnnotationOptions(tier="actions", fps=25)).timelines
    assert spans(t25) == [(0, 38, "cut bread"), (51, 112, "spread butter")]


def test_cvat_fixture_tags_and_tracks():
    (t,) = read_annotation_file(FIXTURES / "cvat" / "annotations.xml").timelines
    assert (t.video, t.num_frames, t.fps) == ("station_2", 200, None)  # no frame rate in the file
    # tags on 10, 11, 12 and 50; a track on at 120 and off at 160; a track never switched off lasts to frame 199
    assert spans(t) == [(10, 13, "pick part"), (50, 51, "pick part"), (120, 160, "weld"), (190, 200, "weld")]
    (t30,) = read_annotation_file(FIXTURES / "cvat" / "annotations.xml", options=AnnotationOptions(fps=30)).timelines
    assert t30.seconds(120) == 4.0


def test_via_project_and_csv_fixtures():
    project = read_annotation_file(FIXTURES / "via" / "project.json", options=AnnotationOptions(fps=25)).by_video()
    assert set(project) == {"sink_cam", "hall_cam"}
    assert spans(project["sink_cam"]) == [(30, 121, "wash hands"), (138, 181, "dry hands")]  # 1.2-4.84, 5.5-7.25 s
    assert spans(project["hall_cam"]) == []
    csv = read_annotation_file(FIXTURES / "via" / "export.csv")
    assert spans(csv.by_video()["sink_cam"]) == [(1200, 4840, "wash hands"), (5500, 7250, "dry hands")]
    assert any("2_Aa1bC2dE" in s and "not a temporal segment" in s for s in csv.skipped)  # a still frame


def test_activitynet_fixture():
    got = read_annotation_file(FIXTURES / "activitynet" / "gt.json", options=AnnotationOptions(fps=10)).by_video()
    ballet = got["QOlSCBRmfWY"]
    assert (ballet.num_frames, spans(ballet)) == (827, [(62, 579, "Ballet"), (601, 800, "Ballet")])
    assert (got["sYWN2xq1Ags"].num_frames, spans(got["sYWN2xq1Ags"])) == (205, [])


@pytest.mark.parametrize(
    ("path", "fmt", "options"),
    [
        ("labelstudio/export.json", "labelstudio", {}),
        ("labelstudio/predictions.json", "labelstudio", {}),
        ("elan/cooking_03.eaf", "elan", {"tier": "actions"}),
        ("cvat/annotations.xml", "cvat", {}),
        ("via/project.json", "via", {}),
        ("via/export.csv", "via", {}),
        ("activitynet/gt.json", "activitynet", {}),
    ],
)
def test_fixtures_survive_write_then_read(tmp_path, path, fmt, options):
    """read(write(read(x))) == read(x): our writer keeps what the tool's file says."""
    first = read_annotation_file(FIXTURES / path, options=AnnotationOptions(**options))
    assert detect_format(FIXTURES / path).name == fmt
    out = tmp_path / Path(path).name
    write_annotation_file(first.timelines, out, fmt, AnnotationOptions(**options))
    again = read_annotation_file(out, fmt, AnnotationOptions(**options))
    expected = [t for t in first.timelines if t.segments or not path.endswith(".csv")]  # a CSV row needs a segment
    assert again.timelines == expected


# --- round trips on generated corpora -------------------------------------------------------------------------------
LABELS = ["pour water", "öffnen", "切る", 'say "hi", then go', "x"]
RATES = [25.0, 29.97, 30000 / 1001, 12.5, 60.0]


def random_timelines(seed: int, fps: float, labels: list[str] = LABELS, min_frames: int = 0) -> list[Timeline]:
    """Videos with gaps, one-frame segments, adjacent segments, and an empty video; ids with spaces/accents."""
    rng = np.random.default_rng(seed)
    out = []
    for v in range(5):
        n = 0 if v == 0 and min_frames == 0 else int(rng.integers(max(min_frames, 1), 400))
        cuts = np.unique(rng.integers(0, n + 1, size=int(rng.integers(0, 12)))) if n else np.zeros(0, int)
        bounds = [0, *cuts.tolist(), n]
        segments, previous = [], None
        for a, b in itertools.pairwise(bounds):
            label = str(rng.choice(labels))
            if b > a and rng.random() < 0.7 and label != previous:
                segments.append(Segment(a, b, label))
                previous = label
            elif b > a:
                previous = None
        if n > 3 and rng.random() < 0.5 and not segments:
            segments.append(Segment(n - 1, n, labels[0]))  # a one-frame segment at the last frame
        out.append(Timeline(["vid 0", "vidéo_1", "v2", "cam-3", "clip.4"][v], n, segments, fps))
    return out


def comparable(timelines: list[Timeline], keeps_length: bool) -> list[tuple]:
    ends = lambda t: t.num_frames if keeps_length else max([0, *(s.end for s in t.segments)])  # noqa: E731
    return sorted((t.video, ends(t), spans(t)) for t in timelines)


@pytest.mark.parametrize("fps", RATES)
@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [("labelstudio", ".json"), ("elan", ""), ("cvat", ""), ("via", ".json"), ("via", ".csv"), ("activitynet", ".json")],
)
def test_round_trip_on_random_timelines(tmp_path, fmt, suffix, fps):
    """read(write(t)) == t: frames equal (so times equal within half a frame) at fractional frame rates too."""
    form = FORMATS[fmt]
    for seed in range(3):
        timelines = random_timelines(seed, fps)
        out = tmp_path / f"{fmt}{seed}{suffix}"
        write_annotation_file(timelines, out, fmt, AnnotationOptions(fps=fps))
        back = read_annotation_file(out, fmt, AnnotationOptions(fps=fps))
        expected = [t for t in timelines if t.segments or suffix != ".csv"]  # VIA's CSV has rows only for segments
        assert comparable(back.timelines, form.keeps_length) == comparable(expected, form.keeps_length)
        assert all(t.fps == fps for t in back.timelines)
        by_video = back.by_video()
        for t in expected:  # times within half a frame
            b = by_video[t.video]
            for s, r in zip(t.segments, b.segments, strict=True):
                assert abs(t.seconds(s.end) - b.seconds(r.end)) <= 0.5 / fps
                assert abs(t.seconds(s.start) - b.seconds(r.start)) <= 0.5 / fps


@pytest.mark.parametrize("fps", [29.97, 15.0])
def test_mstcn_round_trip_fills_background(tmp_path, fps):
    timelines = random_timelines(7, fps, labels=["pour_water", "öffnen", "切る"], min_frames=1)
    write_annotation_file(timelines, tmp_path / "data", "mstcn")
    back = read_annotation_file(tmp_path / "data").by_video()
    for t in timelines:
        b = back[t.video]
        assert (b.num_frames, b.fps) == (t.num_frames, fps)
        assert [x for x in spans(b) if x[2] != "background"] == spans(t)


def test_video_id_from_tool_paths():
    assert video_id("/data/upload/12/0a1b2c3d-my clip.mp4") == "my clip"
    assert video_id("/data/local-files/?d=videos%2Fsub%2Fcam%201.mp4") == "cam 1"
    assert video_id("file:///C:/Users/a/Videos/x.y.mov") == "x.y"
    assert video_id("s3://bucket/path/v_01.webm") == "v_01"


# --- malformed input -----------------------------------------------------------------------------------------------
LS_TASK = {
    "data": {"video": "a.mp4", "fps": 10, "duration": 2.0},
    "annotations": [
        {
            "id": 1,
            "result": [
                {
                    "type": "timelinelabels",
                    "id": "r1",
                    "value": {"ranges": [{"start": 1, "end": 5}], "timelinelabels": ["x"]},
                }
            ],
        }
    ],
}


def ls(**change) -> bytes:
    task = json.loads(json.dumps(LS_TASK))
    for key, value in change.items():
        if key == "ranges":
            task["annotations"][0]["result"][0]["value"]["ranges"] = value
        elif key == "labels":
            task["annotations"][0]["result"][0]["value"]["timelinelabels"] = value
        elif key == "annotations":
            task["annotations"] = value
    return json.dumps([task]).encode()


MALFORMED = [
    (
        "export.json",
        b'[{"data": {"video": "a.mp4"},\n "annotations": [',
        "labelstudio",
        r"export.json:2: malformed JSON",
    ),
    ("export.json", b'[{"video": "a.mp4"}]', "labelstudio", r"export.json: task 0: not a Label Studio task"),
    (
        "export.json",
        ls(ranges=[{"start": 15, "end": 25}]),
        "labelstudio",
        r"task 0, result r1: range \[15, 25\] goes past the video's last frame \(20\)",
    ),
    (
        "export.json",
        ls(ranges=[{"start": 0, "end": 3}]),
        "labelstudio",
        r"result r1: range \[0, 3\] must be whole frames with 1 <= start",
    ),
    ("export.json", ls(labels=[]), "labelstudio", r"result r1: value.timelinelabels must be a non-empty list"),
    (
        "export.json",
        ls(annotations=[LS_TASK["annotations"][0], {"id": 2, "result": []}]),
        "labelstudio",
        r"task 0: 2 annotations \(1, 2\); keep one or pass --latest",
    ),
    (
        "export.json",
        b'[{"data": {"video": "caf\xe9.mp4"}}]',
        "labelstudio",
        r"export.json: not UTF-8 text \(invalid continuation byte at byte 24\)",
    ),
    (
        "x.eaf",
        b"<ANNOTATION_DOCUMENT>\n<HEADER>\n</ANNOTATION_DOCUMENT>",
        "elan",
        r"x.eaf:3:2: not an ELAN file \(malformed XML\)",
    ),
    (
        "x.eaf",
        b"<?xml version='1.0' encoding='UTF-8'?>\n<ANNOTATION_DOCUMENT><HEADER>"
        b"<MEDIA_DESCRIPTOR MEDIA_URL='caf\xe9.mp4'/></HEADER></ANNOTATION_DOCUMENT>",
        "elan",
        r"x.eaf:2:\d+: not an ELAN file \(malformed XML\)",
    ),
    ("x.eaf", b"<eaf/>", "elan", r"x.eaf: not an ELAN file \(root element <eaf>"),
    (
        "a.xml",
        (FIXTURES / "cvat" / "annotations.xml").read_bytes().replace(b'frame="50"', b'frame="250"'),
        "cvat",
        r"a.xml: <tag> 4: frame 250 is outside the task's frames 0..199",
    ),
    (
        "a.xml",
        (FIXTURES / "cvat" / "annotations.xml").read_bytes().replace(b'<track id="1" label="weld"', b'<track id="1"'),
        "cvat",
        r"a.xml: <track id='1'>: no label",
    ),
    (
        "a.xml",
        b"<annotations><version>1.1</version><meta><project/></meta></annotations>",
        "cvat",
        r"a.xml: a project export",
    ),
    (
        "a.xml",
        b"<annotations><meta><task><size>10</size>\n<start_frame>5</start_frame></task></meta></annotations>",
        "cvat",
        r"the task covers part of the video",
    ),
    (
        "p.json",
        (FIXTURES / "via" / "project.json").read_bytes().replace(b'"av":{"1":"3"}', b'"av":{"1":"9"}'),
        "via",
        r"p.json: metadata 1_Pq0sWm3E: option id '9' is not an option of 'TEMPORAL-SEGMENTS'",
    ),
    (
        "p.json",
        (FIXTURES / "via" / "project.json")
        .read_bytes()
        .replace(b'"vid":"1","flg":0,"z":[5.5', b'"vid":"7","flg":0,"z":[5.5'),
        "via",
        r"p.json: metadata 1_Pq0sWm3E: refers to no view",
    ),
    (
        "e.csv",
        (FIXTURES / "via" / "export.csv").read_bytes().replace(b'"[5.5,7.25]"', b'"[5.5,7.25"'),
        "via",
        r"e.csv:12: not a VIA CSV row",
    ),
    (
        "g.json",
        b'{"database": {"a": {"duration": 10, "annotations": [{"segment": [2, 12.5], "label": "x"}]}}}',
        "activitynet",
        r"g.json: video a: segment 'x' \[2.000, 12.500\] s ends after the video's end \(10.000 s\)",
    ),
]


@pytest.mark.parametrize(("name", "content", "fmt", "message"), MALFORMED, ids=[m[3][:40] for m in MALFORMED])
def test_malformed_files_give_one_clear_error(tmp_path, name, content, fmt, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_annotation_file(path, fmt)


def test_unknown_tier_names_the_tiers(tmp_path):
    with pytest.raises(DataError, match=r"cooking_03.eaf: no tier 'gestures'; .*tiers: actions, comments"):
        read_annotation_file(FIXTURES / "elan" / "cooking_03.eaf", options=AnnotationOptions(tier="gestures"))


def test_two_files_for_one_video_name_both(tmp_path):
    for name in ("a.eaf", "b.eaf"):
        shutil.copy(FIXTURES / "elan" / "cooking_03.eaf", tmp_path / name)
    with pytest.raises(DataError, match=r"video 'cooking_03' is annotated in two files: .*a.eaf and .*b.eaf"):
        read_annotation_file(tmp_path, options=AnnotationOptions(tier="actions"))


def test_one_video_in_two_tasks_names_both(tmp_path):
    task = json.loads(ls())[0]
    path = tmp_path / "export.json"
    path.write_text(json.dumps([dict(task, id=1), dict(task, id=2)]))
    with pytest.raises(DataError, match=r"task 2: video 'a' is annotated again \(first in task 1\)"):
        read_annotation_file(path)


def test_crlf_files_read_like_lf(tmp_path):
    for name in ("labelstudio/export.json", "via/export.csv"):
        src = FIXTURES / name
        crlf = tmp_path / src.name
        crlf.write_bytes(src.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        assert read_annotation_file(crlf).timelines == read_annotation_file(src).timelines


def test_latest_annotation_is_chosen_on_request(tmp_path):
    older = LS_TASK["annotations"][0] | {"id": 1, "updated_at": "2024-01-01T00:00:00Z"}
    newer = {
        "id": 2,
        "updated_at": "2024-02-01T00:00:00Z",
        "result": [{"type": "timelinelabels", "value": {"ranges": [{"start": 2, "end": 4}], "timelinelabels": ["y"]}}],
    }
    path = tmp_path / "export.json"
    path.write_bytes(ls(annotations=[newer, older]))
    (t,) = read_annotation_file(path, options=AnnotationOptions(latest=True)).timelines
    assert spans(t) == [(1, 4, "y")]


def test_overlaps_in_dense_labels_name_both_segments_unless_prioritised():
    t = Timeline("v", 10, [Segment(0, 6, "a"), Segment(4, 8, "b")], fps=2.0)
    with pytest.raises(
        DataError, match=r"video v: segments 'a' \[0, 6\) \(0.000-3.000 s\) and 'b' \[4, 8\) \(2.000-4.000 s\) overlap"
    ):
        dense_labels(t, ["background", "a", "b"])
    assert dense_labels(t, ["background", "a", "b"], priority=["b", "a"]).tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 0, 0]
    assert dense_labels(t, ["background", "a", "b"], priority=["a", "b"]).tolist() == [1, 1, 1, 1, 1, 1, 2, 2, 0, 0]


def test_writers_leave_out_skipped_labels(tmp_path):
    t = Timeline("v", 30, [Segment(0, 10, "background"), Segment(10, 30, "cut")], fps=10.0)
    out = tmp_path / "pred.json"
    write_annotation_file([t], out, "labelstudio", AnnotationOptions(skip_labels=frozenset({"background"})))
    (back,) = read_annotation_file(out).timelines
    assert spans(back) == [(10, 30, "cut")]


@pytest.mark.parametrize(
    ("fmt", "target", "extra"),
    [
        ("labelstudio", "ls.json", ["--video-fps", "25"]),
        ("cvat", "cvat", ["--video-fps", "25"]),
        ("elan", "elan", []),
        ("via", "via.json", []),
    ],
)
def test_export_command_writes_tool_files(tmp_path, fmt, target, extra):
    """Predictions at 5 feature frames per second reach each tool at the video's times, background left out."""
    from actionline.cli import main
    from actionline.timeline import save_timelines

    pred = tmp_path / "timelines.json"
    t = Timeline(
        "cam 1", 50, [Segment(0, 10, "background"), Segment(10, 23, "pour water"), Segment(23, 50, "öffnen")], 5.0
    )
    save_timelines(str(pred), [t])
    out = tmp_path / target
    assert main(["export", "--pred", str(pred), "--format", fmt, "--out", str(out), *extra]) == 0
    (back,) = read_annotation_file(out, fmt, AnnotationOptions(fps=25 if fmt == "cvat" else None)).timelines
    assert back.video == "cam 1"
    got = [(round(back.seconds(s.start), 3), round(back.seconds(s.end), 3), s.label) for s in back.segments]
    assert got == [(2.0, 4.6, "pour water"), (4.6, 10.0, "öffnen")]


def test_export_to_a_frame_counting_tool_needs_the_frame_rate(tmp_path, capsys):
    from actionline.cli import main
    from actionline.timeline import save_timelines

    save_timelines(str(tmp_path / "t.json"), [Timeline("v", 10, [Segment(0, 10, "x")], 5.0)])
    assert main(["export", "--pred", str(tmp_path / "t.json"), "--format", "cvat", "--out", str(tmp_path / "c")]) == 2
    assert "give the video (--videos) or its frame rate (--video-fps) for v" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_labels_renamed_by_dataset_build_go_back_to_the_tool_as_they_were(tmp_path):
    from actionline.cli import main
    from actionline.timeline import save_timelines

    data = tmp_path / "data"
    data.mkdir()
    (data / "summary.json").write_text(json.dumps({"renamed": {"pour water": "pour_water"}}))
    save_timelines(
        str(tmp_path / "t.json"), [Timeline("v", 10, [Segment(0, 4, "pour_water"), Segment(4, 10, "stir")], 5.0)]
    )
    out = tmp_path / "via.json"
    assert (
        main(
            [
                "export",
                "--pred",
                str(tmp_path / "t.json"),
                "--format",
                "via",
                "--out",
                str(out),
                "--labels-of",
                str(data),
            ]
        )
        == 0
    )
    assert [s.label for s in read_annotation_file(out).timelines[0].segments] == ["pour water", "stir"]
