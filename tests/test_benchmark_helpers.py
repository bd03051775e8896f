"""Helpers of the benchmark scripts that change what is measured (the scripts themselves run for hours)."""

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from actionline.data.layout import SegmentationData

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    if str(BENCHMARKS) not in sys.path:  # the scripts import their neighbours (tables, product_floor)
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


def test_sample_rate_view_subsamples_without_touching_the_data(toy_data):
    baselines = _load("segmentation_baselines")
    original = SegmentationData(toy_data)
    assert original.info.sample_rate == 1
    view_dir = baselines.with_sample_rate(Path(toy_data), 3)
    view = SegmentationData(view_dir)
    assert view.info.sample_rate == 3 and SegmentationData(toy_data).info.sample_rate == 1
    assert view.classes == original.classes and view.split("test", 1) == original.split("test", 1)
    video = original.split("test", 1)[0]
    feats, labels = original.pair(video)
    sub_feats, sub_labels = view.pair(video)
    np.testing.assert_array_equal(sub_feats, feats[:, ::3])
    np.testing.assert_array_equal(sub_labels, labels[::3])
    assert view.labels(video).shape == original.labels(video).shape  # scoring stays at the full frame rate
    assert baselines.with_sample_rate(Path(toy_data), 1) == Path(toy_data)  # the dataset's own rate
    assert baselines.with_sample_rate(Path(toy_data), 3) == view_dir  # a second call reuses the view
    with pytest.raises(SystemExit, match="positive"):
        baselines.with_sample_rate(Path(toy_data), 0)


def test_product_floor_records_every_product_with_its_layout_and_replays_it():
    floor_module = _load("product_floor")
    torch.manual_seed(0)
    a, b, bias = torch.randn(30, 20), torch.randn(20, 10), torch.randn(10)
    frames = torch.randn(4, 30, 20)
    windows = torch.randn(64).as_strided((3, 8, 4), (4, 4, 1))  # overlapping rows, as the attention's windows
    weight = torch.randn(10, 20, requires_grad=True)

    def workload():
        a @ b
        a @ b
        torch.addmm(bias, a, b)
        torch.bmm(frames, b.expand(4, 20, 10))  # a broadcast operand (stride 0)
        torch.bmm(windows, windows.transpose(1, 2))
        (a + 1).sum()  # not a product
        torch.nn.functional.linear(a, weight).sum().backward()  # forward and the weight's gradient

    floor = floor_module.ProductFloor(workload)
    by_op = {}
    for call in floor.calls:
        by_op.setdefault(call.op.overloadpacket.__name__, []).append(call)
    assert sorted(c.count for c in by_op["mm"]) == [1, 1, 2]  # a @ b twice; linear forward and backward
    assert by_op["addmm"][0].count == 1 and len(by_op["bmm"]) == 2
    expand = next(c for c in by_op["bmm"] if c.args[1].shape == (4, 20, 10))
    assert expand.args[1].stride == (0, 10, 1) and expand.args[0].stride == (600, 20, 1)
    window = next(c for c in by_op["bmm"] if c.args[0].shape == (3, 8, 4))
    assert window.args[0].stride == (4, 4, 1) and window.args[1].stride == (4, 1, 4)
    linear = 30 * 20 * 10  # forward and the weight's gradient (the input needs none)
    assert floor.macs == 2 * 30 * 20 * 10 + 30 * 20 * 10 + 4 * 30 * 20 * 10 + 3 * 8 * 4 * 8 + 2 * linear
    replayed = window.args[0].fresh()
    assert replayed.shape == (3, 8, 4) and replayed.stride() == (4, 4, 1)
    first = floor.measure(repeats=2)
    assert 0 < first < 1 and floor.measure(repeats=2) <= first  # the best of all rounds is kept


def test_product_floor_records_the_products_of_composite_operators_without_autograd():
    floor_module = _load("product_floor")
    a, b, weight = torch.randn(30, 20), torch.randn(20, 10), torch.randn(10, 20)

    def workload():
        with torch.inference_mode():  # matmul, linear and einsum reach the recorder whole here
            a @ b
            torch.nn.functional.linear(a, weight)
            torch.einsum("tc,ck->tk", a, b)

    floor = floor_module.ProductFloor(workload)
    assert floor.macs == 3 * 30 * 20 * 10
    assert {c.op.overloadpacket.__name__ for c in floor.calls} <= floor_module.PRODUCTS


