"""Exported backbone graphs are cached on disk (`engine.graph_cache`): a later load (another instance, another
process) exports nothing, an entry that is damaged, foreign or of another key is never used but exported again,
and `predict --video --extract-runtime onnxruntime` gives the timeline of the PyTorch extraction.

Tolerance: features within 1e-4 absolute (as tests/test_fast_extraction.py; the graph and PyTorch round
differently)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from actionline.cli import main
from actionline.engine import graph_cache as graphs
from actionline.engine.onnx_graph import export_onnx, model_fingerprint
from actionline.models.registry import backbone_class

TOLERANCE = 1e-4


def lite0(perturb: float = 0.0):
    backbone = backbone_class("efficientnet_lite0")().eval()
    backbone.load_weights(backbone.default_weights())
    if perturb:
        with torch.no_grad():
            next(backbone.parameters()).view(-1)[0] += perturb
    return backbone


class Exports:
    """`export_onnx` as the cache calls it, counted; ``refuse`` makes an export attempt raise instead (what the
    cheap tests look for: that the cache did not trust an entry)."""

    def __init__(self, refuse: bool = False):
        self.count, self.refuse = 0, refuse

    def __call__(self, *args, **kwargs):
        self.count += 1
        if self.refuse:
            raise ExportAttempted
        return export_onnx(*args, **kwargs)


class ExportAttempted(Exception):
    pass


@pytest.fixture(scope="module")
def cached_entry(graph_cache):
    """EfficientNet-Lite0's graph in the session's cache folder (``graph_cache``, conftest), exported here unless
    another test did: its graph file and record."""
    backbone = lite0()
    graphs.cached_backbone_graph(backbone)
    graph, record = graphs.entry_paths(backbone, graphs.graph_key(backbone, model_fingerprint(backbone)))
    assert graph.parent == graph_cache / "onnx" and graph.is_file() and record.is_file()
    return graph, record


def test_a_second_load_exports_nothing_and_computes_the_features(cached_entry, monkeypatch):
    graph = cached_entry[0]
    exports = Exports(refuse=True)
    monkeypatch.setattr(graphs, "export_onnx", exports)
    before = graph.stat().st_mtime_ns
    backbone = lite0()  # another instance: the cache lives on disk only
    network, from_cache = graphs.cached_backbone_graph(backbone)
    assert from_cache and exports.count == 0 and graph.stat().st_mtime_ns == before
    torch.manual_seed(0)
    frames = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        expected = backbone.features(frames)
    torch.testing.assert_close(network(frames)["features"], expected, atol=TOLERANCE, rtol=0)


def test_another_process_loads_the_cached_graph(cached_entry):
    """A new process takes the cached graph, and without importing onnx: ONNX Runtime's session reads the graph's
    metadata (importing onnx to read it took 1-2 s of every start)."""
    code = (
        "import sys\n"
        "from actionline.engine.graph_cache import cached_backbone_graph\n"
        "from actionline.models.registry import backbone_class\n"
        "b = backbone_class('efficientnet_lite0')()\n"
        "b.load_weights(b.default_weights())\n"
        "print(cached_backbone_graph(b)[1], 'onnx' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True False"


def _flip_bytes(graph, record):
    data = bytearray(graph.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # inside the weights
    graph.write_bytes(bytes(data))


def _truncate(graph, record):
    graph.write_bytes(graph.read_bytes()[:1000])


def _drop_record(graph, record):
    record.unlink()


def _other_key(graph, record):  # e.g. another torch version exported it
    entry = json.loads(record.read_text())
    entry["key"]["torch"] = "0.0"
    record.write_text(json.dumps(entry))


def _foreign_graph(graph, record):
    """A graph that the record vouches for byte by byte, but exported from other weights: only the graph's own
    fingerprint tells."""
    import onnx

    proto = onnx.load(str(graph))
    for prop in proto.metadata_props:
        if prop.key == "actionline.fingerprint":
            prop.value = "0" * 64
    onnx.save(proto, str(graph))
    entry = json.loads(record.read_text())
    entry["sha256"] = graphs.file_digest(graph)
    record.write_text(json.dumps(entry))


@pytest.mark.parametrize("damage", [_flip_bytes, _truncate, _drop_record, _other_key, _foreign_graph])
def test_a_damaged_or_foreign_entry_is_exported_again(cached_entry, damage, monkeypatch, tmp_path):
    graph, record = cached_entry
    saved = graph.read_bytes(), record.read_bytes()
    try:
        damage(graph, record)
        monkeypatch.setattr(graphs, "export_onnx", Exports(refuse=True))
        with pytest.raises(ExportAttempted):
            graphs.cached_backbone_graph(lite0())
    finally:
        graph.write_bytes(saved[0])
        record.write_bytes(saved[1])


def test_other_weights_have_their_own_entry(cached_entry):
    backbone = lite0(perturb=1e-3)
    key = graphs.graph_key(backbone, model_fingerprint(backbone))
    assert graphs.entry_paths(backbone, key)[0] != cached_entry[0]


def test_a_tampered_entry_is_replaced_by_a_correct_graph(cached_entry, monkeypatch):
    graph, record = cached_entry
    _flip_bytes(graph, record)
    exports = Exports()
    monkeypatch.setattr(graphs, "export_onnx", exports)
    backbone = lite0()
    network, from_cache = graphs.cached_backbone_graph(backbone)
    assert not from_cache and exports.count == 1
    frames = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(network(frames)["features"], backbone.features(frames), atol=TOLERANCE, rtol=0)
    assert graphs.cached_backbone_graph(lite0())[1] and exports.count == 1  # the entry is whole again


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ACTIONLINE_CACHE", str(tmp_path / "mine"))
    assert graphs.cache_folder() == tmp_path / "mine" / "onnx"
    monkeypatch.delenv("ACTIONLINE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert graphs.cache_folder() == tmp_path / "xdg" / "actionline" / "onnx"


def test_predict_video_with_the_onnxruntime_extraction_gives_the_same_timeline(causal_run, cached_entry, tmp_path):
    run, video = causal_run
    outputs = {}
    for runtime in ("torch", "onnxruntime"):
        out = tmp_path / runtime
        args = ["predict", "--run", str(run), "--video", str(video), "--out", str(out), "--extract-runtime", runtime]
        assert main(args) == 0
        features = np.load(out / "features" / f"{video.stem}.npy")
        outputs[runtime] = features, json.loads((out / "timelines.json").read_text())["timelines"][0]
    (torch_features, torch_timeline), (ort_features, ort_timeline) = outputs["torch"], outputs["onnxruntime"]
    np.testing.assert_allclose(ort_features, torch_features, atol=TOLERANCE, rtol=0)
    assert [(s["start"], s["end"], s["label"]) for s in ort_timeline["segments"]] == [
        (s["start"], s["end"], s["label"]) for s in torch_timeline["segments"]
    ]
    for a, b in zip(ort_timeline["segments"], torch_timeline["segments"], strict=True):
        assert a["score"] == pytest.approx(b["score"], abs=1e-3)


def test_an_unknown_extraction_runtime_is_one_error(causal_run, tmp_path, capsys):
    run, video = causal_run
    args = ["predict", "--run", str(run), "--video", str(video), "--out", str(tmp_path / "p"), "--extract-runtime"]
    assert main([*args, "tvm"]) == 2
    assert "--extract-runtime must be one of" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
