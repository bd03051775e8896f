"""ELAN ``.eaf`` files (one per video), read and written with ``pympi-ling``.

An ELAN document holds tiers of time-aligned annotations (start and end in milliseconds, a text value); the
action labels are the annotations of one tier (``options.tier``; needed when the file has several). The video is
the document's first media descriptor (else the file's name). Writing gives one document per video with the
tier ``options.tier`` (default ``actions``) and the video linked as its media.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path

from actionline.data.annotations.base import (
    MILLISECONDS,
    AnnotationFormat,
    AnnotationOptions,
    Annotations,
    read_xml,
    segments_from_seconds,
    spans_in_seconds,
    timeline_of,
    video_id,
)
from actionline.errors import DataError
from actionline.io import atomic_write
from actionline.timeline import Timeline

TIER = "actions"


class Elan(AnnotationFormat):
    name = "elan"
    suffixes = (".eaf",)
    per_video = True
    keeps_length = False

    def sniff(self, path: Path, head: str) -> bool:
        return path.suffix.lower() == ".eaf" or "<ANNOTATION_DOCUMENT" in head

    def read(self, path: Path, options: AnnotationOptions) -> Annotations:
        eaf = _parse(path)
        tiers = list(eaf.get_tier_names())
        tier = options.tier if options.tier is not None else (tiers[0] if len(tiers) == 1 else None)
        if tier is None or tier not in tiers:
            what = f"no tier {options.tier!r}" if options.tier is not None else f"{len(tiers)} tiers"
            raise DataError(f"{path}: {what}; choose the action tier with --tier (tiers: {', '.join(tiers) or 'none'})")
        video = _video_of(eaf.media_descriptors) or path.stem
        try:
            rows = eaf.get_annotation_data_for_tier(tier)
        except (KeyError, TypeError) as exc:
            raise DataError(f"{path}: tier {tier!r}: annotation that is not time-aligned ({exc})") from None
        spans, skipped = [], []
        for row in rows:
            start, end, value = row[0], row[1], row[2]
            if start is None or end is None:
                raise DataError(f"{path}: tier {tier!r}: an annotation has an unaligned time slot")
            if not (value or "").strip():
                skipped.append(f"{path}: tier {tier!r}: empty annotation at {start / 1000:.3f}-{end / 1000:.3f} s")
                continue
            spans.append((start / 1000, end / 1000, value.strip()))
        fps = options.fps or MILLISECONDS
        segments = segments_from_seconds(spans, fps, f"{path}: tier {tier!r}")
        return Annotations([timeline_of(video, segments, fps)], skipped)

    def write(self, timelines: Sequence[Timeline], path: Path, options: AnnotationOptions) -> None:
        (timeline,) = timelines
        from pympi.Elan import Eaf

        eaf = Eaf(author="actionline")
        tier = options.tier or TIER
        eaf.remove_tier("default")
        eaf.add_tier(tier)
        media = options.media_of(timeline.video)
        eaf.add_linked_file(media, relpath=media, mimetype=mimetypes.guess_type(media)[0] or "video/mp4")
        for start, end, label, _ in spans_in_seconds(timeline, options.skip_labels):
            eaf.add_annotation(tier, round(start * 1000), round(end * 1000), label)
        atomic_write(path, lambda tmp: eaf.to_file(tmp))


def _video_of(descriptors: list[dict]) -> str | None:
    """The video id of the first video among the media descriptors (else of the first descriptor)."""
    urls = [(d.get("MIME_TYPE") or "", d.get("MEDIA_URL") or d.get("RELATIVE_MEDIA_URL")) for d in descriptors]
    urls = [(mime, url) for mime, url in urls if url]
    chosen = next((url for mime, url in urls if mime.startswith("video")), urls[0][1] if urls else None)
    return video_id(chosen) if chosen else None


def _parse(path: Path):
    """The document, after checking it is well-formed XML with an ANNOTATION_DOCUMENT root (pympi's own errors
    name neither the file nor the line)."""
    from pympi.Elan import Eaf

    read_xml(path, "ANNOTATION_DOCUMENT", "ELAN")
    try:
        return Eaf(str(path), suppress_version_warning=True)
    except Exception as exc:  # pympi raises bare Exception, KeyError, ValueError for inconsistent documents
        raise DataError(f"{path}: not a readable ELAN file ({type(exc).__name__}: {exc})") from None
