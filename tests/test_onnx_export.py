"""ONNX export: the graph run by ONNX Runtime computes the model's forward (within 1e-4) at lengths other than
the one it was captured at, decode is shared, a file from another model is refused, int8 stays close."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

import actionline.models  # noqa: F401  (registers every model)
from actionline.engine.onnx_graph import OnnxForward, example_inputs, export_onnx
from actionline.engine.quantize import quantize_graph
from actionline.errors import CheckpointError, ConfigError
from actionline.models.registry import MODELS, backbone_class, build_model

# small settings, so that each capture takes seconds; "gsmt" is TAGS at one scale (the GSMT preset)
SEGMENTATION = {
    "mstcn": {"num_stages": 2, "num_layers": 4, "num_f_maps": 16},
    "asformer": {"num_decoders": 1, "num_layers": 4, "num_f_maps": 16, "att_channels": 8},
    "baformer": {"num_layers": 3, "num_queries": 8, "hidden_dim": 16, "head_dim": 8},
    "rtk": {"num_decoders": 1, "encoder_layers": 3, "decoder_layers": 2, "num_f_maps": 16, "att_channels": 8},
}
DETECTION = {
    "tags": ("tags", {"num_snippets": 16, "scales": [1, 2]}),
    "gsmt": ("tags", {"num_snippets": 16, "scales": [1], "mask_score": "max"}),
    "actionness": ("actionness", {"num_snippets": 16}),
}
CLASSES = [f"c{i}" for i in range(5)]


def small_model(name: str, settings: dict, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(name, {"input_dim": 12, "num_classes": len(CLASSES), **settings}).eval()


def assert_same_timelines(got: list, ref: list) -> None:
    """Same segments; scores (mean probabilities) within 1e-4."""
    for a, b in zip(got, ref, strict=True):
        assert [(s.start, s.end, s.label) for s in a.segments] == [(s.start, s.end, s.label) for s in b.segments]
        np.testing.assert_allclose([s.score for s in a.segments], [s.score for s in b.segments], atol=1e-4)


def assert_same_outputs(got: dict, ref: dict) -> None:
    assert list(got) == list(ref)
    for key in ref:
        assert got[key].shape == ref[key].shape, key
        np.testing.assert_allclose(got[key].numpy(), ref[key].numpy(), atol=1e-4, rtol=0, err_msg=key)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (model, path of its graph), each model captured once at 40 positions."""
    folder, cache = tmp_path_factory.mktemp("onnx"), {}

    def get(name: str):
        if name not in cache:
            registered, settings = DETECTION.get(name, (name, SEGMENTATION.get(name)))
            model = small_model(registered, settings)
            cache[name] = model, export_onnx(model, folder / f"{name}.onnx", length=40)
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(SEGMENTATION))
def test_segmentation_graph_matches_pytorch_at_two_lengths(exported, name):
    model, path = exported(name)
    run = OnnxForward(path, model)
    for length in (23, 157):  # neither is the capture length
        x, mask = model.example_inputs(length)
        with torch.no_grad():
            ref = model(x, mask)
        got = run(x, mask)
        assert_same_outputs(got, ref)
        # decode is the model's own, shared by both runtimes
        assert_same_timelines(model.decode(got, mask, ["v"], CLASSES), model.decode(ref, mask, ["v"], CLASSES))


def test_a_padded_mask_is_honoured_by_the_graph(exported):
    model, path = exported("asformer")
    x, mask = model.example_inputs(90)
    mask[:, 70:] = 0
    with torch.no_grad():
        ref = model(x, mask)
    assert_same_outputs(OnnxForward(path, model)(x, mask), ref)


@pytest.mark.parametrize("name", sorted(DETECTION))
def test_detection_graph_matches_pytorch(exported, name):
    model, path = exported(name)
    run = OnnxForward(path, model)
    for seed in (1, 2):  # the detectors take their fixed snippets: two different videos
        torch.manual_seed(seed)
        x, mask = example_inputs(model)
        x = torch.randn_like(x)
        with torch.no_grad():
            ref = model(x, mask)
        got = run(x, mask)
        assert_same_outputs(got, ref)
        assert_same_timelines(model.decode(got, mask, ["v"], CLASSES), model.decode(ref, mask, ["v"], CLASSES))


@pytest.mark.slow  # full-size networks at 224 x 224 (I3D: a 21-frame window)
@pytest.mark.parametrize("name", ["efficientnet_lite0", "resnet18", "i3d_rgb"])
def test_backbone_graph_matches_pytorch_for_any_batch(tmp_path, name):
    torch.manual_seed(0)
    backbone = backbone_class(name)().eval()
    run = OnnxForward(export_onnx(backbone, tmp_path / "b.onnx"), backbone)
    (x,) = example_inputs(backbone)
    for batch in (1, 3):
        frames = torch.randn(batch, *x.shape[1:])
        with torch.no_grad():
            ref = backbone.features(frames)
        np.testing.assert_allclose(run(frames)["features"].numpy(), ref.numpy(), atol=1e-4, rtol=0)


