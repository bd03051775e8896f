"""Live sources and their faults: a growing file (`--follow`), http:// and udp:// on loopback, corrupt packets, a
stall, sources that do not answer, `--realtime` pacing, `--view` without a terminal, Ctrl-C before and during a
stream. Videos are tiny grey MP4s whose frame i has level 4 i (`test_video.source_index`) remuxed to MPEG-TS."""

import functools
import http.server
import io
import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from actionline.cli import main
from actionline.data.live_video import LiveStats, live_frames
from test_video import source_index, write_indexed_video

FPS = 5  # the causal run's feature rate


def mpegts(video: Path, limit: int | None = None) -> bytes:
    """The first ``limit`` (all) packets of ``video`` remuxed to MPEG-TS."""
    import av

    buffer = io.BytesIO()
    with av.open(str(video)) as src:
        stream = src.streams.video[0]
        with av.open(buffer, "w", format="mpegts") as dst:
            out = dst.add_stream_from_template(stream)
            for k, packet in enumerate(p for p in src.demux(stream) if p.dts is not None):
                if limit is not None and k >= limit:
                    break
                packet.stream = out
                dst.mux(packet)
    return buffer.getvalue()


def textured_mpegts(frames: int, size: int = 64) -> bytes:
    """A moving noise texture as H.264 in MPEG-TS (large frames, so corrupt bytes land inside picture data)."""
    import av

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10", "preset": "ultrafast", "g": "5"}
        for i in range(frames):
            image = av.VideoFrame.from_ndarray(np.roll(base, i, axis=1), format="rgb24")
            for packet in stream.encode(image):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def corrupt_payloads(ts: bytes, count: int) -> bytes:
    """``ts`` with random bytes in the payload of ``count`` video TS packets from its middle that continue a PES
    packet (headers and continuity counters intact, so the demuxer passes the damage on to the decoder)."""
    rng = np.random.default_rng(1)
    data = bytearray(ts)
    continuing = [
        k * 188
        for k in range(len(data) // 188)
        if data[k * 188 + 1] & 0x40 == 0  # no payload-unit start
        and data[k * 188 + 3] & 0x30 == 0x10  # payload only
        and (data[k * 188 + 1] & 0x1F, data[k * 188 + 2]) == (0x01, 0x00)  # PID 0x100: the first stream
    ]
    middle = len(continuing) // 2
    for offset in continuing[middle : middle + count]:
        data[offset + 4 : offset + 188] = rng.integers(0, 256, 184, dtype=np.uint8).tobytes()
    return bytes(data)


@pytest.fixture(scope="module")
def grey(tmp_path_factory) -> Path:
    """30 frames at 5 fps (6 s)."""
    path = tmp_path_factory.mktemp("grey") / "grey.mp4"
    write_indexed_video(path, [i / FPS for i in range(30)], size=32)
    return path


@pytest.fixture(scope="module")
def short(tmp_path_factory) -> Path:
    """10 frames at 5 fps (2 s)."""
    path = tmp_path_factory.mktemp("short") / "short.mp4"
    write_indexed_video(path, [i / FPS for i in range(10)], size=32)
    return path


def indices(source: str, stats: LiveStats, timeout: float, follow: bool = False) -> list[int]:
    return [source_index(frame) for frame in live_frames(source, FPS, None, None, stats, timeout, follow)]


def test_follow_reads_a_file_while_it_is_written(grey, tmp_path):
    data, path = mpegts(grey), tmp_path / "rec.ts"
    half_written = threading.Event()

    def record() -> None:
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            half_written.set()
            time.sleep(0.3)  # the reader opens the file and reaches the end of what exists
            for chunk in range(len(data) // 2, len(data), 2048):
                time.sleep(0.02)
                f.write(data[chunk : chunk + 2048])
                f.flush()

    writer = threading.Thread(target=record, daemon=True)
    writer.start()
    assert half_written.wait(30)
    stats = LiveStats()
    assert indices(str(path), stats, timeout=1.0, follow=True) == list(range(30))
    writer.join(10)
    assert stats.stopped == "no data for 1 s"  # a followed file ends when nothing is added for the timeout
    assert stats.skipped == 0


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_http_source_gives_the_files_frames(grey):
    handler = functools.partial(_Quiet, directory=str(grey.parent))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            stats = LiveStats()
            url = f"http://127.0.0.1:{server.server_address[1]}/{grey.name}"
            assert indices(url, stats, timeout=10.0) == list(range(30))
            assert stats.stopped is None and stats.skipped == 0
        finally:
            server.shutdown()


def _udp_port_bound(port: int) -> bool:
    """Whether some socket on this machine listens on UDP ``port`` (Linux's /proc/net/udp, without touching it)."""
    rows = Path("/proc/net/udp").read_text().splitlines()[1:]
    return any(int(row.split()[1].split(":")[1], 16) == port for row in rows)


def test_udp_source_on_loopback(grey):
    if not Path("/proc/net/udp").is_file():
        pytest.skip("needs Linux's /proc/net/udp to know when the receiver listens")
    data = mpegts(grey)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # a free port, released for the reader

    def send() -> None:
        deadline = time.monotonic() + 30
        while not _udp_port_bound(port) and time.monotonic() < deadline:
            time.sleep(0.01)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for start in range(0, len(data), 1316):  # 7 TS packets per datagram, as broadcasters send them
                sender.sendto(data[start : start + 1316], ("127.0.0.1", port))
                time.sleep(0.002)

    threading.Thread(target=send, daemon=True).start()
    stats = LiveStats()
    assert indices(f"udp://127.0.0.1:{port}", stats, timeout=1.5) == list(range(30))
    assert stats.stopped == "no data for 1.5 s"  # UDP has no end: the silence ends it


def test_damaged_frames_are_skipped_and_counted(tmp_path):
    clean = textured_mpegts(30)
    (tmp_path / "clean.ts").write_bytes(clean)
    (tmp_path / "bad.ts").write_bytes(corrupt_payloads(clean, 40))
    frames = {}
    for name in ("clean", "bad"):
        stats = LiveStats()
        frames[name] = list(live_frames(str(tmp_path / f"{name}.ts"), FPS, None, None, stats, 5.0))
        frames[f"{name} skipped"] = stats.skipped
    assert frames["clean skipped"] == 0 and frames["bad skipped"] > 0
    assert len(frames["bad"]) == len(frames["clean"]) == 30  # a skipped frame's time holds the one before it
    assert not np.array_equal(np.stack(frames["bad"][:30]), np.stack(frames["clean"]))


def _predict(run: Path, source: str, out: Path, *extra: str) -> int:
    return main(["predict", "--run", str(run), "--stream", source, "--out", str(out), *extra])


def test_corrupt_stream_is_decided_to_its_end(causal_run, tmp_path, capsys):
    run, _ = causal_run
    (tmp_path / "bad.ts").write_bytes(corrupt_payloads(textured_mpegts(30), 40))
    assert _predict(run, str(tmp_path / "bad.ts"), tmp_path / "o") == 0
    latency = json.loads((tmp_path / "o" / "latency.json").read_text())
    assert latency["skipped_packets"] > 0 and latency["frames"] >= 30 and latency["stopped"] is None
    timeline = json.loads((tmp_path / "o" / "timelines.json").read_text())["timelines"][0]
    assert timeline["num_frames"] == latency["frames"]
    err = " ".join(capsys.readouterr().err.split())  # rich wraps lines
    assert f"{latency['skipped_packets']} undecodable or damaged packets skipped" in err


def test_stall_ends_the_stream_after_the_timeout_with_everything_kept(causal_run, grey, tmp_path, capsys):
    run, _ = causal_run
    first = mpegts(grey, limit=8)
    release = threading.Event()

    def serve(listener: socket.socket) -> None:
        listener.settimeout(60)
        conn, _ = listener.accept()
        with conn:
            conn.sendall(first)
            release.wait(60)  # the connection stays open, silent

    with socket.create_server(("127.0.0.1", 0)) as listener:
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        source = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        try:
            assert _predict(run, source, tmp_path / "o", "--timeout", "1") == 0
        finally:
            release.set()
    timeline = json.loads((tmp_path / "o" / "timelines.json").read_text())["timelines"][0]
    assert timeline["num_frames"] == 8  # every frame sent, the decoder's last ones included
    latency = json.loads((tmp_path / "o" / "latency.json").read_text())
    assert latency["stopped"] == "no data for 1 s" and not latency["interrupted"]
    assert "no data for 1 s; everything until then is kept" in " ".join(capsys.readouterr().err.split())


def _one_error(err: str, expected: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0] and "Traceback" not in err


def test_sources_that_cannot_be_read_are_one_error_and_write_nothing(causal_run, tmp_path, capsys):
    run, out = causal_run[0], tmp_path / "o"
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (the kernel's backlog) and never sends
        assert _predict(run, f"tcp://127.0.0.1:{silent.getsockname()[1]}", out, "--timeout", "1") == 2
    _one_error(capsys.readouterr().err, "cannot open the stream (no answer within --timeout 1 s)")
    assert _predict(run, "/dev/video99", out) == 2
    _one_error(capsys.readouterr().err, "/dev/video99: no such camera device")
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            assert _predict(run, f"http://127.0.0.1:{server.server_address[1]}/none.mp4", out) == 2
        finally:
            server.shutdown()
    _one_error(capsys.readouterr().err, "cannot open the stream")
    assert not out.exists()


def test_realtime_runs_no_faster_than_the_video(causal_run, short, tmp_path):
    started = time.perf_counter()
    assert _predict(causal_run[0], str(short), tmp_path / "o", "--realtime") == 0
    elapsed = time.perf_counter() - started
    assert json.loads((tmp_path / "o" / "latency.json").read_text())["frames"] == 10
    assert 10 / FPS <= elapsed < 120  # frame k is decided no sooner than k / fps after the first


def test_view_renders_without_a_terminal(causal_run, short, tmp_path, capsys):
    assert _predict(causal_run[0], str(short), tmp_path / "o", "--view", "--events", str(tmp_path / "e.jsonl")) == 0
    captured = capsys.readouterr()
    assert "label" in captured.err and "total" in captured.err  # the view's last state, printed once
    assert captured.out == ""  # the events went to --events
    events = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "end"


@pytest.mark.parametrize(
    "source, extra, expected",
    [
        ("missing.mp4", [], "not found"),  # no stream
        ("text.mp4", [], "cannot open the stream"),  # not a video
        ("short", ["--smooth", "-1"], "--smooth"),  # bad arguments
    ],
)
def test_a_refused_stream_opens_no_view(causal_run, short, tmp_path, capsys, monkeypatch, source, extra, expected):
    """Refusals come before the live view draws anything: one error line, no (empty) view."""
    from actionline.cli import commands

    opened = []

    class Recorded(commands.LiveView):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.live.start = lambda *a, **k: opened.append(True)  # rich draws from the moment Live starts

    monkeypatch.setattr(commands, "LiveView", Recorded)
    (tmp_path / "text.mp4").write_text("not a video")
    path = str(short) if source == "short" else str(tmp_path / source)
    capsys.readouterr()
    assert _predict(causal_run[0], path, tmp_path / "o", "--view", *extra) == 2
    err = capsys.readouterr().err
    _one_error(err, expected)
    assert opened == [] and err.strip().startswith("error:")
    assert not (tmp_path / "o").exists()


def test_ctrl_c_before_the_stream_says_what_was_interrupted(causal_run, tmp_path, capsys, monkeypatch):
    from actionline.cli import commands

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "load_run", interrupted)
    assert _predict(causal_run[0], "x.mp4", tmp_path / "o") == 130
    err = capsys.readouterr().err
    assert "interrupted before the stream began" in err and "--resume" not in err
    assert not (tmp_path / "o").exists()


def test_ctrl_c_during_the_stream_keeps_the_timeline_so_far(causal_run, short, tmp_path, capsys, monkeypatch):
    from actionline.engine.live import LatencyLog

    add = LatencyLog.add

    def add_until_ctrl_c(self, *times) -> None:
        if len(self.times["total"]) == 6:
            raise KeyboardInterrupt
        add(self, *times)

    monkeypatch.setattr(LatencyLog, "add", add_until_ctrl_c)
    assert _predict(causal_run[0], str(short), tmp_path / "o") == 130
    assert "interrupted: the timeline until then is written" in capsys.readouterr().err
    latency = json.loads((tmp_path / "o" / "latency.json").read_text())
    assert latency["interrupted"] and latency["frames"] == 6
    assert json.loads((tmp_path / "o" / "timelines.json").read_text())["timelines"][0]["num_frames"] == 6
