"""Packaged models and `actionline.load`: run, package and Hub-layout folder predict the same; the package
round-trip is bit-identical; the card's numbers come from the record; bad packages give one clear error."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import shutil

import numpy as np
import pytest
import torch

import actionline
from actionline.cli import main
from actionline.data.layout import SegmentationData
from actionline.engine.package import load_package, package_run
from actionline.engine.predictor import load_run
from actionline.errors import CheckpointError
from actionline.tasks.segmentation import train_segmentation

SMALL = {"model": {"num_stages": 2, "num_layers": 3, "num_f_maps": 8}, "train": {"epochs": 1, "lr": 0.005}}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory, toy_data):
    """(run folder, package folder) of a one-epoch MS-TCN."""
    root = tmp_path_factory.mktemp("package")
    train_segmentation("mstcn", SegmentationData(toy_data), 1, root / "run", SMALL)
    package_run(root / "run", root / "pkg", latency_length=200, licence="apache-2.0")
    return root / "run", root / "pkg"


def video_features(toy_data, index: int = 0) -> np.ndarray:
    return np.load(sorted((toy_data / "features").glob("*.npy"))[index])


def hub_layout(package, cache, repo_id: str = "someone/mstcn-toy"):
    """A Hugging Face Hub cache holding ``package`` as the snapshot of ``repo_id`` (what a download leaves)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    revision = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(package, repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    return repo_id


def test_run_package_and_hub_layout_load_to_identical_predictions(packaged, toy_data, tmp_path):
    run, package = packaged
    repo_id = hub_layout(package, tmp_path / "hub")
    loaded = [
        actionline.load(run),
        actionline.load(package),
        actionline.load(repo_id, cache_dir=tmp_path / "hub", local_files_only=True),
    ]
    features = video_features(toy_data)
    timelines = [m.predict(features, "v") for m in loaded]
    assert timelines[0] == timelines[1] == timelines[2]
    assert timelines[0].num_frames == features.shape[1]
    assert all(m.classes == loaded[0].classes and m.task == "segmentation" for m in loaded)
    assert loaded[1].extraction is None  # the toy features were not extracted by actionline


def test_package_round_trip_is_bit_identical(packaged):
    run, package = packaged
    (model, _), (copy, _) = load_run(run, device="cpu"), load_package(package)
    x, mask = model.example_inputs(97)
    with torch.no_grad():
        a, b = model(x, mask), copy(x, mask)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_loading_a_package_never_unpickles(packaged, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling while loading a package")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    _, meta = load_package(packaged[1])
    assert meta.model == "mstcn"


def test_every_number_in_the_card_comes_from_the_record(packaged):
    package = packaged[1]
    card = (package / "README.md").read_text()
    record = json.loads((package / "config.json").read_text())
    numbers: list[float] = []

    def collect(value):
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            numbers.append(float(value))
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            numbers.append(float(len(value)))  # a list's length (the number of classes)
            for v in value:
                collect(v)

    collect(record)
    # numbers standing alone (not inside names such as f1@50, efficientnet_lite0 or a version 0.1.0)
    found = re.findall(r"(?<![\w@.,-])\d[\d,]*(?:\.\d+)?(?![\w.@-]|,\d)", card)
    assert found
    for token in found:
        value, decimals = float(token.replace(",", "")), len(token.split(".")[1]) if "." in token else 0
        assert any(abs(value - n) <= 0.5 * 10**-decimals + 1e-9 for n in numbers), token
    assert "apache-2.0" in card and record["profile"]["params"] > 0


def test_a_package_with_missing_or_tampered_files_gives_one_clear_error(packaged, tmp_path):
    package = packaged[1]

    def broken(name):
        copy = tmp_path / name
        shutil.copytree(package, copy)
        return copy

    no_weights = broken("no_weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="without weights"):
        load_package(no_weights)

    tampered = broken("tampered")
    data = bytearray((tampered / "model.safetensors").read_bytes())
    data[-3] ^= 0xFF
    (tampered / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="tampered or damaged"):
        load_package(tampered)

    other_shape = broken("other_shape")
    record = json.loads((other_shape / "config.json").read_text())
    record["run"]["model_config"]["num_f_maps"] = 16  # the stored weights have 8 maps
    (other_shape / "config.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=r"weights do not fit model 'mstcn'.*mis-shaped"):
        load_package(other_shape)

    classes = broken("classes")
    record = json.loads((classes / "config.json").read_text())
    record["run"]["classes"] = record["run"]["classes"][:-1]
    (classes / "config.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="classes listed, but the model's head has"):
        load_package(classes)


def test_an_uncached_hub_id_while_offline_says_so(tmp_path):
    with pytest.raises(CheckpointError, match="not in the local Hugging Face cache"):
        actionline.load("nobody/not-cached", cache_dir=tmp_path, local_files_only=True)


def test_cli_package_refuses_a_missing_run_with_one_line(tmp_path, capsys):
    assert main(["package", "--run", str(tmp_path / "nothing"), "--out", str(tmp_path / "pkg")]) == 2
    assert capsys.readouterr().err.strip().startswith("error:")
    assert not (tmp_path / "pkg").exists()


def test_onnxruntime_runtime_through_load_and_the_cli_predicts_like_torch(packaged, toy_data, tmp_path, capsys):
    run, package = packaged
    features = video_features(toy_data, 1)
    torch_timeline = actionline.load(package).predict(features, "v")
    ort = actionline.load(package, runtime="onnxruntime")  # no model.onnx in the package: exported on loading
    timeline = ort.predict(features, "v")
    assert [(s.start, s.end, s.label) for s in timeline.segments] == [
        (s.start, s.end, s.label) for s in torch_timeline.segments
    ]
    # the CLI: export-model writes RUN/model.onnx, which predict --runtime onnxruntime then runs
    shutil.copytree(run, tmp_path / "run")
    assert main(["export-model", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "run" / "model.onnx")]) == 0
    for runtime in ("torch", "onnxruntime"):
        args = ["predict", "--run", str(tmp_path / "run"), "--data", str(toy_data), "--out", str(tmp_path / runtime)]
        assert main([*args, "--runtime", runtime]) == 0
    read = [json.loads((tmp_path / r / "timelines.json").read_text()) for r in ("torch", "onnxruntime")]
    labels = [[(s["start"], s["end"], s["label"]) for t in r["timelines"] for s in t["segments"]] for r in read]
    assert labels[0] == labels[1]


def test_a_folder_that_is_neither_run_nor_package_gives_one_clear_error(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"not a packaged model \(no config.json\)"):
        load_package(tmp_path)
    with pytest.raises(CheckpointError):
        actionline.load(tmp_path)


def test_cli_static_int8_calibrates_on_the_runs_training_videos(packaged, toy_data, tmp_path, capsys):
    import onnx

    run = packaged[0]
    graph = tmp_path / "run" / "model.onnx"
    shutil.copytree(run, tmp_path / "run")
    assert main(["export-model", "--run", str(tmp_path / "run"), "--out", str(graph), "--quantize", "int8-static"]) == 0
    assert "calibrated on 8 inputs of the training data" in capsys.readouterr().err  # --calibration-videos 8
    props = {p.key: p.value for p in onnx.load(str(graph)).metadata_props}
    assert props["actionline.quantization"] == "int8-static"
    # the int8 graph stands in for the run's model: predict runs it and gives full-length timelines
    args = ["predict", "--run", str(tmp_path / "run"), "--data", str(toy_data), "--out", str(tmp_path / "pred")]
    assert main([*args, "--runtime", "onnxruntime"]) == 0
    timelines = json.loads((tmp_path / "pred" / "timelines.json").read_text())["timelines"]
    assert timelines and all(t["segments"][-1]["end"] == t["num_frames"] for t in timelines)
    capsys.readouterr()
    assert main(["export-model", "--run", str(run), "--out", str(tmp_path / "x.onnx"), "--quantize", "int4"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: --quantize must be int8 or int8-static")
    assert not (tmp_path / "x.onnx").exists()


def test_cli_refuses_a_graph_exported_from_another_model(packaged, toy_data, tmp_path, capsys):
    from actionline.engine.onnx_graph import export_onnx
    from actionline.models.registry import build_model

    run = tmp_path / "run"
    shutil.copytree(packaged[0], run)
    model, _ = load_run(run, device="cpu")
    torch.manual_seed(7)
    export_onnx(build_model("mstcn", dataclasses.asdict(model.config)), run / "model.onnx")  # other weights
    args = ["predict", "--run", str(run), "--data", str(toy_data), "--out", str(tmp_path / "pred")]
    assert main([*args, "--runtime", "onnxruntime"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "fingerprint does not match" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "pred").exists()
