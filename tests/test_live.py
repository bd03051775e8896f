"""Live streams: online smoothing, causal features frame by frame equal to `extract --causal`, and `predict --stream`
of an MP4 sent as MPEG-TS over a local TCP connection equal to `predict --video` of the same causal run."""

import json
import socket
import threading

import numpy as np
import pytest
import torch
from rich.console import Console

from actionline.cli import main
from actionline.data.video import iter_frames
from actionline.engine.extractor import extract, load_backbone
from actionline.engine.live import OnlineSmoother
from actionline.engine.live_features import LiveFeatures
from actionline.engine.run_record import ExtractionSettings
from test_video import write_indexed_video

CLASSES = ["a", "b", "c"]


def _push_all(smoother, labels):
    events = [e for label in labels for e in smoother.push(label, 0.5)]
    return events + smoother.finish()


def test_without_smoothing_every_change_is_an_event_at_its_frame():
    smoother = OnlineSmoother(1, CLASSES, fps=10)
    events = _push_all(smoother, [0, 0, 1, 1, 1, 0])
    assert smoother.labels == [0, 0, 1, 1, 1, 0]
    assert [(e["event"], e["label"], e["t"]) for e in events] == [
        ("start", "a", 0.0), ("end", "a", 0.2), ("start", "b", 0.2), ("end", "b", 0.5), ("start", "a", 0.5),
        ("end", "a", 0.6),
    ]  # fmt: skip


def test_smoothing_absorbs_short_runs_and_backdates_a_confirmed_change():
    smoother = OnlineSmoother(3, CLASSES, fps=10)
    flicker = [0, 0, 0, 2, 0, 0, 1, 1, 1, 1, 2, 2]
    events = []
    for t, label in enumerate(flicker):
        new = smoother.push(label, 0.5)
        if any(e["event"] == "start" and e["label"] == "b" for e in new):
            assert t == 8  # the third frame of b: a delay of two frames (0.2 s)
        events += new
    events += smoother.finish()
    assert smoother.labels == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]  # the lone c and the final short c absorbed
    assert [(e["event"], e["label"], e["t"]) for e in events] == [
        ("start", "a", 0.0), ("end", "a", 0.6), ("start", "b", 0.6), ("end", "b", 1.2),
    ]  # fmt: skip


@pytest.mark.parametrize("name, window", [("efficientnet_lite0", 21), ("r3d_18", 4)])
def test_live_features_equal_causal_extraction(tmp_path, name, window):
    """A per-frame backbone and a clip backbone (random weights: only the windows matter), frame by frame."""
    write_indexed_video(tmp_path / "v" / "a.mp4", [i / 10 for i in range(7)], size=32)
    torch.manual_seed(0)
    requested = ExtractionSettings.request(name, fps=10, window=window, causal=True)
    settings, done, _ = extract(tmp_path / "v", tmp_path / "o", requested, random_weights=True)
    assert done == ["a"]
    offline = np.load(tmp_path / "o" / "features" / "a.npy").T  # [T, D]
    torch.manual_seed(0)
    backbone, _ = load_backbone(name, None, Console(stderr=True), random_weights=True)  # packaged, or seeded
    live = LiveFeatures(backbone, settings, torch.device("cpu"))
    spec = backbone.input
    streamed = np.stack([live(f) for f in iter_frames(tmp_path / "v" / "a.mp4", 10, spec.short_side, spec.size)])
    assert streamed.shape == offline.shape
    np.testing.assert_allclose(streamed, offline, atol=1e-5, rtol=1e-5)


def _serve_mpegts(path, listener: socket.socket) -> None:
    """Remux ``path`` to MPEG-TS for the first client of the listening loopback socket ``listener``."""
    import av

    listener.settimeout(60)
    conn, _ = listener.accept()
    with conn, conn.makefile("wb") as sink, av.open(str(path)) as src:
        stream = src.streams.video[0]
        with av.open(sink, "w", format="mpegts") as dst:
            out = dst.add_stream_from_template(stream)
            for packet in src.demux(stream):
                if packet.dts is None:
                    continue
                packet.stream = out
                dst.mux(packet)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_stream_over_tcp_gives_the_timeline_of_predict_video(causal_run, tmp_path, capsys):
    run, video = causal_run
    assert main(["predict", "--run", str(run), "--video", str(video), "--out", str(tmp_path / "video")]) == 0
    with socket.create_server(("127.0.0.1", 0)) as listener:  # loopback only
        port = listener.getsockname()[1]
        server = threading.Thread(target=_serve_mpegts, args=(video, listener), daemon=True)
        server.start()
        capsys.readouterr()
        args = ["predict", "--run", str(run), "--stream", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "live")]
        assert main([*args, "--timeout", "30"]) == 0
        server.join(30)
        assert not server.is_alive()
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    offline = json.loads((tmp_path / "video" / "timelines.json").read_text())["timelines"][0]
    live = json.loads((tmp_path / "live" / "timelines.json").read_text())["timelines"][0]
    assert live["num_frames"] == offline["num_frames"]
    assert [(s["start"], s["end"], s["label"]) for s in live["segments"]] == [
        (s["start"], s["end"], s["label"]) for s in offline["segments"]
    ]
    for a, b in zip(live["segments"], offline["segments"], strict=True):  # the same probabilities, frame by frame
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)
    starts = [(round(e["t"] * 5), e["label"]) for e in printed if e["event"] == "start"]
    assert starts == [(s["start"], s["label"]) for s in offline["segments"]]
    assert (tmp_path / "live" / "events.jsonl").read_text().splitlines() == [json.dumps(e) for e in printed]
    latency = json.loads((tmp_path / "live" / "latency.json").read_text())
    assert latency["frames"] == offline["num_frames"] and latency["skipped_packets"] == 0
    assert latency["total"]["p50"] > 0 and latency["realtime_factor"] > 0


def test_stream_refuses_an_offline_run_and_sources_that_do_not_answer(causal_run, tmp_path, toy_data, capsys):
    offline = tmp_path / "offline"
    small = ["--set", "model.num_stages=1", "--set", "model.num_layers=2", "--set", "model.num_f_maps=8"]
    assert (
        main(["train", "--model", "mstcn", "--data", str(toy_data), "--out", str(offline), "--epochs", "1", *small])
        == 0
    )
    capsys.readouterr()
    out = str(tmp_path / "o")
    assert main(["predict", "--run", str(offline), "--stream", "x.mp4", "--out", out]) == 2
    assert "--set model.causal=true" in capsys.readouterr().err
    run, _ = causal_run
    closed = f"tcp://127.0.0.1:{_free_port()}"
    assert main(["predict", "--run", str(run), "--stream", closed, "--timeout", "2", "--out", out]) == 2
    assert "cannot open the stream" in capsys.readouterr().err
    assert main(["predict", "--run", str(run), "--stream", str(tmp_path / "missing.mp4"), "--out", out]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
