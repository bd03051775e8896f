"""Markdown tables from the result files in ``results/``: the one renderer per benchmark, used by the benchmark
scripts when they write results and by `make_readme.py` when it regenerates ``README.md``."""

from __future__ import annotations

from pathlib import Path

import tables_video_claims

METRICS = ("acc", "edit", "f1@10", "f1@25", "f1@50")


def segmentation(r: dict) -> str:
    """`segmentation_baselines.py`: per model accuracy, size and time; keypoint quality (RTK Table 6)."""
    rate = f"sample rate {r['sample_rate']}, " if r.get("sample_rate") else ""
    lines = [
        f"Synthetic features on real {r['dataset']} labels ({r['features'].split(',')[1].strip()}), splits "
        f"{r['splits']}, {rate}{r['epochs']} epochs each, CPU ({r['machine']['cpu_threads']} threads). "
        f"{r['settings']}.",
        "",
        "| model | params | Acc | Edit | F1@10 | F1@25 | F1@50 | train s/video/epoch | inference s/video |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model, s in r["summary"].items():
        lines.append(
            f"| {model} | {s['params']:,} | {s['acc']:.1f} | {s['edit']:.1f} | {s['f1@10']:.1f} | "
            f"{s['f1@25']:.1f} | {s['f1@50']:.1f} | {s['train_s_per_video_epoch']:.3f} | "
            f"{s['infer_s_per_video']:.3f} |"
        )
    lines += [
        "",
        "Keypoint quality (RTK Table 6; frame-wise models: their segments' mid-points and starts; boundary correct "
        "within 5 frames):",
        "",
        "| model | action Acc | action Rec | boundary Acc | boundary Rec |",
        "|---|---|---|---|---|",
    ]
    for model, s in r["summary"].items():
        k = s["keypoints"]
        lines.append(
            f"| {model} | {k['action_acc']:.1f} | {k['action_rec']:.1f} | {k['boundary_acc']:.1f} | "
            f"{k['boundary_rec']:.1f} |"
        )
    lines += [f"\nVariant {label}: {', '.join(o)}." for label, o in r.get("variants", {}).items()]
    return "\n".join(lines) + "\n"


def inference_variants(rows: dict, title: str) -> str:
    """`baformer_inference_ablations.py` / `rtk_inference_ablations.py`: one row of metrics per variant."""
    lines = [f"| {title} | Acc | Edit | F1@10 | F1@25 | F1@50 |", "|---|---|---|---|---|---|"]
    lines += [f"| {n} | " + " | ".join(f"{r[k]:.1f}" for k in METRICS) + " |" for n, r in rows.items()]
    return "\n".join(lines) + "\n"


def detection(result: dict) -> str:
    """`detection.py`: mAP per tIoU threshold, average, size and time per model."""
    p = result["protocol"]
    ths = [f"{t:g}" for t in p["tiou"]]
    lines = [
        f"Synthetic features on real {result['dataset']} timings ({p['videos']['train']} {p['train_subset']} / "
        f"{p['videos']['test']} {p['test_subset']} videos), {p['epochs']} epochs, {p['optimizer']}, mask head "
        f"{p['mask_channels']}, CPU ({result['machine']['threads']} threads).",
        "",
        "| model | params | " + " | ".join(f"mAP@{t}" for t in ths) + " | avg | inference s/video |",
        "|---|---|" + "---|" * len(ths) + "---|---|",
    ]
    for r in result["rows"]:
        cells = " | ".join(f"{r['map'][t]:.1f}" for t in ths)
        lines.append(
            f"| {r['model']} | {r['params']:,} | {cells} | {r['avg_map']:.1f} | {r['inference_s_per_video']:.3f} |"
        )
    return "\n".join(lines) + "\n"


WEAK_METRICS = ("acc", "acc_no_bg", "matching", "edit", "f1@10", "f1@25", "f1@50")


def weak_supervision(r: dict) -> str:
    """`weak_supervision.py`: methods (mean ± std over seeds), SCT ablation, mixed supervision, speed."""
    p = r["protocol"]
    lines = [
        f"Synthetic features on real Breakfast labels ({p['train_videos']} training / {p['test_videos']} test videos "
        f"of split 1, D={p['feature_dim']}), {p['epochs']} epochs, Adam {p['lr']}, seeds {p['seeds']} (mean ± std). "
        "Background for MoF-BG: SIL.",
        "",
        "| method | MoF | MoF-BG | matching | Edit | F1@10 | F1@25 | F1@50 | inference s/video |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    m = r["majority"]
    lines.append("| majority class | " + " | ".join(f"{m[k]:.1f}" for k in WEAK_METRICS) + " | - |")
    for name, vals in r.get("methods", {}).items():
        cells = " | ".join(f"{vals[k][0]:.1f} ± {vals[k][1]:.1f}" for k in WEAK_METRICS)
        lines.append(f"| {name} | {cells} | {vals['s_per_video'][0]:.3f} |")
    if "sets" in r:
        lines += [
            "",
            "What action sets carry (training videos; a set shared with other videos tells little about any one):",
            "",
            "| videos | count | classes | mean set size | distinct sets | videos sharing their set |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {k} | {v['videos']} | {v['classes']} | {v['mean_set_size']:.1f} | {v['distinct_sets']} | "
            f"{v['videos_sharing_their_set']} |"
            for k, v in r["sets"].items()
        ]
    if r.get("sct_ablation"):
        lines += ["", "SCT loss ablation (seed 0):", "", "| losses | MoF | F1@25 |", "|---|---|---|"]
        lines += [f"| {k} | {v['acc']:.1f} | {v['f1@25']:.1f} |" for k, v in r["sct_ablation"].items()]
    if "mixed" in r:
        lines += ["", "MuCon-full MoF by fully labelled fraction (seed 0):", ""]
        lines += ["| " + " | ".join(f"{k}%" for k in r["mixed"]) + " |", "|" + "---|" * len(r["mixed"])]
        lines += ["| " + " | ".join(f"{v:.1f}" for v in r["mixed"].values()) + " |"]
    if "speed" in r:
        lines += [
            "",
            "Inference seconds per video (median of 8 test videos) against the number of distinct training "
            "transcripts:",
            "",
            "| transcripts | MuCon-full | NNV-style alignment |",
            "|---|---|---|",
        ]
        lines += [f"| {x['transcripts']} | {x['mucon_full_s']:.3f} | {x['nnv_s']:.3f} |" for x in r["speed"]["rows"]]
    return "\n".join(lines) + "\n"


def efficiency(r: dict) -> str:
    """`efficiency.py`: size, GMACs, inference and training-step latency as fractions of the matmul peak, and the
    floor the products alone set (their time replayed alone, and the fraction of the peak it allows)."""
    peak = r["matmul_peak_gmacs_per_s"]
    lines = [
        f"T = {r['length']}, 2048-d input, 19 classes, batch 1, CPU with {r['threads']} threads, torch {r['torch']}; "
        f"medians of {r['rounds']} interleaved rounds. fp32 matmul peak measured in the same run: {peak:.0f} GMAC/s. "
        "Inference: forward + decode. Training step: forward, loss, backward, Adam. Fraction of the peak: GMACs of "
        "all products (x3 for a training step) per second over the peak. Products alone: the workload's own "
        "products replayed one by one with warm caches, best of the run; ceiling: the fraction of the peak the "
        "workload would reach if nothing but these products took time.",
        "",
        "| model | params | GMACs conv+linear | GMACs all products | inference ms | fraction of peak | "
        "products alone ms | ceiling | training step ms | fraction of peak | products alone ms | ceiling | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in r["models"].items():
        floor = {k: f"{p[k + '_products_ms']:.0f} | {p[k + '_ceiling_fraction']:.2f}" for k in ("inference", "train")}
        lines.append(
            f"| {name} | {p['params']:,} | {p['gmacs']:.2f} | {p['gmacs_total']:.2f} | {p['inference_ms']:.0f} | "
            f"{p['inference_fraction_of_peak']:.2f} | {floor['inference']} | {p['train_step_ms']:.0f} | "
            f"{p['train_fraction_of_peak']:.2f} | {floor['train']} | {p['peak_mem_mb']:.0f} |"
        )
    if "metrics" in r:
        m = r["metrics"]
        lines += [
            "",
            f"Metrics over {m['videos']} Breakfast videos ({m['frames']:,} frames): {m['ours_s']:.2f} s vs "
            f"{m['reference_loops_s']:.1f} s for the reference-style loops ({m['speedup']:.0f}x), identical "
            f"numbers: {m['identical']}."
            + (
                f" The same labels given as names: {m['ours_names_s']:.2f} s, identical scores: {m['names_identical']}."
                if "ours_names_s" in m
                else ""
            ),
        ]
    return "\n".join(lines) + "\n"


def long_video(r: dict) -> str:
    """`long_video.py`: per model time and peak memory on one long video; decode vs extraction throughput."""
    lines = [
        f"One video of T = {r['length']:,} frames ({r['length'] / 15 / 3600:.2f} h at 15 fps), {r['dim']}-d features, "
        f"{r['classes']} classes, forward + decode, CPU with {r['threads']} threads (load average at the start: "
        f"{r['machine']['load_average_at_start']:.1f}); each model in its own process.",
        "",
        "| model | seconds | peak RSS MB | segments |",
        "|---|---|---|---|",
    ]
    for m in r["models"]:
        if "error" in m:
            lines.append(f"| {m['model']} | failed: {m['error']} | | |")
        else:
            lines.append(f"| {m['model']} | {m['seconds']:.1f} | {m['peak_rss_mb']:,.0f} | {m['segments']} |")
    if r.get("video"):
        lines += [
            "",
            "Video pipeline on the real clips (sampled at 15 fps, 256 -> 224 crop), frames per second:",
            "",
            "| video | frames | decode + resize only | decode + EfficientNet-Lite0 features |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {v['video']} | {v['frames']} | {v['decode_fps']:.0f} | {v['extract_fps']:.1f} |" for v in r["video"]
        ]
    return "\n".join(lines) + "\n"


def video_classification(r: dict) -> str:
    """`video_classification.py`: 3D-ResNet-18 vs STC-ResNet-18, and random / inflation / transfer init."""

    def pm(s: dict) -> str:
        return f"{s['mean']:.1f} ± {s['std']:.1f}"

    frames, size, _ = r["clip"]
    lines = [
        f"Synthetic motion set (6 classes in pairs only motion or order tells apart; 144 training, 48 test videos), "
        f"width {r['width']}, {frames} x {size} x {size} clips, {r['epochs']} epochs, seeds {r['seeds']}; video "
        "top-1 on the test part (mean of 3 uniform clips), mean ± std over seeds.",
        "",
        "| model | video top-1 | clip top-1 | parameters | GMACs | CPU ms / clip | train s "
        "| parameters, GMACs at 16x112x112, width 64 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in r["models"].items():
        lines.append(
            f"| {name} | {pm(m['top1'])} | {pm(m['clip_top1'])} | {m['params']:,} | {m['gmacs']:.3f} | "
            f"{m['latency_ms']:.1f} | {m['train_s']:.0f} | {m['params_full'] / 1e6:.1f}M, {m['gmacs_full']:.2f} |"
        )
    if "inits" in r:
        lines += [
            "",
            f"Initialisation of the same student (resnet3d_18). The 2D network behind inflation and transfer is a "
            f"ResNet-18 of the same width trained on single frames to name shape x colour "
            f"({r['teacher_frame_accuracy']:.1f} % on fresh frames); correspondence pre-training "
            f"{r['pretrain']['epochs']} epochs ({r['pretrain']['seconds']:.0f} s, held-out pair accuracy "
            f"{r['pretrain']['best'].get('pair_acc', float('nan')):.1f} %).",
            "",
            "| init | video top-1 |",
            "|---|---|",
        ]
        lines += [f"| {name} | {pm(s)} |" for name, s in r["inits"].items()]
    return "\n".join(lines) + "\n"


def _ci(s: dict) -> str:
    return f"{s['mean']:.1f} [{s['lo']:.1f}, {s['hi']:.1f}]"


def _differences(r: dict) -> list[str]:
    lines = ["", "| difference, paired by seed | mean [95 % interval] | verdict |", "|---|---|---|"]
    return lines + [f"| {name} | {_ci(d)} | {d['verdict']} |" for name, d in r["differences"].items()]


def stc_ablation(r: dict) -> str:
    """`stc_ablation.py`: 3D / TCB only / SCB only / STC at r = 4 and a wider plain 3D ResNet, intervals over seeds,
    and STC's parameter overhead at the published width."""
    s = r["setup"]
    frames, size, _ = s["clip"]
    lines = [
        f"Distractor clips ({s['classes']} directions, noise {s['noise']:.0f}), ResNet-18 width {s['width']} at "
        f"{frames} x {size} x {size}, r = {s['reduction']}; {s['train_clips']} training clips, {s['steps']} steps of "
        f"{s['batch']}; top-1 on {s['test_clips']} test clips; mean [95 % t-interval] over seeds {s['seeds']} "
        f"({s['threads']} thread, {s['seconds'] / 60:.0f} min in all).",
        "",
        "| network | top-1 | parameters | train s per run |",
        "|---|---|---|---|",
    ]
    for name, a in r["accuracy"].items():
        lines.append(f"| {name} | {_ci(a)} | {r['parameters'][name]:,} | {r['train_seconds'][name]:.0f} |")
    lines += _differences(r)
    lines += ["", "STC's parameters at the published width (16 frames, 400 classes), counted on our networks:", ""]
    lines += ["| network | plain | STC r = 4 | STC r = 16 |", "|---|---|---|---|"]
    for name, o in r["overhead_full_width"].items():
        lines.append(
            f"| {name} | {o['plain'] / 1e6:.1f}M | {o['stc_r4'] / 1e6:.1f}M (+{100 * o['overhead_r4']:.0f} %) | "
            f"{o['stc_r16'] / 1e6:.1f}M (+{100 * o['overhead_r16']:.0f} %) |"
        )
    return "\n".join(lines) + "\n"


def transfer_init(r: dict) -> str:
    """`transfer_init.py`: teacher and pretext accuracy, then random / inflation / transfer fine-tuning."""
    s = r["setup"]
    frames, size, _ = s["clip"]
    pairs = ", ".join(f"{k} {v:.1f} %" for k, v in r["pair_accuracy"].items())
    lines = [
        f"Object videos ({s['classes']} classes = 4 identities x 2 motions), ResNet-18 width {s['width']}, clips "
        f"{frames} x {size} x {size} of {s['video_frames']}-frame videos. 2D teacher: {r['teacher_accuracy']:.1f} % on "
        f"fresh frames. Correspondence pre-training on {s['unlabelled_videos']:,} unlabelled videos "
        f"({s['pretrain_steps']} steps of {s['pretrain_batch']} pairs, negatives background-matched), held-out pair "
        f"accuracy over {s['held_out_pairs']} pairs (chance 50 %): {pairs}. Fine-tuning on "
        f"{s['labelled_videos']} labelled videos ({s['fine_tune_steps']} steps of {s['fine_tune_batch']}), top-1 on "
        f"{s['test_videos']:,} test videos; mean [95 % t-interval] over seeds {s['seeds']} ({s['threads']} thread, "
        f"{s['seconds'] / 60:.0f} min in all).",
        "",
        "| student, initialisation | top-1 |",
        "|---|---|",
    ]
    lines += [f"| {name} | {_ci(a)} |" for name, a in r["accuracy"].items()]
    return "\n".join(lines + _differences(r)) + "\n"


def sgs(r: dict) -> str:
    """`sgs.py`: a 3D ResNet with and without SGS, B' against K, the bins ablation, test-time B."""
    frames, size, _ = r["clip"]
    lines = [
        f"Redundancy set (4 step directions, K = 2..12 held positions per 32-frame clip), {r['model']} "
        f"(width {r['width']}) at {frames} x {size} x {size}, SGS after stage 1, {r['epochs']} epochs, seeds "
        f"{r['seeds']}. GMACs per clip counted clip by clip at batch size 1 and averaged over the test clips; "
        "latency: median per clip, batch 1, "
        f"both networks interleaved in one run ({r['threads']} threads).",
        "",
        "| network | video top-1 | GMACs per clip | CPU ms per clip | train s |",
        "|---|---|---|---|---|",
    ]
    for name, m in r["models"].items():
        lines.append(
            f"| {name} | {m['top1']['mean']:.1f} ± {m['top1']['std']:.1f} | {m['gmacs']:.3f} | "
            f"{r['latency_ms']['sgs' if name.startswith('with') else 'plain']:.1f} | {m['train_s']:.0f} |"
        )
    by_k: dict[int, list[int]] = {}
    for row in r["bins_vs_moments"]:
        by_k.setdefault(row["moments"], []).append(row["bins"])
    lines += [
        "",
        "Bins kept (B') against the true number of distinct moments K (test clips, seed "
        f"{r['seeds'][0]}; B' counts the bins SGS keeps after res2):",
        "",
        "| K | clips | B' mean | B' min-max |",
        "|---|---|---|---|",
    ]
    lines += [f"| {k} | {len(v)} | {sum(v) / len(v):.1f} | {min(v)}-{max(v)} |" for k, v in sorted(by_k.items())]
    lines += ["", f"| B (trained with) | video top-1 | GMACs | B (at test, trained with {r['bins']}) | video top-1 "
              "| GMACs |", "|---|---|---|---|---|---|"]  # fmt: skip
    for b in sorted(r["bins_ablation"], key=int):
        t, v = r["bins_ablation"][b], r["test_time_bins"][b]
        lines.append(f"| {b} | {t['top1']:.1f} | {t['gmacs']:.3f} | {b} | {v['top1']:.1f} | {v['gmacs']:.3f} |")
    return "\n".join(lines) + "\n"


def ats(r: dict) -> str:
    """`ats.py`: multi-stage ATS added to a trained ViT without fine-tuning, against top-K at matched GMACs."""
    m, v = r["model"], r["vanilla"]
    lines = [
        f"ViT (d {m['dim']}, {m['depth']} blocks, {m['heads']} heads, {m['size']} x {m['size']} images, patch "
        f"{m['patch']}) trained {r['train']['steps']} steps of {r['train']['batch']} images "
        f"({r['train']['seconds']:.0f} s); ATS in blocks {m['ats_blocks']} added without fine-tuning; "
        f"{r['test_images']} test images. Vanilla: top-1 {v['top1']:.1f} at {v['gmacs'] * 1000:.1f} MMACs per image.",
        "",
        "| ρ | ATS top-1 | agreement with vanilla | MMACs | tokens after the last block | Pearson(tokens, clutter) "
        "| top-K top-1 (same MMACs) | top-K agreement | top-K MMACs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in r["ats"]:
        t = a["topk"]
        lines.append(
            f"| {a['ratio']} | {a['top1']:.1f} | {a['agreement']:.1f} | {a['gmacs'] * 1000:.1f} | "
            f"{a['kept_last_block']:.1f} | {a['kept_vs_clutter_pearson']:.2f} | {t['top1']:.1f} | "
            f"{t['agreement']:.1f} | {t['gmacs'] * 1000:.1f} |"
        )
    ips = r["images_per_s"]
    lines += ["", f"Images per second at batch 64 ({r['threads']} threads, interleaved): vanilla "
              f"{ips['vanilla']:.0f}, ATS ρ = 0.7 {ips['ats_0.7']:.0f}."]  # fmt: skip
    if "video" in r:
        v = r["video"]
        s = v["settings"]
        lines += [
            "",
            f"Video transformer (divided space-time attention; {s['frames']} x {s['size']} x {s['size']}, patch "
            f"{s['patch']}, d {s['dim']}, {s['depth']} blocks) trained {v['epochs']} epochs on the motion set "
            f"({v['train_s']:.0f} s), vanilla video top-1 {v['vanilla']['top1']:.1f}; ATS in blocks 1-3 at "
            "prediction, no fine-tuning:",
            "",
            "| ρ | video top-1 | agreement with vanilla | GMACs per clip | without ATS |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {b['ratio']} | {b['top1']:.1f} | {b['agreement']:.1f} | {b['gmacs']:.3f} | {b['gmacs_fixed']:.3f} |"
            for b in v["budgets"]
        ]
    return "\n".join(lines) + "\n"


def hvu(r: dict) -> str:
    """`hvu.py`: per-category mAP on HVU-lite, like the thesis' Table 5.x."""
    categories = ["scene", "object", "action", "event", "attribute", "concept", "overall"]
    lines = [
        f"HVU-lite (160 training, 60 validation clips; 19 tags in six categories), width {r['width']}, "
        f"{r['clip'][0]} x {r['clip'][1]} x {r['clip'][2]} clips, {r['epochs']} epochs, seeds {r['seeds']}; mAP "
        "(step-wise AP) on the validation clips, mean ± std over seeds.",
        "",
        "| model | " + " | ".join(c.capitalize() for c in categories) + " | train s |",
        "|---|" + "---|" * (len(categories) + 1),
    ]
    for name, m in r["models"].items():
        cells = " | ".join(f"{m[c]['mean']:.1f} ± {m[c]['std']:.1f}" for c in categories)
        lines.append(f"| {name} | {cells} | {m['train_s']:.0f} |")
    return "\n".join(lines) + "\n"


def dataset_build(r: dict) -> str:
    """`dataset_build.py`: `dataset build` throughput beside the backbone's own rate."""
    m = r["machine"]
    return "\n".join(
        [
            f"`dataset build` on {r['videos']} synthetic MP4s ({r['frames']} frames at {r['fps']:g} fps, "
            f"{r['frame_size']} px) + a Label Studio file, {r['backbone']}, CPU ({m['cpu_threads']} threads, load "
            f"average {m['load_average_before']} -> {m['load_average_after']} on {m['cpus']} cores).",
            "",
            "| | frames/s | seconds |",
            "|---|---|---|",
            f"| dataset build (decode + features + labels + layout) | {r['build_frames_per_s']:.1f} | "
            f"{r['build_s']:.1f} |",
            f"| the backbone alone (forward on decoded frames) | {r['backbone_frames_per_s']:.1f} | |",
            f"| everything but extraction (a rebuild that resumes) | | {r['without_extraction_s']:.2f} |",
        ]
    )


def intervals(r: dict) -> str:
    """`equal_budget.py`, `sct_baselines.py`, `detection_oracle.py`, `baformer_queries.py`: per row the mean and
    95 % interval over seeds of each metric."""
    rows = r["summary"]
    metrics = list(next(iter(rows.values())))
    lines = [f"{r['dataset']}; {r['protocol']}", ""]
    lines += ["| | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for name, row in rows.items():
        cells = " | ".join(
            f"{row[m]['mean']:.1f} [{row[m]['lo']:.1f}, {row[m]['hi']:.1f}]" if m in row else "–" for m in metrics
        )
        lines.append(f"| {name} (n = {next(iter(row.values()))['n']}) | {cells} |")
    return "\n".join(lines) + "\n"


def deploy(r: dict) -> str:
    """`deploy.py`: PyTorch fp32, ONNX Runtime fp32 and int8 (dynamic, static) latency per model, the graphs'
    output differences, and (``accuracy``) the scores of briefly trained models with each runtime. The fp32 matmul
    peak is per model (re-timed in its rounds) or, in runs before that, once per run."""
    lines = []
    if r["models"]:
        once = r.get("matmul_peak_gmacs_per_s")
        peak = f"fp32 matmul peak measured once at the start: {once:.0f} GMAC/s. " if once else ""
        lines += [
            f"CPU with {r['threads']} threads, torch {r['torch']}, ONNX Runtime {r['onnxruntime']}; medians of "
            f"{r['rounds']} interleaved rounds; {peak}{r['note']}".rstrip(),
            "",
            "| model | input | PyTorch fp32 ms | ORT fp32 ms | ORT int8 dynamic ms | ORT int8 static ms | ORT fp32 max "
            "abs diff | int8 dynamic effect | int8 static effect | export s | matmul peak GMAC/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
    for name, m in r["models"].items():
        size = f"T = {m['length']}" if "length" in m else f"batch {m['batch']}"
        if "batch" in m:
            effects = [f"{m[k + '_effect']:.3f} rel. error" for k in ("ort_int8", "ort_int8_static")]
        elif name in ("gsmt", "tags"):
            effects = [f"{m[k + '_effect']:.3g} max abs diff" for k in ("ort_int8", "ort_int8_static")]
        else:
            effects = [f"{100 * m[k + '_effect']:.1f}% labels kept" for k in ("ort_int8", "ort_int8_static")]
        peak = f"{m['matmul_peak_gmacs_per_s']:.0f}" if "matmul_peak_gmacs_per_s" in m else "-"
        lines.append(
            f"| {name} | {size} | {m['torch']:.1f} | {m['ort_fp32']:.1f} | {m['ort_int8']:.1f} | "
            f"{m['ort_int8_static']:.1f} | {m['ort_max_abs_diff']:.1e} | {effects[0]} | {effects[1]} | "
            f"{m['export_s']:.0f} | {peak} |"
        )
    if "efficientnet_lite0_fraction_of_peak" in r:
        lines += [
            "",
            f"EfficientNet-Lite0 through the fastest runtime: {r['efficientnet_lite0_fraction_of_peak']:.2f} of the "
            "fp32 matmul peak (frames/s x 0.384 GMACs / peak GMAC/s).",
        ]
    if "accuracy" in r:
        a = r["accuracy"]
        lines += [
            "",
            f"Accuracy (Acc / Edit / F1@10 / F1@25 / F1@50) after {a['epochs']} epochs on {a['dataset']}; the majority "
            f"class alone has Acc {a['majority_class_acc']:.1f}; {a['calibration']}:",
            "",
            "| model | PyTorch fp32 | ORT fp32 | ORT int8 dynamic | ORT int8 static | CPU s (train, export, score) |",
            "|---|---|---|---|---|---|",
        ]
        for name, m in a["models"].items():
            cells = " | ".join(
                " / ".join(f"{m[rt][k]:.1f}" for k in ("acc", "edit", "f1@10", "f1@25", "f1@50"))
                for rt in ("torch", "ort_fp32", "ort_int8", "ort_int8_static")
            )
            lines.append(f"| {name} | {cells} | {m['cpu_s']:.0f} |")
    return "\n".join(lines).lstrip("\n") + "\n"


def streaming(r: dict) -> str:
    """`streaming.py`: per-frame latency of the live pipeline by stage, the real-time factor, and the issue's
    targets (EfficientNet-Lite0 + causal MS-TCN: p99 total < 66 ms, model step < 2 ms; causal ASFormer step < 10 ms)
    checked against the numbers."""
    m, budget = r["machine"], r["budget_ms"]
    lines = [
        f"Per frame at {r['fps']:g} fps (budget {budget} ms): {r['video']}. {m['cpu']}, {m['cores']} cores, "
        f"{m['torch_threads']} torch threads, load average {r['load_average']['before']} before and "
        f"{r['load_average']['after']} after ({r['seconds']:.0f} s in all)"
        + (" -- a --quick run: a check that the script runs, not a measurement." if r.get("quick") else "."),
        "",
        "| backbone + model | frames | decode p50 / p99 ms | features p50 / p99 ms | model p50 / p99 ms "
        "| total p50 / p90 / p99 ms | real-time factor |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in r["rows"].items():
        window = f" (window {row['window']})" if row["window"] > 1 else ""
        cells = [f"{row[s]['p50']:.1f} / {row[s]['p99']:.1f}" for s in ("decode", "features")]
        cells.append(f"{row['model']['p50']:.2f} / {row['model']['p99']:.2f}")
        cells.append(f"{row['total']['p50']:.1f} / {row['total']['p90']:.1f} / {row['total']['p99']:.1f}")
        lines.append(f"| {name}{window} | {row['frames']} | " + " | ".join(cells) + f" | {row['realtime_factor']} |")
    checks = []
    for model, limit, total in (("mstcn", 2.0, True), ("asformer", 10.0, False)):
        row = r["rows"].get(f"efficientnet_lite0 + causal {model}")
        if row is None:
            continue
        step = row["model"]
        checks.append(
            f"causal {model} step p50 {step['p50']:.2f} ms / p99 {step['p99']:.2f} ms against < {limit:g} ms: "
            + ("met" if step["p99"] < limit else "met at the median only" if step["p50"] < limit else "not met")
        )
        if total:
            p99 = row["total"]["p99"]
            verdict = "met" if p99 < 66 and row["realtime_factor"] > 1 else "not met"
            checks.append(
                f"EfficientNet-Lite0 + causal MS-TCN total p99 {p99:.1f} ms against < 66 ms, real-time factor "
                f"{row['realtime_factor']}: {verdict}"
            )
    if r.get("quick"):
        lines += ["", "The issue's targets are not checked against a --quick run."]
    elif checks:
        busy = max(r["load_average"].values()) > m["cores"]
        caveat = " (the load average exceeded the cores: these times include waiting for them)" if busy else ""
        lines += ["", f"The issue's targets, read from this run{caveat}: " + "; ".join(checks) + "."]
    return "\n".join(lines) + "\n"


def causal_accuracy(r: dict) -> str:
    """`causal_accuracy.py`: offline vs causal (mean [95 % t-interval] over seeds, the paired difference), then the
    online smoothing of the causal models at each delay, with label changes per minute."""
    keys = (*METRICS, "changes_per_min")
    names = ("Acc", "Edit", "F1@10", "F1@25", "F1@50", "changes / min")

    def cells(row: dict) -> str:
        return " | ".join(f"{row[k]['mean']:.1f} [{row[k]['lo']:.1f}, {row[k]['hi']:.1f}]" for k in keys)

    lines = [f"{r['dataset']}; {r['protocol']}.", "", "| | n | " + " | ".join(names) + " |", "|---|---|" + "---|" * 6]
    for name, row in r["summary"].items():
        lines.append(f"| {name} | {row['acc']['n']} | {cells(row)} |")
    gt = r["ground_truth_changes_per_min"]
    for name, delays in r["smoothing"].items():
        lines += [
            "",
            f"Online smoothing of {name} (`--smooth`; the ground truth changes label {gt:.1f} times a minute):",
            "",
        ]
        lines += ["| delay s | n | " + " | ".join(names) + " |", "|---|---|" + "---|" * 6]
        lines += [f"| {d} | {row['acc']['n']} | {cells(row)} |" for d, row in delays.items()]
    return "\n".join(lines) + "\n"


def extraction(r: dict) -> str:
    """`extraction.py`: frames/s and fraction of the in-run matmul peak, end to end and per backbone."""
    s = r["summary"]
    loads = ", ".join(f"{x['load_1min']:.1f}-{x['load_1min_after']:.1f}" for x in r["rounds"])
    lines = [
        f"{r['video']} (H.264, 640 x 272, 25 fps) sampled at 15 fps, CPU with {r['threads']} threads ({r['cpu']}), "
        f"torch {r['torch']}, {r['date']}; medians of {len(r['rounds'])} interleaved rounds. fp32 matmul peak in the "
        f"same rounds: {s['peak_gmacs']:.1f} GMAC/s (median); load average (1 min) at the start / end of each round: "
        f"{loads}. Fraction of the peak: frames/s x GMACs per frame / peak, within each round.",
        "",
        "| what | GMACs per frame | frames/s | fraction of the peak |",
        "|---|---|---|---|",
    ]
    g = r["gmacs_per_frame"]
    long = r.get("long_video") or "the clip repeated"
    rows = (
        (
            "EfficientNet-Lite0, end to end from the H.264 file (process start included)",
            "effnet_end_to_end_fps",
            g["efficientnet_lite0"],
        ),
        (f"EfficientNet-Lite0, end to end, {long}", "effnet_end_to_end_long_fps", g["efficientnet_lite0"]),
        ("EfficientNet-Lite0 backbone alone, inference form, batch 16", "effnet_backbone_fps", g["efficientnet_lite0"]),
        (
            "EfficientNet-Lite0 backbone alone, plain module (the path before)",
            "effnet_plain_backbone_fps",
            g["efficientnet_lite0"],
        ),
        (
            "EfficientNet-Lite0, end to end, `--runtime onnxruntime`",
            "effnet_end_to_end_onnxruntime_fps",
            g["efficientnet_lite0"],
        ),
        (
            f"EfficientNet-Lite0, end to end, {long}, `--runtime onnxruntime`",
            "effnet_end_to_end_long_onnxruntime_fps",
            g["efficientnet_lite0"],
        ),
        ("EfficientNet-Lite0 backbone alone, ONNX Runtime fp32", "effnet_onnxruntime_fps", g["efficientnet_lite0"]),
        ("EfficientNet-Lite0 backbone alone, ONNX Runtime static int8", "effnet_int8_fps", g["efficientnet_lite0"]),
        ("ResNet-50 backbone alone, inference form, batch 8", "resnet50_fps", g["resnet50"]),
        ("I3D exact (one 21-frame window per frame)", "i3d_exact_fps", g["i3d_window"]),
        (
            "I3D exact, shared interior (16 consecutive windows per batch, as `extract` runs it)",
            "i3d_shared_fps",
            g.get("i3d_shared", 0.0),
        ),
        ("I3D sliding (128 frames per 192-frame span)", "i3d_sliding_fps", g["i3d_span"] / 128),
    )
    for label, key, gm in rows:
        if key in s:  # runs before the ONNX Runtime rows existed lack them
            lines.append(f"| {label} | {gm:.3f} | {s[key]['fps']:.2f} | {s[key]['fraction_of_peak']:.3f} |")
    lines += [
        "",
        f"Inference form over the plain module (same rounds): {s['inference_form_speedup']:.2f}x. I3D sliding over "
        f"exact: {s['i3d_sliding_speedup']:.1f}x. One hour at 15 fps (54,000 frames) with EfficientNet-Lite0 + "
        f"MS-TCN, from these rates: {s['hour_minutes']:.1f} min.",
    ]
    if "i3d_shared_speedup" in s:
        lines.append(
            f"I3D exact with the windows' shared interior computed once over one window per frame (same features "
            f"within 1e-5): {s['i3d_shared_speedup']:.2f}x ({g['i3d_window']:.1f} -> {g['i3d_shared']:.1f} GMACs "
            "per frame)."
        )
    for runtime, d in r.get("runtime_deviation", {}).items():
        lines.append(
            f"ONNX Runtime {runtime} features against PyTorch fp32 (32 frames of the clip not used to calibrate): max "
            f"|difference| {d['max_abs']:.2g}, relative L2 {d['relative_l2']:.3g}, cosine min {d['cosine_min']:.4f}."
        )
    if "i3d_sliding_deviation" in r:
        d = r["i3d_sliding_deviation"]
        lines.append(
            f"I3D sliding against exact features ({d['frames']} frames of the clip at {d['fps']:g} fps, random "
            f"weights): relative L2 {d['relative_l2']:.3f}, cosine mean {d['cosine_mean']:.4f}, min "
            f"{d['cosine_min']:.4f}."
        )
    return "\n".join(lines) + "\n"


def official(r: dict) -> str:
    """`official.py`: ours against the official MS-TCN, ASFormer and BaFormer code, in the same rounds."""
    lines = [
        f"T = {r['length']:,}, 2048-d, 19 classes, batch 1, {r['threads']} threads, torch {r['torch']}, {r['date']}; "
        f"medians of {r['rounds']} round(s); fp32 matmul peak in the run {r['matmul_peak_gmacs_per_s']:.1f} GMAC/s "
        "(best round). Fractions of the peak credit both with the model's GMACs (all products).",
        "",
        "| model | step | ours ms | official ms | ours / official | ours fraction of peak | official fraction "
        "of peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in r["models"].items():
        for kind, label in (("forward", "forward"), ("inference", "forward + decode"), ("train", "training step")):
            if f"official_{kind}_ms" not in m:
                lines.append(
                    f"| {name} | {label} | {m[f'ours_{kind}_ms']:.0f} | not timed | | "
                    f"{m[f'ours_{kind}_fraction_of_peak']:.3f} | |"
                )
                continue
            lines.append(
                f"| {name} | {label} | {m[f'ours_{kind}_ms']:.0f} | {m[f'official_{kind}_ms']:.0f} | "
                f"{m[f'{kind}_ours_over_official']:.2f} | {m[f'ours_{kind}_fraction_of_peak']:.3f} | "
                f"{m[f'official_{kind}_fraction_of_peak']:.3f} |"
            )
    lines += [
        "",
        "| model | ours inference: fraction of the peak | the products' ceiling | fraction of the ceiling |",
        "|---|---|---|---|",
    ]
    for name, m in r["models"].items():
        lines.append(
            f"| {name} | {m['ours_inference_fraction_of_peak']:.3f} | {m['ours_inference_ceiling_fraction']:.3f} | "
            f"{m['ours_inference_fraction_of_ceiling']:.2f} |"
        )
    return "\n".join(lines) + "\n"


SHORT_LONG = ("short", "long")


def hour_of_video(r: dict) -> str:
    """`hour_of_video.py`: ``predict --video`` end to end on a short and a long file, and the hour extrapolated
    (files without a ``runtime`` were timed before there was a choice: PyTorch)."""
    runtime = r.get("runtime", "torch")
    first = r.get("first_run_s")
    cached = f" (graph cached; the first run, which exported it, took {first:.1f} s)" if first is not None else ""
    lines = [
        f"Backbone runtime: **{runtime}**{cached}. {r['video']}, {r['threads']} threads ({r['cpu']}), {r['date']}.",
        "",
        "| round | load | short: s / frames / peak MB | long: s / frames / peak MB |",
        "|---|---|---|---|",
    ]
    for i, row in enumerate(r["rounds"], 1):
        cells = [
            f"{row[k]['wall_s']:.1f} / {row[k]['frames']} / {row[k]['peak_rss_mb']:.0f}" for k in ("short", "long")
        ]
        lines.append(f"| {i} | {row['load_1min']:.1f} | {cells[0]} | {cells[1]} |")
    lines += [
        "",
        f"Fixed cost (the short file) {r['fixed_s']:.1f} s; {r['frames_per_s']:.1f} frames/s beyond it; one hour "
        f"(54,000 frames) extrapolated linearly: **{r['hour_minutes']:.1f} min**.",
    ]
    return "\n".join(lines) + "\n"


def torchrun_extraction(r: dict) -> str:
    """`torchrun_extraction.py`: one process of N threads against torchrun with N processes, interleaved."""
    lines = [
        f"{r['videos']}, {r['cores']} cores ({r['cpu']}), {r['date']}; rounds alternate which runs first.",
        "",
        "| round | load | first | one process s | torchrun s |",
        "|---|---|---|---|---|",
    ]
    for i, row in enumerate(r["rounds"], 1):
        first = "torchrun" if row["torchrun_first"] else "one process"
        lines.append(
            f"| {i} | {row['load_1min']:.1f} | {first} | {row['one_process_s']:.1f} | {row['torchrun_s']:.1f} |"
        )
    lines += [
        "",
        f"Medians: speed-up {r['speedup']:.2f}x with {r['processes']} processes, {r['speedup_per_process']:.2f} per "
        "process.",
    ]
    return "\n".join(lines) + "\n"


def sliding_accuracy(r: dict) -> str:
    """`sliding_accuracy.py`: MS-TCN on exact against sliding I3D features (random weights, synthetic videos)."""
    d = r["deviation"]
    lines = [
        f"{r['videos']} synthetic videos at {r['fps']:g} fps, {r['size']} x {r['size']}, random-weight I3D; MS-TCN "
        f"{r['epochs']} epochs, mean of {r['seeds']} seed(s), test videos {', '.join(r['test_videos'])}; {r['date']}.",
        "",
        "| features | Acc | Edit | F1@10 | F1@25 | F1@50 | extraction s |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, m in [*r["summary"].items(), ("sliding - exact", r["difference"])]:
        seconds = f"{r['extraction_s'][mode]:.0f}" if mode in r["extraction_s"] else ""
        cells = " | ".join(f"{m[k]:.1f}" for k in ("acc", "edit", "f1@10", "f1@25", "f1@50"))
        lines.append(f"| {mode} | {cells} | {seconds} |")
    lines += [
        "",
        f"Feature deviation over {d['frames']} frames: relative L2 {d['relative_l2']:.3f}, cosine mean "
        f"{d['cosine_mean']:.4f}, min {d['cosine_min']:.4f}. Labelling every test frame with the most frequent "
        f"training class scores Acc {r.get('majority_acc', float('nan')):.1f}: a mode at that level learnt nothing.",
    ]
    return "\n".join(lines) + "\n"


def int8_extraction(r: dict) -> str:
    """`int8_extraction.py`: static int8 EfficientNet-Lite0 features against fp32, and MS-TCN scored on each."""
    metrics = ("acc", "edit", "f1@10", "f1@25", "f1@50")
    c, d = r["clip_deviation"], r["feature_deviation"]
    lines = [
        f"Feature deviation from PyTorch fp32 on {c['held_out_frames']} frames of {r['clip']} (calibrated on the "
        f"{c['calibration_frames']} before them; `deploy_case`: random weights and inputs, as `deploy.py` measured), "
        f"and over all {d['frames']} frames of the synthetic videos (calibrated on {r['calibration_frames']} frames "
        "of their training videos):",
        "",
        "| int8 configuration | clip rel. L2 | clip cosine min | synthetic rel. L2 | synthetic cosine min |",
        "|---|---|---|---|---|",
    ]
    synthetic = {"with_activations": d["int8"], "early_fp32": d["int8_early_fp32"]}
    for name in ("products_only", "with_activations", "early_fp32", "deploy_case"):
        m, s = c[name], synthetic.get(name)
        far = f"{s['relative_l2']:.3f} | {s['cosine_min']:.4f}" if s else "| "
        lines.append(f"| {name} | {m['relative_l2']:.3f} | {m['cosine_min']:.4f} | {far} |")
    lines += [
        "",
        f"MS-TCN on the synthetic videos ({r['videos']} at {r['fps']:g} fps, test videos "
        f"{', '.join(r['test_videos'])}), {r['epochs']} epochs, {r['seeds']} seeds: mean [95 % t-interval]; "
        f"majority class Acc {r['majority_acc']:.1f}; `int8` = with_activations, `int8_early_fp32` = early_fp32; "
        f"{r['date']}.",
        "",
        "| trained on / scored on | Acc | Edit | F1@10 | F1@25 | F1@50 |",
        "|---|---|---|---|---|---|",
    ]
    for case, m in [*r["summary"].items(), *r["differences"].items()]:
        cells = " | ".join(f"{m[k]['mean']:.1f} [{m[k]['lo']:.1f}, {m[k]['hi']:.1f}]" for k in metrics)
        lines.append(f"| {case.replace('_on_', ' / ')} | {cells} |")
    return "\n".join(lines) + "\n"


RENDERERS = {
    "hvu_heads": tables_video_claims.hvu_heads,  # before "hvu", "ats", "sgs": the longest prefix first
    "ats_plugin": tables_video_claims.ats_plugin,
    "sgs_atfr": tables_video_claims.sgs_atfr,
    "sgs_diagnosis": tables_video_claims.sgs_diagnosis,
    "equal_budget": intervals,
    "sct_baselines": intervals,
    "detection_oracle": intervals,
    "baformer_queries": intervals,
    "deploy": deploy,
    "long_video": long_video,
    "segmentation_": segmentation,
    "baformer_inference_": lambda r: inference_variants(r, "BaFormer inference"),
    "rtk_inference_": lambda r: inference_variants(r, "RTK inference"),
    "detection_": detection,
    "weak_supervision": weak_supervision,
    "efficiency": efficiency,
    "extraction": extraction,
    "official": official,
    "hour_of_video": hour_of_video,
    "torchrun_extraction": torchrun_extraction,
    "sliding_accuracy": sliding_accuracy,
    "int8_extraction": int8_extraction,
    "video_classification": video_classification,
    "stc_ablation": stc_ablation,
    "transfer_init": transfer_init,
    "sgs": sgs,
    "ats": ats,
    "hvu": hvu,
    "dataset_build": dataset_build,
    "streaming": streaming,
    "causal_accuracy": causal_accuracy,
}


def render(path: Path, result: dict) -> str:
    """The table of a result file, by the benchmark its name starts with."""
    for prefix, renderer in RENDERERS.items():
        if path.name.startswith(prefix):
            return renderer(result)
    raise ValueError(f"{path}: no renderer for this result file (known prefixes: {', '.join(RENDERERS)})")