def test_a_graph_from_another_model_or_version_is_refused(exported, tmp_path):
    model, path = exported("mstcn")
    retrained = small_model("mstcn", SEGMENTATION["mstcn"], seed=1)  # same architecture, other weights
    with pytest.raises(CheckpointError, match="another model or version"):
        OnnxForward(path, retrained)
    other_settings = small_model("mstcn", {**SEGMENTATION["mstcn"], "smooth_weight": 0.3})
    with pytest.raises(CheckpointError, match="fingerprint does not match"):
        OnnxForward(path, other_settings)
    older = onnx.load(str(path))  # the same model, exported by another actionline version
    onnx.helper.set_model_props(
        older, {**{p.key: p.value for p in older.metadata_props}, "actionline.version": "0.0.1"}
    )
    onnx.save_model(older, str(tmp_path / "older.onnx"))
    with pytest.raises(CheckpointError, match=r"exported by actionline 0.0.1, this is .*export it again"):
        OnnxForward(tmp_path / "older.onnx", model)
    foreign = onnx.load(str(path))
    del foreign.metadata_props[:]
    onnx.save_model(foreign, str(tmp_path / "foreign.onnx"))
    with pytest.raises(CheckpointError, match="not an actionline ONNX export"):
        OnnxForward(tmp_path / "foreign.onnx", model)


NOT_EXPORTABLE = ("sct", "mucon")  # capturing their forward fixes the video length


def test_every_segmentation_and_detection_model_is_tested_or_refused():
    """A model added to the registry fails here until it is in the parity tests above or known not exportable."""
    tested = {*SEGMENTATION, *(registered for registered, _ in DETECTION.values()), *NOT_EXPORTABLE}
    temporal = {name for name, cls in MODELS.items() if cls.task in ("segmentation", "detection")}
    assert temporal <= tested, sorted(temporal - tested)


@pytest.mark.parametrize("name", NOT_EXPORTABLE)
def test_what_cannot_be_exported_is_named_with_the_reason(tmp_path, name):
    with pytest.raises(ConfigError, match=rf"'{name}' cannot be exported to ONNX: .*symbolic time axis"):
        export_onnx(small_model(name, {}), tmp_path / f"{name}.onnx", length=40)
    assert not list(tmp_path.iterdir())  # nothing written


def test_clip_models_are_refused_with_the_reason(tmp_path):
    with pytest.raises(ConfigError, match=r"'vit' cannot be exported to ONNX: it is a classification model"):
        export_onnx(build_model("vit", {"num_classes": 3}), tmp_path / "vit.onnx")
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("mode", ["dynamic", "static"])
@pytest.mark.parametrize("name", ["mstcn", "asformer"])
def test_int8_stays_close_to_fp32_and_decodes_to_a_valid_timeline(exported, tmp_path, name, mode):
    model, path = exported(name)
    torch.manual_seed(5)
    calibration = [model.example_inputs(n) for n in (60, 90)] if mode == "static" else None
    int8 = OnnxForward(quantize_graph(path, tmp_path / "int8.onnx", mode, calibration), model)
    x, mask = model.example_inputs(131)
    with torch.no_grad():
        ref = model(x, mask)
    got = int8(x, mask)
    # tolerance: final-stage frame probabilities within 0.1 of fp32's, and most frames keep their class
    probs, ref_probs = (torch.softmax(o["logits"][-1], dim=1) for o in (got, ref))
    assert float((probs - ref_probs).abs().max()) < 0.1
    assert float((probs.argmax(1) == ref_probs.argmax(1)).float().mean()) > 0.9
    timeline = model.decode(got, mask, ["v"], CLASSES)[0]
    assert timeline.segments[0].start == 0 and timeline.segments[-1].end == 131
    assert all(a.end == b.start for a, b in zip(timeline.segments, timeline.segments[1:], strict=False))
    assert {s.label for s in timeline.segments} <= set(CLASSES)


@pytest.mark.parametrize("name", ["mstcn", "asformer"])
def test_a_causal_model_exports_with_its_causal_layers(tmp_path, name):
    """`model.causal=true`: left-padded convolutions, windows ending at their query, running instance norm."""
    model = small_model(name, {**SEGMENTATION[name], "causal": True})
    run = OnnxForward(export_onnx(model, tmp_path / f"{name}_causal.onnx", length=40), model)
    for length in (23, 157):
        x, mask = model.example_inputs(length)
        with torch.no_grad():
            ref = model(x, mask)
        assert_same_outputs(run(x, mask), ref)