def test_speed_goals_give_each_verdict_from_its_result_file(tmp_path):
    goals = _load("speed_goals")
    assert goals.table(tmp_path).count("not measured: `python benchmarks/") == 11  # no result file yet
    assert "not measured: `python benchmarks/hour_of_video.py --runtime onnxruntime`" in goals.table(tmp_path)
    hour = {"hour_minutes": 9.5, "video": "v", "frames_per_s": 100.0, "fixed_s": 5.0, "date": "d"}
    (tmp_path / "hour_of_video.json").write_text(json.dumps(hour))
    models = {"mstcn": {"forward_ours_over_official": 0.7}, "asformer": {"forward_ours_over_official": 0.5}}
    (tmp_path / "official.json").write_text(json.dumps({"length": 100, "date": "d", "models": models}))
    rows = {line.split(" | ")[0].lstrip("| "): line for line in goals.table(tmp_path).splitlines()}
    hour_goal = "an hour of H.264 to a timeline (EfficientNet-Lite0 + MS-TCN) in under 10 min on 2 cores"
    assert rows[f"{hour_goal} (torch)"].endswith("| **met** |")
    assert "not measured" in rows[f"{hour_goal} (onnxruntime)"]
    assert rows["mstcn forward: ours / official <= 0.8"].endswith("| **met** |")
    assert rows["asformer forward: ours / official <= 0.2"].endswith("| **not met** |")
    assert rows["baformer forward: ours / official <= 0.3"].endswith("| not measured |")
    speeds = {k: {"fraction_of_peak": 0.5} for k in ("effnet_end_to_end_fps", "effnet_backbone_fps")}
    summary = {**speeds, "peak_gmacs": 30.0, "load_1min": 1.0, "i3d_sliding_speedup": 12.0}
    extraction = {"summary": summary, "date": "d", "gmacs_per_frame": {"i3d_window": 38.8, "i3d_shared": 25.6}}
    (tmp_path / "extraction.json").write_text(json.dumps(extraction))
    shared_goal = "I3D per-frame features: the exact path's speed-up over one window per frame stated"
    assert "rerun: `python benchmarks/extraction.py" in goals.table(tmp_path)  # a file from before the row
    summary["i3d_shared_speedup"] = 1.5
    (tmp_path / "extraction.json").write_text(json.dumps(extraction))
    rows = {line.split(" | ")[0].lstrip("| "): line for line in goals.table(tmp_path).splitlines()}
    assert "1.50x" in rows[shared_goal] and "38.8 -> 25.6 GMACs" in rows[shared_goal]
    assert rows[shared_goal].endswith("| stated |")
    (tmp_path / "extraction.json").unlink()
    hour["hour_minutes"] = 10.5
    (tmp_path / "hour_of_video.json").write_text(json.dumps(hour))
    rows = {line.split(" | ")[0].lstrip("| "): line for line in goals.table(tmp_path).splitlines()}
    assert "10.5 min" in rows[f"{hour_goal} (torch)"] and rows[f"{hour_goal} (torch)"].endswith("| **not met** |")


def test_speed_goals_judge_end_to_end_extraction_on_the_clip_and_on_minutes_of_video(tmp_path):
    goals = _load("speed_goals")
    summary = {
        "effnet_end_to_end_fps": {"fraction_of_peak": 0.15},
        "effnet_end_to_end_onnxruntime_fps": {"fraction_of_peak": 0.2},
        "effnet_backbone_fps": {"fraction_of_peak": 0.41},
        "peak_gmacs": 91.0,
        "load_1min": 1.8,
        "i3d_sliding_speedup": 11.7,
    }
    result = {"summary": summary, "date": "d"}
    (tmp_path / "extraction.json").write_text(json.dumps(result))
    goal = "EfficientNet-Lite0 end to end from H.264 >= 0.4 of the fp32 matmul rate"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in goals.table(tmp_path).splitlines()}
    assert rows[f"{goal} (10 s clip)"].endswith("| **not met** |")
    assert "rerun: `python benchmarks/extraction.py" in rows[f"{goal} (minutes of video)"]  # a run before the row
    summary["effnet_end_to_end_long_fps"] = {"fraction_of_peak": 0.3}
    summary["effnet_end_to_end_long_onnxruntime_fps"] = {"fraction_of_peak": 0.45}
    (tmp_path / "extraction.json").write_text(json.dumps(result | {"long_video": "bikes.mp4 repeated: 3 min"}))
    rows = {line.split(" | ")[0].lstrip("| "): line for line in goals.table(tmp_path).splitlines()}
    assert rows[f"{goal} (minutes of video)"].endswith("| **met** |")
    assert "end_to_end_long_onnxruntime_fps: 0.450" in rows[f"{goal} (minutes of video)"]


def test_causal_accuracy_smoothing_starts_from_what_the_model_decodes(toy_data):
    """The smoothing study's delay-0 row scores the decoded causal labels; each longer delay leaves fewer changes."""
    study = _load("causal_accuracy")
    data = SegmentationData(toy_data)
    model = study.fit("mstcn", data, 1, 0, {"causal": True, "num_stages": 2, "num_layers": 3, "num_f_maps": 8})[0]
    rows = study.smoothing_study(model, data)
    assert list(rows) == [f"{d:g}" for d in study.DELAYS]
    decoded = study.test_scores(model, data)
    assert {k: rows["0"][k] for k in decoded} == pytest.approx(decoded)
    fps = float(data.info.fps)
    assert rows["0"]["changes_per_min"] == pytest.approx(
        study.changes_per_minute(study.decoded_labels(model, data), fps)
    )
    changes = [rows[d]["changes_per_min"] for d in rows]
    assert changes == sorted(changes, reverse=True)
    assert study.changes_per_minute([np.array([0, 0, 1, 1, 2, 2])], fps=6.0) == pytest.approx(120.0)  # 2 in 1 s


