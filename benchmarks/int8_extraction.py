"""Static int8 EfficientNet-Lite0 features (ONNX Runtime, QDQ): how far they move from fp32, and what that does to
a segmentation model.

1. Feature deviation on real frames (the H.264 clip of `extraction.py`, the packaged ImageNet weights): calibrated
   on the clip's first 64 frames at 15 fps, compared with PyTorch's fp32 features on the 32 frames after them, for
   the quantizer configurations that explain the deviation `extraction.py` used to report:
   - ``products_only``: only the convolutions quantized (the configuration before), so each convolution's output
     is quantized over its range before ReLU6;
   - ``with_activations``: the ReLU6 after each convolution quantized with it, so that the convolution's output
     takes the range after ReLU6 (`engine.quantize` now);
   - ``early_fp32``: the same with the first 10 convolutions (those on 112 x 112 and 56 x 56 maps) left fp32;
   - ``deploy_case``: ``products_only`` on random weights and random inputs, as `deploy.py` measured it.
2. Downstream: labelled synthetic videos whose activities are visible (`actionline synth videos`), their
   EfficientNet-Lite0 features extracted in fp32 (PyTorch) and in int8 (``with_activations`` and ``early_fp32``,
   calibrated on frames spread over the training videos), MS-TCN (`actionline train`) trained per seed on the fp32
   features and scored on the test videos' (a) fp32 and (b) int8 features (the deployment case: a model trained on
   fp32 features fed int8 ones), and (c) trained and scored on ``early_fp32`` int8 features. Differences are paired
   by seed, 95 % Student-t.

Timing is not measured here (the rates are `extraction.py`'s). Writes ``results/int8_extraction.json``.
``python benchmarks/int8_extraction.py [--videos 16] [--fps 10] [--epochs 60] [--seeds 3]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from rich.console import Console

from actionline.data.layout import SegmentationData
from actionline.data.synthetic.video import synthesize_video_segmentation
from actionline.data.video import frame_chunks
from actionline.engine.extractor import FeatureNetwork, extract_video, load_backbone, save_npy
from actionline.engine.onnx_graph import OnnxForward, export_onnx, session_options
from actionline.engine.quantize import PRODUCTS, quantize_graph
from actionline.engine.run_record import ExtractionSettings
from actionline.io import atomic_write_text
from actionline.models.backbone import scale_pixels
from actionline.models.registry import backbone_class
from equal_budget import METRICS, interval
from extraction import VIDEO, deviation, real_frames
from sliding_accuracy import majority_accuracy, score_run, train_run

HERE = Path(__file__).resolve().parent
EARLY = 10  # EfficientNet-Lite0's convolutions before its 28 x 28 stage
INT8 = {"int8": 0, "int8_early_fp32": EARLY}  # feature folder: fp32 products (`quantize_graph`)


class _Frames:
    """ONNX Runtime's calibration reader over batches of 8 frames."""

    def __init__(self, frames: torch.Tensor):
        self.feeds = iter([{"frames": frames[i : i + 8].numpy()} for i in range(0, len(frames), 8)])

    def get_next(self) -> dict | None:
        return next(self.feeds, None)


def products_only(graph: Path, out: Path, calibration: torch.Tensor) -> Path:
    """The quantizer configuration `engine.quantize` had before: convolutions quantized, their activations not."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(
        graph,
        out,
        _Frames(calibration),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(PRODUCTS),
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    return out


def graph_features(graph: Path, frames: torch.Tensor) -> np.ndarray:
    """A backbone graph's features of scaled ``frames``, one ONNX Runtime thread."""
    session = ort.InferenceSession(str(graph), session_options(1), ["CPUExecutionProvider"])
    return session.run(None, {"frames": frames.numpy()})[0]


