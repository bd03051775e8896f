"""The goals of the speed issue (#38), each stated against the result file that measures it: met, not met, or not
measured yet (with the command that measures it). `make_readme.py` puts this table where README.in.md says
``<!-- speed goals -->``, so a rerun of any of the benchmarks updates the verdicts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

Row = tuple[str, str, str]  # goal, measured, verdict


def _load(results: Path, name: str) -> dict | None:
    path = results / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _missing(goal: str, command: str) -> Row:
    return goal, "no result file yet", f"not measured: `{command}`"


def extraction_rows(r: dict | None) -> list[Row]:
    command = "python benchmarks/extraction.py --rounds 3"
    goals = (
        "EfficientNet-Lite0 end to end from H.264 >= 0.4 of the fp32 matmul rate (10 s clip)",
        "EfficientNet-Lite0 end to end from H.264 >= 0.4 of the fp32 matmul rate (minutes of video)",
        "EfficientNet-Lite0 backbone alone >= 0.5 of the fp32 matmul rate",
        "I3D sliding mode >= 10x faster than a window per frame",
        "I3D per-frame features: the exact path's speed-up over one window per frame stated",
    )
    if r is None:
        return [_missing(goal, command) for goal in goals]
    s = r["summary"]

    def best(keys: tuple[str, ...]) -> tuple[str, float]:
        present = {k: s[k]["fraction_of_peak"] for k in keys if k in s}
        key = max(present, key=present.__getitem__)
        return ", ".join(f"{k.removeprefix('effnet_')}: {v:.3f}" for k, v in present.items()), present[key]

    end_to_end, e2e = best(("effnet_end_to_end_fps", "effnet_end_to_end_onnxruntime_fps"))
    backbone, alone = best(("effnet_backbone_fps", "effnet_onnxruntime_fps"))
    at = f" (peak {s['peak_gmacs']:.0f} GMAC/s, load {s['load_1min']:.1f}, {r['date']})"
    rows = [(goals[0], end_to_end + at, _verdict(e2e >= 0.4))]
    if "effnet_end_to_end_long_fps" in s:
        long, e2e_long = best(("effnet_end_to_end_long_fps", "effnet_end_to_end_long_onnxruntime_fps"))
        rows.append((goals[1], f"{long} on {r['long_video']}{at}", _verdict(e2e_long >= 0.4)))
    else:
        rows.append((goals[1], "not in this `extraction.json` (run before the row existed)", f"rerun: `{command}`"))
    rows.append((goals[2], backbone + at, _verdict(alone >= 0.5)))
    if "effnet_int8_fps" in s:
        int8 = r.get("runtime_deviation", {}).get("int8", {})
        rows.append(
            (
                "an int8 runtime that beats fp32 counts, with its deviation and downstream accuracy",
                f"static int8 backbone {s['effnet_int8_fps']['fraction_of_peak']:.3f} of the fp32 peak; features "
                f"relative L2 {int8.get('relative_l2', float('nan')):.3f} from fp32",
                "not counted: its downstream accuracy is not measured, so it is not offered by `extract`",
            )
        )
    rows.append((goals[3], f"{s['i3d_sliding_speedup']:.1f}x", _verdict(s["i3d_sliding_speedup"] >= 10)))
    if "i3d_shared_speedup" not in s:
        rows.append((goals[4], "not in this `extraction.json` (run before the row existed)", f"rerun: `{command}`"))
    else:
        g = r["gmacs_per_frame"]
        shared = (
            f"{s['i3d_shared_speedup']:.2f}x with the windows' shared interior computed once ({g['i3d_window']:.1f} "
            f"-> {g['i3d_shared']:.1f} GMACs per frame, 16 windows per batch; same features within 1e-5)"
        )
        rows.append((goals[4], shared + at, "stated"))
    return rows


def sliding_rows(r: dict | None) -> list[Row]:
    goal = "I3D sliding mode: feature deviation and downstream segmentation accuracy difference stated"
    if r is None:
        return [_missing(goal, "python benchmarks/sliding_accuracy.py")]
    d, diff = r["deviation"], r["difference"]
    measured = (
        f"relative L2 {d['relative_l2']:.3f}, cosine mean {d['cosine_mean']:.3f}; MS-TCN sliding - exact: Acc "
        f"{diff['acc']:+.1f}, Edit {diff['edit']:+.1f}, F1@50 {diff['f1@50']:+.1f} (random-weight I3D at "
        f"{r['size']}x{r['size']}, {r['videos']} synthetic videos, {r['seeds']} seeds)"
    )
    learnt = max(m["acc"] for m in r["summary"].values()) > r.get("majority_acc", 100.0) + 5
    return [(goal, measured, "stated" if learnt else "not measured: the models did not beat the majority class")]


def hour_rows(runtime: str) -> Callable[[dict | None], list[Row]]:
    """The hour-of-video goal as measured with the backbone run by ``runtime``."""
    goal = f"an hour of H.264 to a timeline (EfficientNet-Lite0 + MS-TCN) in under 10 min on 2 cores ({runtime})"
    command = "python benchmarks/hour_of_video.py" + ("" if runtime == "torch" else f" --runtime {runtime}")

    def rows(r: dict | None) -> list[Row]:
        if r is None:
            return [_missing(goal, command)]
        measured = (
            f"{r['hour_minutes']:.1f} min, extrapolated from {r['video']} ({r['frames_per_s']:.1f} frames/s after "
            f"a fixed {r['fixed_s']:.0f} s; {r['date']})"
        )
        return [(goal, measured, _verdict(r["hour_minutes"] < 10))]

    return rows


def torchrun_rows(r: dict | None) -> list[Row]:
    goal = "torchrun --nproc_per_node N extraction: speed-up per process measured"
    if r is None:
        return [_missing(goal, "python benchmarks/torchrun_extraction.py")]
    measured = (
        f"N = {r['processes']}: {r['speedup']:.2f}x, {r['speedup_per_process']:.2f} per process "
        f"({len(r['rounds'])} interleaved rounds, {r['date']})"
    )
    return [(goal, measured, "stated")]


TARGETS = {"mstcn": 0.8, "asformer": 0.2, "baformer": 0.3}


def official_rows(r: dict | None) -> list[Row]:
    if r is None:
        return [_missing("ours / official: forward, forward + decode, training step", "python benchmarks/official.py")]
    rows = []
    for name, target in TARGETS.items():
        m = r["models"].get(name)
        for kind, label in (("forward", "forward"), ("inference", "forward + decode"), ("train", "training step")):
            key = f"{kind}_ours_over_official"
            goal = f"{name} {label}: ours / official <= {target}"
            if m is None or key not in m:
                rows.append((goal, "not in the result file", "not measured"))
                continue
            rows.append((goal, f"{m[key]:.2f} (T = {r['length']:,}, {r['date']})", _verdict(m[key] <= target)))
    return rows


def ceiling_rows(r: dict | None) -> list[Row]:
    goal = "inference at >= 0.8 of the products' own ceiling, every segmentation model"
    if r is None:
        return [_missing(goal, "python benchmarks/efficiency.py")]
    fractions = {
        n: m["inference_fraction_of_peak"] / m["inference_ceiling_fraction"]
        for n, m in r["models"].items()
        if "inference_ceiling_fraction" in m
    }
    measured = ", ".join(f"{n} {f:.2f}" for n, f in fractions.items())
    return [(goal, measured, _verdict(bool(fractions) and min(fractions.values()) >= 0.8))]


SECTIONS: tuple[tuple[str, Callable[[dict | None], list[Row]]], ...] = (
    ("extraction.json", extraction_rows),
    ("sliding_accuracy.json", sliding_rows),
    ("hour_of_video.json", hour_rows("torch")),
    ("hour_of_video_onnxruntime.json", hour_rows("onnxruntime")),
    ("torchrun_extraction.json", torchrun_rows),
    ("official.json", official_rows),
    ("efficiency.json", ceiling_rows),
)


def table(results: Path) -> str:
    lines = ["| goal | measured (result file) | verdict |", "|---|---|---|"]
    for name, rows in SECTIONS:
        for goal, measured, verdict in rows(_load(results, name)):
            lines.append(f"| {goal} | {measured} (`{name}`) | {verdict} |")
    return "\n".join(lines) + "\n"