def test_detection_oracle_with_both_truths_decodes_exactly_the_instances():
    oracle = _load("detection_oracle")
    from actionline.models.registry import build_model

    settings = {"input_dim": 8, "num_classes": 3, "num_snippets": 16, "scales": [1], "mask_channels": [8, 8, 8]}
    settings |= {"positional_encoding": True, "proposal_mode": "runs", "mask_score": "max", "consistency_loss": False}
    model = build_model("tags", settings).eval()
    torch.manual_seed(0)
    batch = {"instances": torch.tensor([[[0.25, 0.5, 0.0], [0.625, 0.875, 2.0]]]), "num_instances": torch.tensor([2])}
    outputs = model(torch.randn(1, 8, 16))
    masks_only = oracle.oracle(outputs, batch, [1], 3, masks=True, scores=False)
    assert masks_only["logits@1"] is outputs["logits@1"]  # the learned scores are kept
    assert not torch.equal(masks_only["mask_logits@1"], outputs["mask_logits@1"])
    both = oracle.oracle(outputs, batch, [1], 3, masks=True, scores=True)
    timeline = model.decode(both, torch.ones(1, 16), ["v"], ["a", "b", "c"])[0]
    found = sorted((s.start, s.end, s.label) for s in timeline.segments if s.score > 0.99)
    assert found == [(4, 8, "a"), (10, 14, "c")]


def test_baformer_probe_counts_a_no_action_query_that_wins_every_proposal():
    probe = _load("baformer_queries")
    from actionline.models.registry import build_model

    model = build_model("baformer", {"input_dim": 4, "num_classes": 2, "num_queries": 3, "num_layers": 2}).eval()
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    first = torch.tensor([5.0] * 4 + [-5.0] * 4)
    masks = torch.stack([first, -first, torch.full((8,), 6.0)])  # query 2 covers everything, more strongly
    classes = torch.tensor([[5.0, -5.0, 0.0], [-5.0, 5.0, 0.0], [-3.0, -2.0, 5.0]])  # query 2: no-action
    boundary = torch.full((8,), -5.0)
    boundary[4] = 5.0
    outputs = {
        "class_logits": classes[None, None],
        "mask_logits": masks[None, None],
        "boundary_logits": boundary[None, None],
    }
    s = probe.probe_video(model, outputs, "v", y, ["a", "b"], tolerance=0)
    assert (s["proposals"], s["winners_no_action"], s["winners_matched"]) == (2, 2, 0)
    assert (s["matched"], s["matched_class"], s["matched_iou"]) == (2, 2, 2.0)
    assert (s["peaks"], s["gt_boundaries"], s["recalled"]) == (1, 1, 1)
    assert s["correct_query"] == s["correct_gt"] == 4  # query 2's best real class (b) labels both halves
    assert s["correct_frame"] == 8  # frame voting weights the masks by the real-class probabilities


def test_ats_plugin_merges_seeds_and_pools_them_with_a_t_interval(tmp_path):
    ats = _load("ats_plugin")

    def run(seed: int, delta: float, latency: bool = False) -> dict:
        row = {"delta_top1": {"mean": delta}, "ats_minus_topk": {"mean": 1.0 + seed / 10}, "agreement": 99.0}
        record = {"seed": seed, "ats": [row | {"ratio": r, "macs_saved": 0.5} for r in ats.RATIOS]}
        return record | ({"latency_ms": {"batch_1": {}}} if latency else {})

    settings = {"seeds": "0,1", "steps": 150, "repeats": 9}
    path = tmp_path / "ats.json"
    path.write_text(json.dumps({"settings": settings, "runs": [run(0, -0.1, latency=True), run(1, 9.0)]}))
    merged_settings, runs = ats.merged(path, settings | {"seeds": "1,2"}, [run(1, 0.1), run(2, 0.0)])
    assert merged_settings["seeds"] == "0,1,2" and [r["seed"] for r in runs] == [0, 1, 2]
    assert "latency_ms" in runs[0] and runs[1]["ats"][0]["delta_top1"]["mean"] == 0.1  # kept; replaced
    pooled = ats.pooled(runs)[0]
    half = 4.302652729911275 * 0.1 / np.sqrt(3)  # t(0.975, 2) x sd / sqrt(n) of (-0.1, 0.1, 0.0)
    assert pooled["delta_top1"]["mean"] == pytest.approx(0.0)
    assert pooled["delta_top1"]["hi"] == pytest.approx(half) and pooled["delta_top1"]["n"] == 3
    assert pooled["delta_top1"]["verdict"] == "no resolved difference"
    assert pooled["ats_minus_topk"]["verdict"] == "higher"  # 1.0, 1.1, 1.2
    with pytest.raises(SystemExit, match="steps"):
        ats.merged(path, settings | {"steps": 100}, [])