def configurations(effnet, work: Path) -> dict:
    """Part 1 (module docstring): each configuration's int8 features against fp32 on held-out frames."""
    clip = real_frames(VIDEO, 96, effnet)
    calibration, held = clip[:64], clip[64:]
    graph = export_onnx(effnet, work / "effnet.onnx")
    batches = [(calibration[i : i + 8],) for i in range(0, len(calibration), 8)]
    graphs = {
        "products_only": products_only(graph, work / "products.onnx", calibration),
        "with_activations": quantize_graph(graph, work / "activations.onnx", "static", batches),
        "early_fp32": quantize_graph(graph, work / "early.onnx", "static", batches, EARLY),
    }
    with torch.inference_mode():
        expected = effnet.features(held).numpy()
    out = {k: deviation(expected, graph_features(g, held)) for k, g in graphs.items()}
    torch.manual_seed(0)
    random_net = backbone_class("efficientnet_lite0")().eval()
    random_graph = export_onnx(random_net, work / "random.onnx")
    noise = torch.randn(2 + 16, 3, 224, 224)
    random_int8 = products_only(random_graph, work / "random_int8.onnx", noise[:2])
    with torch.inference_mode():
        expected = random_net.features(noise[2:]).numpy()
    out["deploy_case"] = deviation(expected, graph_features(random_int8, noise[2:]))
    return {"calibration_frames": len(calibration), "held_out_frames": len(held), **out}


def calibration_frames(videos: list[Path], backbone, fps: float, count: int) -> torch.Tensor:
    """``count`` frames spread evenly over ``videos`` (the training videos), scaled as ``backbone`` takes them."""
    spec = backbone.input
    frames = np.concatenate(
        [np.concatenate(list(frame_chunks(v, fps, spec.short_side, spec.size, 256))) for v in videos]
    )
    picked = frames[np.linspace(0, len(frames) - 1, count).round().astype(int)]
    return scale_pixels(torch.from_numpy(picked).permute(0, 3, 1, 2).contiguous(), spec.scaling)


def int8_network(effnet, calibration: torch.Tensor, fp32_products: int, work: Path) -> FeatureNetwork:
    """A `FeatureNetwork` whose backbone is the static int8 graph (`engine.quantize`)."""
    batches = [(calibration[i : i + 8],) for i in range(0, len(calibration), 8)]
    graph = export_onnx(effnet, work / "data.onnx")
    graph = quantize_graph(graph, work / f"data_int8_{fp32_products}.onnx", "static", batches, fp32_products)
    network = FeatureNetwork(effnet, torch.device("cpu"))
    session = OnnxForward(graph, effnet, threads=1)
    network.network, network.layout_last = (lambda frames: session(frames)["features"]), False
    return network


def feature_folders(data: Path, effnet, fps: float, calibration: int, work: Path) -> tuple[dict, dict]:
    """One MS-TCN dataset per runtime (the same labels and split), features [D, T] as `extract` writes them, and
    each int8 configuration's deviation from the fp32 features over every frame."""
    train = set(SegmentationData(data).split("train", 1))
    videos = sorted((data / "videos").glob("*.mp4"))
    frames = calibration_frames([v for v in videos if v.stem in train], effnet, fps, calibration)
    networks = {"fp32": FeatureNetwork(effnet, torch.device("cpu"))}
    networks |= {name: int8_network(effnet, frames, n, work) for name, n in INT8.items()}
    settings = ExtractionSettings("efficientnet_lite0", None, fps, feature_dim=1280)
    folders, vectors, seconds = {}, {}, {}
    for runtime, network in networks.items():
        started = time.process_time()
        vectors[runtime] = {v.stem: extract_video(v, network, settings, 16) for v in videos}
        seconds[runtime] = time.process_time() - started
        print(f"{runtime} features: {seconds[runtime]:.0f} CPU s", flush=True)
        folder = folders[runtime] = work / runtime
        shutil.copytree(data, folder, ignore=shutil.ignore_patterns("videos"))
        (folder / "features").mkdir(exist_ok=True)
        for video, x in vectors[runtime].items():
            save_npy(str(folder / "features" / f"{video}.npy"), np.ascontiguousarray(x.T))
    fp32 = np.concatenate(list(vectors["fp32"].values()))
    out = {name: deviation(fp32, np.concatenate(list(vectors[name].values()))) for name in INT8}
    return folders, {**out, "frames": len(fp32), "extraction_cpu_s": seconds}


