"""Exported backbone graphs kept on disk, so that a process extracting with ONNX Runtime does not export again.

Exporting EfficientNet-Lite0 takes tens of seconds, more than the backbone then spends on minutes of video; a cache
entry is the graph (``<backbone>-<key>.onnx``) and a record beside it (``.json``) of the key's parts and the graph
file's SHA-256. The key digests everything the graph depends on: the backbone's name and weights (its fingerprint),
its input, the ONNX opset and the versions of actionline, torch, onnx and onnxscript (the exporter and its
optimizer). An entry is used only when its record names this key, the file's bytes have the recorded digest and the
graph's own metadata carries this backbone's fingerprint (`OnnxForward`); anything else (a missing, partial, damaged
or foreign entry) is exported again and replaced. Both files are written atomically; an unwritable cache only costs
the export.

Folder: ``$ACTIONLINE_CACHE/onnx`` when set, else ``$XDG_CACHE_HOME/actionline/onnx`` (``~/.cache/actionline/onnx``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from actionline.engine.onnx_graph import GRAPH_FILE, OPSET, OnnxForward, export_onnx, model_fingerprint
from actionline.errors import CheckpointError, DataError
from actionline.io import atomic_write, atomic_write_text, file_digest, read_json
from actionline.models.backbone import Backbone
from actionline.version import __version__

CACHE_VARIABLE = "ACTIONLINE_CACHE"


def cache_folder() -> Path:
    """Where exported graphs are kept (module docstring)."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE]) / "onnx"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "actionline" / "onnx"


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def graph_key(backbone: Backbone, fingerprint: str) -> dict[str, str]:
    """Everything the exported graph of ``backbone`` (whose `model_fingerprint` is ``fingerprint``) depends on."""
    return {
        "backbone": backbone.name,
        "fingerprint": fingerprint,
        "input": json.dumps(dataclasses.asdict(backbone.input), sort_keys=True),
        "opset": str(OPSET),
        "actionline": __version__,
        "torch": torch.__version__,
        "onnx": _package_version("onnx"),
        "onnxscript": _package_version("onnxscript"),
    }


def entry_paths(backbone: Backbone, key: dict[str, str]) -> tuple[Path, Path]:
    """The cache entry of ``key``: the graph file and its record."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    stem = cache_folder() / f"{backbone.name}-{digest}"
    return stem.with_suffix(".onnx"), stem.with_suffix(".json")


def _cached(graph: Path, record: Path, key: dict[str, str], backbone: Backbone, threads: int | None):
    """The entry's graph as an `OnnxForward` when it is intact and this key's, else None."""
    try:
        recorded = read_json(record)
        if recorded.get("key") != key or recorded.get("sha256") != file_digest(graph):
            return None
        return OnnxForward(graph, backbone, threads, key["fingerprint"])
    except (OSError, DataError, CheckpointError, AttributeError):  # absent, unreadable, foreign record or graph
        return None


def _publish(exported: Path, graph: Path, record: Path, key: dict[str, str]) -> bool:
    """Copy a freshly exported graph into the cache (graph first, then the record that vouches for it); whether it
    was kept."""
    try:
        graph.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(graph, lambda tmp: shutil.copyfile(exported, tmp))
        atomic_write_text(record, json.dumps({"key": key, "sha256": file_digest(exported)}, indent=1))
        return True
    except OSError as exc:
        note = f"could not keep the exported graph in {graph.parent} ({exc}): the next run exports it again"
        warnings.warn(note, stacklevel=3)
        return False


def cached_backbone_graph(backbone: Backbone, threads: int | None = None) -> tuple[OnnxForward, bool]:
    """``backbone``'s `features` as an `OnnxForward` from its cache entry, exported (and cached) when there is no
    intact one; returns it and whether it came from the cache."""
    backbone.eval()
    key = graph_key(backbone, model_fingerprint(backbone))
    graph, record = entry_paths(backbone, key)
    found = _cached(graph, record, key, backbone, threads)
    if found is not None:
        return found, True
    with tempfile.TemporaryDirectory(prefix="actionline-onnx-") as scratch:  # the session holds the graph in memory
        exported = export_onnx(backbone, Path(scratch) / GRAPH_FILE)
        session = OnnxForward(exported, backbone, threads, key["fingerprint"])
        if _publish(exported, graph, record, key):
            session.path = graph  # the scratch copy goes with the folder; the cache keeps the file
    return session, False


def backbone_with_onnxruntime(backbone: Backbone, threads: int | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """A backbone's `features` run by ONNX Runtime from its cached graph (`cached_backbone_graph`; exported on first
    use): scaled frames [N, C, H, W] in, vectors out (`extract --runtime onnxruntime`, `predict --video
    --extract-runtime onnxruntime`). Same features as PyTorch's within 1e-4 absolute (tests/test_fast_extraction.py)."""
    graph = cached_backbone_graph(backbone, threads)[0]
    return lambda frames: graph(frames)["features"]
