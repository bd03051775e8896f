"""VIA (VGG Image Annotator 3, video annotator) temporal segments: the JSON project and the CSV export.

A project lists files (``file``), views of them (``view``, one video each) and metadata; a temporal segment is a
metadata entry ``{"vid": view, "z": [start_s, end_s], "xy": [], "av": {attribute_id: value}}``. Its label is the
value of the temporal-segment attribute (anchor ``FILE1_Z2_XY0``; ``options.tier`` names it when there are
several): an option id of a select/radio/checkbox attribute (comma-separated for checkboxes), or the text of a
text attribute. The CSV export has the same entries as rows (``metadata_id, file_list, flags,
temporal_coordinates, spatial_coordinates, metadata``, JSON in each cell) after ``#`` header lines that define
the attributes. Still frames (``z`` of one time) and spatial regions are skipped and listed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from actionline.data.annotations.base import (
    MILLISECONDS,
    AnnotationFormat,
    AnnotationOptions,
    Annotations,
    number,
    read_text,
    segments_from_seconds,
    spans_in_seconds,
    timeline_of,
    video_id,
)
from actionline.errors import DataError
from actionline.io import atomic_write_text
from actionline.timeline import Timeline

TEMPORAL_ANCHOR = "FILE1_Z2_XY0"
SELECT, VIDEO, LOCAL = 4, 4, 1  # VIA's attribute type, file type and file location codes
CSV_HEADER = "metadata_id,file_list,flags,temporal_coordinates,spatial_coordinates,metadata"


class Via(AnnotationFormat):
    name = "via"
    suffixes = (".json", ".csv")
    keeps_length = False

    def sniff(self, path: Path, head: str) -> bool:
        return "VGG Image Annotator" in head or "CSV_HEADER" in head or '"vid_list"' in head

    def read(self, path: Path, options: AnnotationOptions) -> Annotations:
        text = read_text(path)
        if path.suffix.lower() == ".csv":
            attributes, entries, videos = _csv_entries(text, path)
        else:
            attributes, entries, videos = _project_entries(text, path)
        aid, attribute = _label_attribute(attributes, options.tier, path)
        fps = options.fps or MILLISECONDS
        spans: dict[str, list[tuple[float, float, str]]] = {v: [] for v in videos}
        skipped = []
        for mid, video, z, xy, av in entries:
            where = f"{path}: metadata {mid}"
            if len(z) != 2 or xy:
                skipped.append(f"{where}: not a temporal segment (z={z}, xy={xy})")
                continue
            value = av.get(aid, "") if isinstance(av, dict) else ""
            labels = _labels(value, attribute, where)
            if not labels:
                skipped.append(f"{where}: no {attribute.get('aname', aid)!r} label")
                continue
            start, end = (number(t, f"{where}: temporal coordinate") for t in z)
            spans.setdefault(video, []).extend((start, end, label) for label in labels)
        timelines = [timeline_of(v, segments_from_seconds(s, fps, f"{path}: video {v}"), fps) for v, s in spans.items()]
        return Annotations(timelines, skipped)

    def write(self, timelines: Sequence[Timeline], path: Path, options: AnnotationOptions) -> None:
        labels = sorted({s.label for t in timelines for s in t.segments if s.label not in options.skip_labels})
        option_id = {label: str(i) for i, label in enumerate(labels)}
        attribute = {
            "aname": options.tier or "action",
            "anchor_id": TEMPORAL_ANCHOR,
            "type": SELECT,
            "desc": "written by actionline",
            "options": {i: label for label, i in option_id.items()},
            "default_option_id": "",
        }
        files, views, metadata = {}, {}, {}
        for k, t in enumerate(timelines, 1):
            vid = str(k)
            files[vid] = {"fid": vid, "fname": options.media_of(t.video), "type": VIDEO, "loc": LOCAL, "src": ""}
            views[vid] = {"fid_list": [vid]}
            for i, (start, end, label, _) in enumerate(spans_in_seconds(t, options.skip_labels)):
                z = [round(start, 5), round(end, 5)]
                metadata[f"{vid}_{i:08d}"] = {"vid": vid, "flg": 0, "z": z, "xy": [], "av": {"1": option_id[label]}}
        if path.suffix.lower() == ".csv":
            atomic_write_text(path, _csv_text({"1": attribute}, files, metadata))
            return
        project = {
            "project": {
                "pid": "__VIA_PROJECT_ID__",
                "rev": "__VIA_PROJECT_REV_ID__",
                "rev_timestamp": "__VIA_PROJECT_REV_TIMESTAMP__",
                "pname": "actionline",
                "creator": "actionline",
                "created": 0,
                "vid_list": list(views),
            },
            "config": {"file": {"loc_prefix": {"1": "", "2": "", "3": "", "4": ""}}, "ui": {}},
            "attribute": {"1": attribute},
            "file": files,
            "metadata": metadata,
            "view": views,
        }
        atomic_write_text(path, json.dumps(project, indent=1, ensure_ascii=False))


Entry = tuple[str, str, list, list, dict]


def _project_entries(text: str, path: Path) -> tuple[dict, list[Entry], list[str]]:
    try:
        store = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    try:
        files, views, attributes = store["file"], store["view"], store["attribute"]
        vid_list = store["project"]["vid_list"]
        metadata = store.get("metadata") or {}
        video_of = {}
        for vid in vid_list:
            video_of[str(vid)] = video_id(files[str(views[str(vid)]["fid_list"][0])]["fname"])
    except (KeyError, TypeError, IndexError) as exc:
        raise DataError(f"{path}: not a VIA project (missing or malformed {exc})") from None
    _unique(list(video_of.values()), path)
    entries = []
    for mid, m in metadata.items():
        if not isinstance(m, dict) or str(m.get("vid")) not in video_of:
            raise DataError(f"{path}: metadata {mid}: refers to no view of the project")
        entries.append(
            (
                mid,
                video_of[str(m["vid"])],
                _list(m.get("z"), path, mid),
                _list(m.get("xy"), path, mid),
                m.get("av") or {},
            )
        )
    return attributes, entries, list(video_of.values())


def _csv_entries(text: str, path: Path) -> tuple[dict, list[Entry], list[str]]:
    attributes: dict = {}
    rows = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.startswith("#"):
            key, _, value = line[1:].partition("=")
            if key.strip() in ("ATTRIBUTE", "ATTRIBUTES"):
                try:
                    parsed = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{lineno}: malformed attribute header ({exc.msg})") from None
                attributes = {k: v if isinstance(v, dict) else {"aname": v} for k, v in parsed.items()}
        elif line.strip():
            rows.append((lineno, line))
    entries, videos = [], []
    for (lineno, _), cells in zip(rows, csv.reader(line for _, line in rows), strict=True):
        try:
            mid, file_list, _, z, xy, av = cells[:6]
            files, z, xy, av = (json.loads(c) for c in (file_list, z, xy, av or "{}"))
            video = video_id(files[0])
        except (ValueError, IndexError, TypeError) as exc:
            raise DataError(f"{path}:{lineno}: not a VIA CSV row ({exc})") from None
        if not isinstance(z, list) or not isinstance(xy, list):
            raise DataError(f"{path}:{lineno}: temporal and spatial coordinates must be lists")
        videos.append(video)
        entries.append((mid, video, z, xy, av))
    return attributes, entries, list(dict.fromkeys(videos))


def _list(value, path: Path, mid: str) -> list:
    if not isinstance(value, list):
        raise DataError(f"{path}: metadata {mid}: expected a list, got {value!r}")
    return value


def _unique(videos: list[str], path: Path) -> None:
    repeated = sorted({v for v in videos if videos.count(v) > 1})
    if repeated:
        raise DataError(f"{path}: video {repeated[0]!r} is in more than one view")


def _label_attribute(attributes: dict, tier: str | None, path: Path) -> tuple[str, dict]:
    """The attribute that holds the action label: by name, else the only temporal-segment attribute."""
    if not isinstance(attributes, dict):
        raise DataError(f"{path}: attributes must be an object")
    if tier is not None:
        found = [(aid, a) for aid, a in attributes.items() if a.get("aname") == tier]
    else:
        found = [(aid, a) for aid, a in attributes.items() if a.get("anchor_id", TEMPORAL_ANCHOR) == TEMPORAL_ANCHOR]
    if len(found) != 1:
        names = ", ".join(str(a.get("aname")) for a in attributes.values()) or "none"
        what = f"no attribute {tier!r}" if tier is not None else f"{len(found)} temporal-segment attributes"
        raise DataError(f"{path}: {what}; choose the label attribute with --tier (attributes: {names})")
    return found[0]


def _labels(value, attribute: dict, where: str) -> list[str]:
    """The label(s) a value stands for: option names for option ids, else the text itself."""
    if not isinstance(value, str):
        raise DataError(f"{where}: attribute value must be a string, got {value!r}")
    options = attribute.get("options") or {}
    if not options:
        return [value.strip()] if value.strip() else []
    ids = [i for i in value.split(",") if i]
    unknown = [i for i in ids if i not in options]
    if unknown:
        raise DataError(f"{where}: option id {unknown[0]!r} is not an option of {attribute.get('aname')!r}")
    return [str(options[i]) for i in ids]


def _csv_text(attributes: dict, files: dict, metadata: dict) -> str:
    buf = io.StringIO()
    buf.write("# Exported using VGG Image Annotator (http://www.robots.ox.ac.uk/~vgg/software/via)\n")
    buf.write(f"# ATTRIBUTE = {json.dumps(attributes, separators=(',', ':'), ensure_ascii=False)}\n")
    buf.write(f"# CSV_HEADER = {CSV_HEADER}\n")
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    compact = lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False)  # noqa: E731
    for mid, m in metadata.items():
        writer.writerow(
            [mid, compact([files[m["vid"]]["fname"]]), m["flg"], compact(m["z"]), compact(m["xy"]), compact(m["av"])]
        )
    return buf.getvalue()
