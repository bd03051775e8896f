"""Deployment runtimes side by side in one run on this CPU: PyTorch fp32, ONNX Runtime fp32 and ONNX Runtime int8
(dynamic; static, calibrated) for MS-TCN, ASFormer, BaFormer, RTK, GSMT, TAGS (2048-d input, 19 classes; segmentation at
T = 5,750, the detectors at their snippets) and the backbones EfficientNet-Lite0 (a batch of 224x224 frames) and
I3D (one 21-frame window).

Per model: the median latency of each runtime (interleaved rounds), the largest difference of ONNX Runtime fp32's
outputs from PyTorch's, and how far int8 moves the outputs (the fraction of frame labels kept for the segmentation
models, the largest output difference for the detectors, the relative error of the features for the backbones).
Segmentation graphs are exported once at T = `EXPORT_LENGTH` (their time axis is symbolic) and timed at ``--length``.
Static int8 is calibrated on two random inputs here (latency only; the accuracy part calibrates on training
features). The fp32 matmul peak (2048^3 product) is re-timed in every round of every model; EfficientNet-Lite0's
frames/s through the fastest runtime is stated as a fraction of the best peak of its own rounds.

Accuracy (``--accuracy``): MS-TCN and ASFormer (small settings) trained for ``--epochs`` on a synthetic dataset, then
Acc / Edit / F1@{10,25,50} on its test split with each runtime, static int8 calibrated on training videos
(`Task.calibration_inputs`, as ``export-model --quantize int8-static`` does).

    python benchmarks/deploy.py --threads 1                      # the full table (T = 5,750, 3 rounds)
    python benchmarks/deploy.py --threads 1 --quick              # the same models: 2 rounds, T = 2,048
    python benchmarks/deploy.py --threads 1 --models none --accuracy --output benchmarks/results/deploy_accuracy.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import actionline.models  # noqa: F401  (registers every model)
from actionline.engine.onnx_graph import OnnxForward, example_inputs, export_onnx
from actionline.engine.quantize import quantize_graph
from actionline.io import atomic_write_text
from actionline.models.registry import backbone_class, build_model
from actionline.nn.networks.inference_form import channels_last, inference_form

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import tables  # noqa: E402
from efficiency import matmul_peak_gmacs  # noqa: E402

TEMPORAL = {
    "mstcn": ("mstcn", {}),
    "asformer": ("asformer", {}),
    "baformer": ("baformer", {}),
    "rtk": ("rtk", {}),
    "gsmt": ("tags", {"scales": [1], "num_snippets": 100, "mask_score": "max"}),
    "tags": ("tags", {"scales": [1, 2], "num_snippets": 100}),
}
BACKBONES = {"efficientnet_lite0": 32, "i3d_rgb": 1}  # inputs per call: frames / windows
EFFICIENTNET_LITE0_GMACS = 0.384  # per 224x224 frame (the convention)
EXPORT_LENGTH = 64  # positions a segmentation graph is captured at (its time axis is symbolic)
RUNTIMES = ("torch", "ort_fp32", "ort_int8", "ort_int8_static")
# --accuracy: small settings, so that both train in CPU-minutes (the papers' sizes gain nothing on this data)
ACCURACY_MODELS = {
    "mstcn": {"num_stages": 2, "num_layers": 8, "num_f_maps": 32},
    "asformer": {"num_decoders": 2, "num_layers": 6, "num_f_maps": 32, "att_channels": 16},
}


def median_ms(run, repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def graphs(module, folder: Path, name: str, calibration: list) -> tuple[dict[str, OnnxForward], dict[str, float]]:
    """ONNX Runtime runners of ``module`` (fp32, int8 dynamic, int8 static calibrated on ``calibration``) and the
    seconds the export and each quantization took."""
    started = time.perf_counter()
    fp32 = export_onnx(module, folder / f"{name}.onnx", length=EXPORT_LENGTH)
    exported = time.perf_counter()
    dynamic = quantize_graph(fp32, folder / f"{name}.int8.onnx", "dynamic")
    quantized = time.perf_counter()
    static = quantize_graph(fp32, folder / f"{name}.int8s.onnx", "static", calibration)
    seconds = {
        "export_s": exported - started,
        "int8_dynamic_s": quantized - exported,
        "int8_static_s": time.perf_counter() - quantized,
    }
    runners = {"ort_fp32": fp32, "ort_int8": dynamic, "ort_int8_static": static}
    return {k: OnnxForward(v, module) for k, v in runners.items()}, seconds


def timed(runners: dict, rounds: int) -> dict[str, float]:
    """Median ms of each runner over interleaved rounds, and the best fp32 matmul peak re-timed in every round."""
    times: dict[str, list[float]] = {k: [] for k in runners}
    peaks = []
    with torch.inference_mode():
        for _ in range(rounds):
            peaks.append(matmul_peak_gmacs(repeats=2))
            for key, run in runners.items():
                times[key].append(median_ms(run, 1))
    return {**{k: statistics.median(v) for k, v in times.items()}, "matmul_peak_gmacs_per_s": max(peaks)}


def temporal(name: str, length: int, rounds: int, folder: Path) -> dict:
    registered, settings = TEMPORAL[name]
    torch.manual_seed(0)
    model = build_model(registered, {"input_dim": 2048, "num_classes": 19, **settings}).eval()
    torch.manual_seed(1)
    calibration = [example_inputs(model, n) for n in (EXPORT_LENGTH, 2 * EXPORT_LENGTH)]
    graph, seconds = graphs(model, folder, name, calibration)
    x, mask = example_inputs(model, length)
    with torch.inference_mode():
        ref = model(x, mask)
    outputs = {k: g(x, mask) for k, g in graph.items()}
    row = timed({"torch": lambda: model(x, mask), **{k: (lambda g=g: g(x, mask)) for k, g in graph.items()}}, rounds)
    row.update(length=x.shape[-1], **seconds)
    row["ort_max_abs_diff"] = max(float((outputs["ort_fp32"][k] - ref[k]).abs().max()) for k in ref)
    for key in ("ort_int8", "ort_int8_static"):
        low = outputs[key]
        if "logits" in ref and ref["logits"].ndim == 4:  # segmentation: final-stage frame labels kept
            row[key + "_effect"] = float((low["logits"][-1].argmax(1) == ref["logits"][-1].argmax(1)).float().mean())
        else:
            row[key + "_effect"] = max(float((low[k] - ref[k]).abs().max()) for k in ref)
    return row


def backbone(name: str, batch: int, rounds: int, folder: Path) -> dict:
    torch.manual_seed(0)
    net = backbone_class(name)().eval()
    (x,) = example_inputs(net)
    torch.manual_seed(1)
    graph, seconds = graphs(net, folder, name, [(torch.randn(2, *x.shape[1:]),)])
    x = torch.randn(batch, *x.shape[1:])
    with torch.inference_mode():
        ref = net.features(x)
    outputs = {k: g(x)["features"] for k, g in graph.items()}
    # PyTorch as `extract` runs it: the inference form (BatchNorm folded, in-place activations) on channels-last input
    dims = x.ndim - 2
    fast, x_last = inference_form(net, dims), channels_last(x)
    row = timed({"torch": lambda: fast(x_last), **{k: (lambda g=g: g(x)) for k, g in graph.items()}}, rounds)
    row.update(batch=batch, **seconds, ort_max_abs_diff=float((outputs["ort_fp32"] - ref).abs().max()))
    for key in ("ort_int8", "ort_int8_static"):  # relative error of the features
        row[key + "_effect"] = float((outputs[key] - ref).norm() / ref.norm())
    return row


def accuracy(epochs: int, folder: Path) -> dict:
    """MS-TCN and ASFormer trained briefly on synthetic features, scored with each runtime on the test split."""
    from actionline.data.layout import SegmentationData
    from actionline.data.synthetic.features import synthesize_segmentation
    from actionline.engine.predictor import load_run
    from actionline.metrics.segmentation import SegmentationSettings, evaluate_segmentation
    from actionline.tasks.segmentation import SegmentationTask, segment_video, train_segmentation

    root = synthesize_segmentation(folder / "data", num_videos=24, feature_dim=64, seed=0, length_scale=0.5)
    data = SegmentationData(root)
    test = data.split("test", 1)
    gts = [data.labels(v) for v in test]
    frames = np.concatenate(gts)
    majority = np.bincount(frames).max() / len(frames)
    results: dict = {}
    for name, settings in ACCURACY_MODELS.items():
        started = time.process_time()
        train_segmentation(name, data, 1, folder / name, {"model": settings, "train": {"epochs": epochs}})
        model, meta = load_run(folder / name, device="cpu")
        calibration = SegmentationTask().calibration_inputs(model, meta, 8)
        graph, _ = graphs(model, folder, f"{name}-acc", calibration)
        scores = {}
        for runtime in RUNTIMES:
            model, _ = load_run(folder / name, device="cpu")
            if runtime != "torch":
                model.forward = graph[runtime]  # as `engine.onnx_graph.run_with_onnxruntime` does
            preds = [
                segment_video(model, data.features(v), data.classes, data.info.sample_rate, None, v).to_labels(
                    data.classes
                )
                for v in test
            ]
            report = evaluate_segmentation(preds, gts, SegmentationSettings(), classes=data.classes).as_dict()
            scores[runtime] = {k: float(report[k]) for k in ("acc", "edit", "f1@10", "f1@25", "f1@50")}
        results[name] = {"settings": settings, "cpu_s": time.process_time() - started, **scores}
    return {
        "epochs": epochs,
        "dataset": f"synthetic (synth segmentation: 24 videos, 64-d, seed 0, length scale 0.5; {len(data.classes)} "
        f"classes), split 1 ({len(test)} test videos)",
        "majority_class_acc": 100 * majority,
        "calibration": "static int8: 8 training videos of split 1",
        "models": results,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--length", type=int, default=5750)
    ap.add_argument("--quick", action="store_true", help="2 rounds and T = 2,048 (the same models and runtimes)")
    ap.add_argument("--models", default=",".join([*TEMPORAL, *BACKBONES]), help="comma-separated, or none")
    ap.add_argument("--accuracy", action="store_true")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=None, help="threads of both runtimes (default: torch's)")
    ap.add_argument("--note", default="", help="conditions to record with the numbers (e.g. machine load)")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "deploy.json")
    args = ap.parse_args()
    import onnxruntime

    if args.quick:
        args.rounds, args.length = 2, 2048
    models = [] if args.models == "none" else args.models.split(",")
    unknown = [m for m in models if m not in TEMPORAL and m not in BACKBONES]
    if unknown:
        ap.error(f"unknown models {unknown}; known: {', '.join([*TEMPORAL, *BACKBONES])}")
    if args.threads:
        torch.set_num_threads(args.threads)  # ONNX Runtime sessions take torch's count (`session_options`)

    started = time.perf_counter()
    payload: dict = {
        "threads": torch.get_num_threads(),
        "rounds": args.rounds,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "note": args.note,
        "load_average_at_start": os.getloadavg()[0],
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            print(f"{name} ...", flush=True)
            cpu = time.process_time()
            if name in BACKBONES:
                row = backbone(name, BACKBONES[name], args.rounds, Path(tmp))
            else:
                row = temporal(name, args.length, args.rounds, Path(tmp))
            row["cpu_s"] = time.process_time() - cpu  # export, quantization, timing: what a rerun costs
            payload["models"][name] = row
            print(json.dumps(row), flush=True)
            lite = payload["models"].get("efficientnet_lite0")
            if lite:
                fastest = min(lite[k] for k in RUNTIMES)
                fps = lite["batch"] / (fastest / 1000)
                payload["efficientnet_lite0_fraction_of_peak"] = (
                    fps * EFFICIENTNET_LITE0_GMACS / lite["matmul_peak_gmacs_per_s"]
                )
            payload["wall_s"] = time.perf_counter() - started
            atomic_write_text(args.output, json.dumps(payload, indent=1))  # after each model: a partial run counts
        if args.accuracy:
            payload["accuracy"] = accuracy(args.epochs, Path(tmp))
    payload["wall_s"] = time.perf_counter() - started
    atomic_write_text(args.output, json.dumps(payload, indent=1))
    print(tables.deploy(payload))


if __name__ == "__main__":
    main()
