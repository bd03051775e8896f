"""A long H.264 file made from a short one without re-encoding: the clip's packets copied over and over, for the
benchmarks that time minutes of real video (`hour_of_video.py`, `extraction.py`)."""

from __future__ import annotations

from pathlib import Path

import av


def repeated(source: Path, seconds: float, out: Path) -> Path:
    """``source`` played over and over for at least ``seconds`` into ``out``: its packets copied with shifted
    timestamps (each repetition starts on the source's first keyframe), so the file decodes like one long video."""
    with av.open(str(source)) as inp, av.open(str(out), "w") as container:
        stream = inp.streams.video[0]
        copy = container.add_stream_from_template(stream)
        offset, shown = 0, 0.0
        while shown < seconds:
            inp.seek(0)
            end = 0
            for packet in inp.demux(stream):
                if packet.dts is None:
                    continue
                end = max(end, packet.pts + packet.duration)
                packet.pts, packet.dts, packet.stream = packet.pts + offset, packet.dts + offset, copy
                container.mux(packet)
            offset += end
            shown = float(offset * stream.time_base)
    return out
