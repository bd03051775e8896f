"""Ours against the official code, side by side in one process and the same rounds: MS-TCN, ASFormer and BaFormer.

The official model files (unmodified) are loaded at run time from ``../shared/reference-code`` (its ``official.py``
loader); where that folder is absent the benchmark says so and exits. Nothing of it is copied here. Same input as
`efficiency.py` (T = 5,750, 2048-d, 19 classes, batch 1, random weights), per round:
- the fp32 matmul peak;
- forward (``inference_mode``), forward + decode (ours: ``model.decode`` to timelines; official: its own test-time
  step, MS-TCN / ASFormer the argmax of the last stage, BaFormer the released ``inference_bd_peak(outputs, 0.3)``),
  and a training step (forward, loss, backward, Adam; the official networks get our model's loss on their outputs
  and ``torch.optim.Adam`` as their trainers build it). BaFormer's official criterion (detectron2-style, Hungarian
  matching) is not in the reference folder: its training step is the official network's forward and backward with
  our matching criterion on its outputs (the same terms: classes, focal + dice masks, boundaries, every query set),
  so the official side's loss time is ours.
Each call is made twice back to back and the second timed; medians over rounds. Fraction of the peak: the model's
GMACs (all products, as `efficiency.py` counts ours; x3 for a training step) per second over the run's best peak,
the same work credited to both. Ceiling: ours' products replayed alone (`product_floor.py`); the official code's
convolutions run as oneDNN convolutions, which the product recorder does not see, so it has no such figure.

Writes ``results/official.json``.  ``python benchmarks/official.py [--rounds 2] [--length 5750]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import time
from pathlib import Path

import torch

from actionline.engine.allocator import tune_allocator
from actionline.engine.profiler import profile_model
from actionline.io import atomic_write_text
from efficiency import Workload, matmul_peak_gmacs

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parents[1] / "shared" / "reference-code" / "official.py"
MODELS = ("mstcn", "asformer", "baformer")


def load_official():
    spec = importlib.util.spec_from_file_location("official_reference", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Official:
    """An official network on the input of one of our workloads."""

    def __init__(self, official, ours: Workload):
        torch.manual_seed(0)
        self.name, self.ours = ours.name, ours
        build = {"mstcn": official.ref_mstcn, "asformer": official.ref_asformer, "baformer": official.ref_baformer}
        self.model = build[ours.name](2048, 19)
        self.mask = ours.mask[:, None, :].expand(1, 19, -1).float()  # [B, C, T]; they read mask[:, 0:1, :]
        self.decoder = official.baformer_inference_module() if ours.name == "baformer" else None
        weight_decay = 1e-5 if ours.name == "asformer" else 0.0
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=5e-4, weight_decay=weight_decay)
        for step in self.steps().values():
            step()  # warm-up

    def outputs(self):
        return self.model(self.ours.x) if self.name == "baformer" else self.model(self.ours.x, self.mask)

    def decode(self, out) -> None:
        if self.decoder is not None:
            self.decoder.inference_bd_peak(out, 0.3)
        else:
            out[-1].argmax(1)

    def forward(self) -> float:
        self.model.eval()
        started = time.perf_counter()
        with torch.inference_mode():
            self.outputs()
        return time.perf_counter() - started

    def inference(self) -> float:
        self.model.eval()
        started = time.perf_counter()
        with torch.inference_mode():
            self.decode(self.outputs())
        return time.perf_counter() - started

    def train_step(self) -> float:
        self.model.train()
        started = time.perf_counter()
        loss = self.ours.model.loss(self.as_ours(self.outputs()), self.ours.targets)["total"]
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return time.perf_counter() - started

    def as_ours(self, out) -> dict[str, torch.Tensor]:
        """The official outputs in our model's layout, for our loss: MS-TCN / ASFormer's stages as ``logits``;
        BaFormer's query sets (the auxiliary ones, then the last) stacked as ours, [S, B, Q, K+1], [S, B, Q, T]
        and its one boundary map per set [S, B, T]."""
        if self.name != "baformer":
            return {"logits": out}
        sets = [*out["aux_outputs"], out]
        return {
            "class_logits": torch.stack([s["pred_logits"] for s in sets]),
            "mask_logits": torch.stack([s["pred_masks"] for s in sets]),
            "boundary_logits": torch.stack([s["pred_boundarys"].squeeze(1) for s in sets]),
        }

    def steps(self) -> dict:
        return {"forward": self.forward, "inference": self.inference, "train": self.train_step}


def our_steps(w: Workload) -> dict:
    def forward() -> float:
        w.model.eval()
        started = time.perf_counter()
        with torch.inference_mode():
            w.model(w.x, w.mask)
        return time.perf_counter() - started

    return {"forward": forward, "inference": w.inference, "train": w.train_step}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (medians); 2 fit 6 minutes on 2 cores")
    ap.add_argument("--length", type=int, default=5750, help="frames (5,750: an average 50Salads video at rate 2)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--output", type=Path, default=HERE / "results" / "official.json")
    args = ap.parse_args()
    started = time.perf_counter()
    if not REFERENCE.is_file():
        print(f"skipped: the official code is not at {REFERENCE.parent} (see its README in the shared folder)")
        return
    tuned = tune_allocator()
    official = load_official()
    names = args.models.split(",")
    gmacs = {n: profile_model(n, 2048, 19, args.length, repeats=1).gmacs_total for n in names}
    ours = {n: Workload(n, args.length) for n in names}
    theirs = {n: Official(official, ours[n]) for n in names}
    times = {
        (side, n, k): [] for side in ("ours", "official") for n in names for k in ("forward", "inference", "train")
    }
    peaks, floors = [], {n: [] for n in names}
    for r in range(args.rounds):
        peaks.append(matmul_peak_gmacs(repeats=3))
        load = os.getloadavg()[0]
        for n in names:
            floors[n].append(ours[n].products["inference"].measure())
            for side, steps in (("ours", our_steps(ours[n])), ("official", theirs[n].steps())):
                for kind, step in steps.items():
                    step()
                    times[(side, n, kind)].append(step())
        print(f"round {r + 1}/{args.rounds}: peak {peaks[-1]:.0f} GMAC/s, load {load:.1f}", flush=True)
    peak = max(peaks)
    models = {}
    for n in names:
        row = {"gmacs_total": gmacs[n]}
        for side in ("ours", "official"):
            for kind in ("forward", "inference", "train"):
                samples = times[(side, n, kind)]
                if not samples:
                    continue
                seconds = statistics.median(samples)
                row[f"{side}_{kind}_ms"] = 1000 * seconds
                row[f"{side}_{kind}_fraction_of_peak"] = (3 if kind == "train" else 1) * gmacs[n] / seconds / peak
        for kind in ("forward", "inference", "train"):
            if f"official_{kind}_ms" in row:
                row[f"{kind}_ours_over_official"] = row[f"ours_{kind}_ms"] / row[f"official_{kind}_ms"]
        row["ours_inference_ceiling_fraction"] = gmacs[n] / min(floors[n]) / peak
        row["ours_inference_fraction_of_ceiling"] = (
            row["ours_inference_fraction_of_peak"] / row["ours_inference_ceiling_fraction"]
        )
        models[n] = row
        print(json.dumps({n: row}), flush=True)
    payload = {
        "length": args.length,
        "threads": torch.get_num_threads(),
        "rounds": args.rounds,
        "torch": torch.__version__,
        "allocator_tuned": tuned,
        "matmul_peak_gmacs_per_s": peak,
        "peaks": peaks,
        "date": time.strftime("%Y-%m-%d"),
        "models": models,
    }
    payload["wall_s"] = time.perf_counter() - started
    atomic_write_text(args.output, json.dumps(payload, indent=1))
    print(f"{payload['wall_s']:.0f} s in all; wrote {args.output}")


if __name__ == "__main__":
    main()
