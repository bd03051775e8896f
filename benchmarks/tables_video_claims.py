"""README tables of the claim experiments on video tagging and adaptive sampling (issue 39): `hvu_heads.py`,
`ats_plugin.py`, `sgs_atfr.py`, `sgs_diagnosis.py`."""

from __future__ import annotations

import statistics

from scipy import stats

CATEGORIES = ("scene", "object", "action", "event", "attribute", "concept", "overall")


def _ci(v: dict, digits: int = 1) -> str:
    return f"{v['mean']:+.{digits}f} ± {v['ci95']:.{digits}f}"


def hvu_heads(r: dict) -> str:
    """Per-category mAP of the four loss variants (headline protocol), then overall under every protocol and the
    paired differences from the flat head."""
    s = r["settings"]
    lines = [
        f"Harder HVU-lite ({s['train']} training, {s['val']} validation clips, overlap {s['overlap']}, "
        f"{s['missing']:.0%} of clips missing one category), {r['network']} width {s['width']}, {s['frames']} x "
        f"{s['size']} x {s['size']} clips, {s['epochs']} epochs, seeds {r['seeds']}; mAP (step AP, clips with a label "
        "of the category), mean ± 95 % t-interval over seeds.",
        "",
        "| variant | " + " | ".join(c.capitalize() for c in CATEGORIES) + " |",
        "|---|" + "---|" * len(CATEGORIES),
    ]
    for name, v in r["variants"].items():
        p = v["step/labelled"]
        lines.append(f"| {name} | " + " | ".join(f"{p[c]['mean']:.1f} ± {p[c]['ci95']:.1f}" for c in CATEGORIES) + " |")
    protocols = list(next(iter(r["variants"].values())))[:-1]
    lines += ["", "Overall mAP by protocol (AP kind / clips), and paired difference from flat:", "",
              "| variant | " + " | ".join(protocols) + " |", "|---|" + "---|" * len(protocols)]  # fmt: skip
    for name, v in r["variants"].items():
        cells = []
        for p in protocols:
            d = r["paired_vs_flat"].get(name, {}).get(p, {}).get("overall")
            cells.append(f"{v[p]['overall']['mean']:.1f}" + (f" ({_ci(d)})" if d else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def ats_plugin(r: dict) -> str:
    """Vanilla vs ATS (no fine-tuning) vs top-K at matched MACs, per seed and pooled over seeds."""
    s = r["settings"]
    lines = [
        f"ViT d {s['dim']}, {s['depth']} blocks, {s['heads']} heads, 64 tokens + CLS, trained {s['steps']} steps of "
        f"{s['batch']} on the `{s['target']}` task; ATS in blocks {r['ats_blocks']} without fine-tuning; "
        f"{s['test']} test images; Δ with 95 % intervals (paired per image).",
        "",
        "| seed | ρ | top-1 | Δ top-1 vs vanilla | agreement | GMACs (saved) | top-K ρ | top-K top-1 | ATS − top-K |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        lines.append(f"| {run['seed']} | vanilla | {run['top1']:.2f} | | | {run['gmacs']:.4f} | | | |")
        for a in run["ats"]:
            t = a["topk"]
            lines.append(
                f"| {run['seed']} | {a['ratio']} | {a['top1']:.2f} | {_ci(a['delta_top1'], 2)} | "
                f"{a['agreement']:.2f} | {a['gmacs']:.4f} ({a['macs_saved']:.0%}) | {t['ratio']} | {t['top1']:.2f} | "
                f"{_ci(a['ats_minus_topk'], 2)} |"
            )
    if "pooled" in r:
        lines += ["", f"Pooled over the {len(r['runs'])} seeds: mean [95 % t-interval] of the per-seed values.", "",
                  "| ρ | Δ top-1 vs vanilla | verdict | ATS − top-K | verdict | agreement | MACs saved |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for p in r["pooled"]:
            d, k = p["delta_top1"], p["ats_minus_topk"]
            lines.append(
                f"| {p['ratio']} | {d['mean']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}] | {d['verdict']} | "
                f"{k['mean']:+.3f} [{k['lo']:+.3f}, {k['hi']:+.3f}] | {k['verdict']} | {p['agreement']:.2f} | "
                f"{p['macs_saved']:.0%} |"
            )
    for run in r["runs"]:
        if "latency_ms" in run:
            cells = ", ".join(f"{k} {v:.2f}" for k, v in run["latency_ms"]["batch_1"].items())
            cells64 = ", ".join(f"{k} {v:.3f}" for k, v in run["latency_ms"]["batch_64"].items())
            lines += ["", f"Latency, ms per image (seed {run['seed']}, load average {run['load_average']:.1f}, "
                      f"{r['threads']} thread): batch 1: {cells}; batch 64: {cells64}."]  # fmt: skip
    return "\n".join(lines) + "\n"


def sgs_atfr(r: dict) -> str:
    """Table 6.12's network with and without SGS, per task and seed."""
    s = r["settings"]
    lines = [
        f"`{r['model']}` (width {r['width']}), {r['frames']} x {s['size']} x {s['size']} clips, B = {r['bins']}, "
        f"{s.get('kernel', 'linear')} kernel; "
        f"{s['train']} training / {s['test']} test clips, {s['epochs']} epochs; GMACs and latency per clip at batch "
        f"1 ({r['threads']} thread).",
        "",
        "| task | seed | top-1 plain | top-1 SGS | Δ | GMACs plain | GMACs SGS (saved) | ms plain | ms SGS | "
        "mean B' | Spearman(B', redundancy) | re-timed agreement plain / SGS | mean abs. change of B' |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        p, g, b = run["plain"], run["sgs"], run["bins"]
        lines.append(
            f"| {run['task']} | {run['seed']} | {p['top1']:.1f} | {g['top1']:.1f} | {_ci(run['delta_top1'])} | "
            f"{p['gmacs']:.3f} | {g['gmacs']:.3f} ({run['macs_saved']:.0%}) | {p['latency_ms']:.1f} | "
            f"{g['latency_ms']:.1f} | {b['mean']:.1f} | {b['spearman_vs_redundancy']:+.2f} | "
            f"{p['retimed_agreement']:.1f} / {g['retimed_agreement']:.1f} | {b['retimed_mean_abs_change']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def sgs_diagnosis(r: dict) -> str:
    """Per variant and seed of `sgs_diagnosis.py`: per-factor accuracy, training-set fit, how the bins mix moments,
    gradient norms before / after SGS (first and last epoch) and the confusion matrix; then top-1 over seeds."""
    s = r["settings"]
    lines = [
        f"`{r['model']}`, content task ({', '.join(r['classes'])}), {s['train']} training / {s['test']} test clips, "
        f"{s['epochs']} epochs; accuracies in %; gradient norms of stem + res2 (before SGS) and res3-fc (after), "
        "mean over the steps of the first / last epoch; moment purity: the share of a bin's weight from its largest "
        "moment; path span: how far along the path the moments merged into a bin lie apart (0 = one position, "
        "1 = both ends); confusion rows = truth, in class order.",
        "",
        "| variant | seed | top-1 | shape | axis | train top-1 | mean B' | moment purity | path span | "
        "grad before SGS | grad after SGS | confusion |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_variant: dict[str, list[float]] = {}
    for run in r["runs"]:
        t, b, c = run["test"], run.get("bins"), run["curve"]
        by_variant.setdefault(run["variant"], []).append(t["top1"])
        bins = f"{b['bins_mean']:.1f} | {b['moment_purity']:.2f} | {b['path_span']:.2f}" if b else "32 | 1 | 0"
        lines.append(
            f"| {run['variant']} | {run['seed']} | {t['top1']:.1f} | {t['shape_acc']:.1f} | {t['axis_acc']:.1f} | "
            f"{run['train']['top1']:.1f} | {bins} | {c[0]['grad_before_sgs']:.2f} / {c[-1]['grad_before_sgs']:.2f} | "
            f"{c[0]['grad_after_sgs']:.2f} / {c[-1]['grad_after_sgs']:.2f} | "
            f"{' / '.join(' '.join(str(v) for v in row) for row in t['confusion'])} |"
        )
    several = {k: v for k, v in by_variant.items() if len(v) > 1}
    if several:
        lines += ["", "Top-1 over seeds (mean, 95 % t-interval): " + "; ".join(
            f"{k} {statistics.mean(v):.1f} ± {stats.t.ppf(0.975, len(v) - 1) * statistics.stdev(v) / len(v) ** 0.5:.1f}"
            f" ({len(v)} seeds)" for k, v in several.items())]  # fmt: skip
    return "\n".join(lines) + "\n"