def downstream(folders: dict, epochs: int, seeds: int, work: Path) -> dict:
    """Part 2 (module docstring): per seed the three cases' scores, then the paired differences."""
    runs = []
    for seed in range(seeds):
        fp32_run = train_run(folders["fp32"], epochs, seed, work)
        int8_run = train_run(folders["int8_early_fp32"], epochs, seed, work)
        run = {"seed": seed, **{f"fp32_on_{f}": score_run(fp32_run, folders[f], work) for f in ("fp32", *INT8)}}
        run["int8_early_fp32_on_int8_early_fp32"] = score_run(int8_run, folders["int8_early_fp32"], work)
        runs.append(run)
        print(json.dumps(runs[-1]), flush=True)
    cases = [k for k in runs[0] if k != "seed"]
    summary = {c: {m: interval([r[c][m] for r in runs]) for m in METRICS} for c in cases}
    differences = {
        f"{c} - fp32_on_fp32": {m: interval([r[c][m] - r["fp32_on_fp32"][m] for r in runs]) for m in METRICS}
        for c in cases[1:]
    }
    return {"runs": runs, "summary": summary, "differences": differences}


def holds(differences: dict, points: float) -> dict[str, bool]:
    """Per int8 configuration: the deployment case loses at most ``points`` of Acc and F1@50 (both intervals' lower
    ends above -points)."""
    deploy = {name: differences[f"fp32_on_{name} - fp32_on_fp32"] for name in INT8}
    return {name: all(d[m]["lo"] >= -points for m in ("acc", "f1@50")) for name, d in deploy.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=16)
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--calibration", type=int, default=64, help="frames spread over the training videos")
    ap.add_argument("--tolerance", type=float, default=1.0, help="points of Acc and F1@50 the int8 case may lose")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "int8_extraction.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ort_threads = ort.SessionOptions().intra_op_num_threads  # OnnxForward's default: ONNX Runtime's own choice
    effnet, _ = load_backbone("efficientnet_lite0", None, Console(stderr=True))
    started = time.process_time()
    with tempfile.TemporaryDirectory(prefix="int8-extraction-") as tmp:
        work = Path(tmp)
        clip_deviation = configurations(effnet, work)
        print(json.dumps(clip_deviation, indent=1), flush=True)
        data = synthesize_video_segmentation(work / "data", num_videos=args.videos, fps=args.fps)
        folders, feature_deviation = feature_folders(data, effnet, args.fps, args.calibration, work)
        scores = downstream(folders, args.epochs, args.seeds, work)
        test_videos = SegmentationData(folders["fp32"]).split("test", 1)
        majority = majority_accuracy(folders["fp32"])
    result = {
        "backbone": "efficientnet_lite0 (packaged ImageNet weights)",
        "quantization": "ONNX Runtime quantize_static, QDQ, uint8 activations (MinMax), int8 per-channel weights",
        "early_fp32_products": EARLY,
        "clip": VIDEO.name,
        "clip_deviation": clip_deviation,
        "videos": args.videos,
        "test_videos": test_videos,
        "fps": args.fps,
        "calibration_frames": args.calibration,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "feature_deviation": feature_deviation,
        "majority_acc": majority,
        **scores,
        "tolerance_points": args.tolerance,
        "holds": holds(scores["differences"], args.tolerance),
        "cpu_s": time.process_time() - started,
        "threads": {"torch": torch.get_num_threads(), "onnxruntime_default": ort_threads},
        "onnxruntime": ort.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }
    atomic_write_text(args.output, json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("feature_deviation", "differences", "holds")}, indent=1))


if __name__ == "__main__":
    main()
