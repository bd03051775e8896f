"""A generated corpus of hostile inputs, round two (issue 34), in the style of `test_malformed_inputs`: each case
must end with exit status 2, one ``error:`` line naming the problem, no traceback and every pre-existing file
unchanged; valid-but-odd input must give the clean input's result.

Families: malicious pickles through every path that loads a ``.pt`` (the payload would create a marker file: it
must never appear), injection strings in every field that reaches the HTML report (the page is parsed: no injected
element or event attribute, the CSP admits only the page's own script), a full device and a file-size limit (in a
subprocess, with ``resource.setrlimit``), path traversal in every index or list file, non-finite and absurd numeric
options for every command."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from actionline.cli import main
from actionline.data.synthetic.video import write_video
from actionline.engine.checkpoint import DIGEST_ENTRY, SEALED, entries_digest
from test_malformed_inputs import SMALL, snapshot, world  # noqa: F401  (world: the shared trained run)

MARKER = "pwned.marker"


class Payload:
    """Unpickling it runs ``open(<marker>, 'w')``: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def malicious_pickles(tmp: Path) -> dict[str, Path]:
    """The payload as a plain checkpoint, as one carrying a valid digest entry, in the previous sealed layout and
    as a weights file."""
    marker = tmp / MARKER
    ckpt = {
        "format": "actionline-checkpoint/1",
        "model": "mstcn",
        "model_config": {},
        "classes": [],
        "x": Payload(marker),
    }
    plain = tmp / "evil.pt"
    torch.save(ckpt, plain)
    digest = tmp / "evil_digest.pt"
    torch.save(ckpt, digest)
    with zipfile.ZipFile(digest) as archive:
        value, prefix = entries_digest(archive), archive.namelist()[0].split("/")[0]
    with zipfile.ZipFile(digest, "a") as archive:
        archive.writestr(f"{prefix}/{DIGEST_ENTRY}", value)
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    sealed = tmp / "evil_sealed.pt"
    torch.save(
        {"format": SEALED, "payload": buffer.getvalue(), "sha256": hashlib.sha256(buffer.getvalue()).hexdigest()},
        sealed,
    )
    weights = tmp / "evil_weights.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": Payload(marker)}, weights)
    return {"plain": plain, "digest": digest, "sealed": sealed, "weights": weights}


def run_with(w, tmp: Path, ckpt: Path) -> Path:
    """A copy of the world's run whose checkpoints are ``ckpt``."""
    run = tmp / "run"
    shutil.copytree(w["run"], run)
    for which in ("best.pt", "last.pt"):
        shutil.copyfile(ckpt, run / "checkpoints" / which)
    return run


def pickle_cases() -> dict[str, Callable]:
    out: dict[str, Callable] = {}
    for kind in ("plain", "digest", "sealed"):
        out[f"pickle-{kind}-predict-file"] = lambda w, tmp, k=kind: [
            *("predict", "--run", str(malicious_pickles(tmp)[k]), "--data", str(w["data"]), "--out", str(tmp / "p")),
        ]
        out[f"pickle-{kind}-predict-run"] = lambda w, tmp, k=kind: [
            *("predict", "--run", str(run_with(w, tmp, malicious_pickles(tmp)[k])), "--data", str(w["data"])),
            *("--out", str(tmp / "p")),
        ]
        out[f"pickle-{kind}-predict-video"] = lambda w, tmp, k=kind: [
            *("predict", "--run", str(malicious_pickles(tmp)[k]), "--video", str(tmp / "v.mp4")),
            *("--out", str(tmp / "p")),
        ]
        out[f"pickle-{kind}-resume"] = lambda w, tmp, k=kind: [
            *("train", "--model", "mstcn", "--data", str(w["data"]), "--resume", *SMALL),
            *("--out", str(run_with(w, tmp, malicious_pickles(tmp)[k]))),
        ]
        out[f"pickle-{kind}-profile-run"] = lambda w, tmp, k=kind: [
            *("profile", "--run", str(run_with(w, tmp, malicious_pickles(tmp)[k])), "--data", str(w["data"])),
        ]
        out[f"pickle-{kind}-model-init"] = lambda w, tmp, k=kind: [
            *("train", "--model", "stc_resnet3d_18", "--data", str(clip_dataset(tmp)), "--out", str(tmp / "r")),
            *("--set", f"model.init={malicious_pickles(tmp)[k]}", "--epochs", "1"),
        ]
    out["pickle-weights-extract"] = lambda w, tmp: [
        *(
            "extract",
            str(video_folder(tmp)),
            "--backbone",
            "resnet18",
            "--weights",
            str(malicious_pickles(tmp)["weights"]),
        ),
        *("--out", str(tmp / "x")),
    ]
    out["pickle-weights-model-init"] = lambda w, tmp: [
        *("train", "--model", "stc_resnet3d_18", "--data", str(clip_dataset(tmp)), "--out", str(tmp / "r")),
        *("--set", f"model.init={malicious_pickles(tmp)['weights']}", "--epochs", "1"),
    ]
    out["pickle-weights-inflate"] = lambda w, tmp: [
        *("train", "--model", "stc_resnet3d_18", "--data", str(clip_dataset(tmp)), "--out", str(tmp / "r")),
        *("--set", f"model.init=inflate:{malicious_pickles(tmp)['weights']}", "--epochs", "1"),
    ]
    out["pickle-weights-teacher"] = lambda w, tmp: [
        *("pretrain", "--data", str(clip_dataset(tmp)), "--out", str(tmp / "r"), "--teacher", "resnet18"),
        *("--teacher-weights", str(malicious_pickles(tmp)["weights"])),
    ]
    return out


def video_folder(tmp: Path) -> Path:
    """A folder with one short real video."""
    write_video(tmp / "v" / "a.mp4", np.zeros((2, 32, 32, 3), np.uint8), 5)
    return tmp / "v"


def clip_dataset(tmp: Path) -> Path:
    """A two-class clip dataset (CSV layout) of empty video files: enough for every check made before decoding."""
    root = tmp / "clips"
    (root / "videos").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(4):
        (root / "videos" / f"c{i}.mp4").write_bytes(b"")
        rows.append(f"videos/c{i}.mp4,{'ab'[i % 2]}")
    for part in ("train", "test"):
        (root / f"{part}.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    return root


# --- path traversal in every index or list file ---------------------------------------------------------------
def traversal_cases() -> dict[str, Callable]:
    out: dict[str, Callable] = {}
    outside = "../../../outside"

    def bundle(w, tmp):
        data = tmp / "data"
        shutil.copytree(w["data"], data)
        path = data / "splits" / "test.split1.bundle"
        path.write_text(path.read_text() + f"{outside}.txt\n")
        return ["predict", "--run", str(w["run"]), "--data", str(data), "--out", str(tmp / "p")]

    def csv_row(w, tmp):
        root = clip_dataset(tmp)
        (root / "train.csv").write_text((root / "train.csv").read_text() + f"{outside}.mp4,a\n")
        return ["train", "--model", "stc_resnet3d_18", "--data", str(root), "--out", str(tmp / "r"), "--epochs", "1"]

    def csv_absolute(w, tmp):
        root = clip_dataset(tmp)
        (root / "train.csv").write_text((root / "train.csv").read_text() + f"{root / 'videos' / 'c0.mp4'},a\n")
        return ["train", "--model", "stc_resnet3d_18", "--data", str(root), "--out", str(tmp / "r"), "--epochs", "1"]

    def ucf_list(w, tmp):
        root = tmp / "ucf"
        (root / "ucfTrainTestlist").mkdir(parents=True)
        (root / "ucfTrainTestlist" / "classInd.txt").write_text("1 A\n2 B\n")
        (root / "ucfTrainTestlist" / "trainlist01.txt").write_text(f"A/{outside}.avi 1\nB/v.avi 2\n")
        (root / "ucfTrainTestlist" / "testlist01.txt").write_text("A/v.avi\n")
        return ["train", "--model", "stc_resnet3d_18", "--data", str(root), "--out", str(tmp / "r"), "--epochs", "1"]

    def hvu_index(w, tmp):
        root = hvu_dataset(tmp)
        (root / "index.csv").write_text(f"youtube_id,path\nclip0,{outside}.mp4\n")
        return ["train", "--model", "tagger", "--data", str(root), "--out", str(tmp / "r"), "--epochs", "1"]

    def hvu_duplicate(w, tmp):
        root = hvu_dataset(tmp)
        rows = (root / "HVU_Train_V1.0.csv").read_text().splitlines()
        (root / "HVU_Train_V1.0.csv").write_text("\n".join([*rows, rows[1]]) + "\n")
        return ["train", "--model", "tagger", "--data", str(root), "--out", str(tmp / "r"), "--epochs", "1"]

    def detection_id(w, tmp):
        gt = json.loads(w["gt"].read_text())
        gt["database"][f"{outside}"] = gt["database"]["v1"]
        root = tmp / "det"
        (root / "features").mkdir(parents=True)
        (root / "annotations.json").write_text(json.dumps(gt))
        return ["train", "--model", "actionness", "--data", str(root), "--out", str(tmp / "r"), "--epochs", "1"]

    for name, case in {
        "bundle": bundle,
        "csv-row": csv_row,
        "csv-absolute": csv_absolute,
        "ucf-list": ucf_list,
        "hvu-index": hvu_index,
        "hvu-duplicate-row": hvu_duplicate,
        "detection-id": detection_id,
    }.items():
        out[f"traversal-{name}"] = case
    return out


def hvu_dataset(tmp: Path) -> Path:
    """A minimal HVU folder: categories, two tagged training clips, an index of (empty) video files."""
    root = tmp / "hvu"
    (root / "videos").mkdir(parents=True)
    (root / "HVU_Tags_Categories_V1.0.csv").write_text("Tag,Category\nbeach,scene\ndog,object\n")
    rows = ["Tags,youtube_id,time_start,time_end", "beach|dog,clip0,0,5", "dog,clip1,0,5"]
    (root / "HVU_Train_V1.0.csv").write_text("\n".join(rows) + "\n")
    (root / "HVU_Val_V1.0.csv").write_text("\n".join(rows) + "\n")
    for clip in ("clip0", "clip1"):
        (root / "videos" / f"{clip}.mp4").write_bytes(b"")
    return root


# --- non-finite and absurd numbers, every command ---------------------------------------------------------------
def numeric_cases() -> dict[str, Callable]:
    out: dict[str, Callable] = {}
    huge = str(2**63)

    def train(*extra):
        return lambda w, tmp: [
            *("train", "--model", "mstcn", "--data", str(w["data"]), "--out", str(tmp / "r"), *SMALL, *extra)
        ]

    def extract(*extra):
        return lambda w, tmp: ["extract", str(video_folder(tmp)), "--out", str(tmp / "x"), *extra]

    cases = {
        "train-lr-nan": train("--set", "train.lr=nan"),
        "train-lr-inf": train("--set", "train.lr=inf"),
        "train-epochs-huge": train("--epochs", huge),
        "train-epochs-twice": train("--epochs", "2", "--set", "train.epochs=2.5"),
        "train-section-and-epochs": train("--epochs", "2", "--set", "train=5"),
        "train-split-huge": train("--split", huge),
        "extract-fps-inf": extract("--fps", "inf"),
        "extract-fps-nan": extract("--fps", "nan"),
        "extract-fps-1e9": extract("--fps", "1e9"),
        "extract-window-huge": extract("--window", "1000000"),
        "extract-batch-zero": extract("--batch-size", "0"),
        "extract-batch-negative": extract("--batch-size", "-3"),
        "extract-batch-huge": extract("--batch-size", huge),
        "extract-random-without-opt-in": extract("--backbone", "i3d_rgb"),
        "profile-length-1e9": lambda w, tmp: ["profile", "mstcn", "--repeats", "1", "--length", "1000000000"],
        "profile-length-2e63": lambda w, tmp: ["profile", "mstcn", "--repeats", "1", "--length", huge],
        "profile-input-dim": lambda w, tmp: ["profile", "mstcn", "--repeats", "1", "--input-dim", "100000000000"],
        "profile-num-classes": lambda w, tmp: ["profile", "mstcn", "--repeats", "1", "--num-classes", "100000000000"],
        "profile-repeats": lambda w, tmp: ["profile", "mstcn", "--repeats", "1000000000"],
        "export-fps-inf": lambda w, tmp: [
            *("export", "--pred", str(w["pred"] / "timelines.json"), "--out", str(tmp / "e.csv"), "--fps", "inf")
        ],
        "view-format": lambda w, tmp: [
            *("view", "--pred", str(w["pred"]), "--data", str(w["data"]), "--out", str(tmp / "v.xyz"))
        ],
        "report-max-negative": lambda w, tmp: [
            *("report", "--pred", str(w["pred"]), "--data", str(w["data"]), "--out", str(tmp / "r.html")),
            *("--max-videos", "-1"),
        ],
        "evaluate-tiou-nan": lambda w, tmp: [
            "evaluate",
            "--pred",
            str(w["sub"]),
            "--gt",
            str(w["gt"]),
            "--tiou",
            "nan",
        ],
    }
    synth = {
        "segmentation-difficulty-nan": ["segmentation", "--difficulty", "nan"],
        "segmentation-length-inf": ["segmentation", "--length-scale", "inf"],
        "segmentation-videos-huge": ["segmentation", "--num-videos", huge],
        "segmentation-dim-huge": ["segmentation", "--feature-dim", "1000000000"],
        "segmentation-seed-negative": ["segmentation", "--seed", "-1"],
        "detection-fps-inf": ["detection", "--fps", "inf"],
        "detection-classes-huge": ["detection", "--num-classes", "1000000000"],
        "videos-size-huge": ["videos", "--size", "1000000"],
        "video-frames-huge": ["video", "--frames", "1000000000"],
        "hvu-fps-nan": ["hvu", "--fps", "nan"],
    }
    for name, extra in synth.items():
        cases[f"synth-{name}"] = lambda w, tmp, e=extra: ["synth", e[0], "--out", str(tmp / "s"), *e[1:]]
    for name, case in cases.items():
        out[f"numeric-{name}"] = case
    return out


def other_cases() -> dict[str, Callable]:
    """Items 3-5 and 8 of the issue that are neither pickles, traversal nor numbers."""

    def synth_into_dataset(w, tmp):
        data = tmp / "data"
        shutil.copytree(w["data"], data)
        return ["synth", "segmentation", "--out", str(data), "--num-videos", "8", "--feature-dim", "4"]

    def features_without_settings(w, tmp):
        (tmp / "x" / "features").mkdir(parents=True)
        np.save(tmp / "x" / "features" / "a.npy", np.zeros((1280, 3), np.float32))
        video_folder(tmp)
        return ["extract", str(tmp / "v"), "--out", str(tmp / "x"), "--fps", "5"]

    def image_as_video(w, tmp):
        from PIL import Image

        (tmp / "v").mkdir()
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp / "v" / "still.png")
        (tmp / "v" / "still.png").rename(tmp / "v" / "still.mp4")
        return ["extract", str(tmp / "v"), "--out", str(tmp / "x"), "--fps", "5"]

    def dangling_link(w, tmp):
        (tmp / "v").mkdir()
        (tmp / "v" / "gone.mp4").symlink_to(tmp / "nowhere.mp4")
        return ["extract", str(tmp / "v"), "--out", str(tmp / "x"), "--fps", "5"]

    def complex_features(w, tmp):
        data = tmp / "data"
        shutil.copytree(w["data"], data)
        video = (data / "splits" / "train.split1.bundle").read_text().split()[0].removesuffix(".txt")
        shape = np.load(data / "features" / f"{video}.npy").shape
        np.save(data / "features" / f"{video}.npy", np.ones(shape, np.complex64))
        return ["train", "--model", "mstcn", "--data", str(data), "--out", str(tmp / "r"), *SMALL]

    def no_model_config(w, tmp):
        ckpt = torch.load(w["run"] / "checkpoints" / "last.pt", weights_only=True)
        del ckpt["model_config"]
        torch.save(ckpt, tmp / "c.pt")
        return ["predict", "--run", str(tmp / "c.pt"), "--data", str(w["data"]), "--out", str(tmp / "p")]

    def empty_weights(w, tmp):
        (tmp / "w.pt").write_bytes(b"")
        folder = str(video_folder(tmp))
        return ["extract", folder, "--backbone", "resnet18", "--weights", str(tmp / "w.pt"), "--out", str(tmp / "x")]

    def detection_beyond_duration(w, tmp):
        gt = {"database": {f"v{i}": {"duration": 10.0, "subset": "training", "annotations": [
            {"segment": [100.0 + i, 120.0 + i], "label": "a"}]} for i in range(4)}}  # fmt: skip
        root = tmp / "det"
        (root / "features").mkdir(parents=True)
        (root / "annotations.json").write_text(json.dumps(gt))
        return ["train", "--model", "actionness", "--data", str(root), "--out", str(tmp / "r"), "--epochs", "1"]

    def sgs_bins_zero(w, tmp):
        return ["profile", "stc_resnet3d_18", "--repeats", "1", "--set", "sgs_bins=0"]

    return {
        "other-synth-into-dataset": synth_into_dataset,
        "other-features-without-settings": features_without_settings,
        "other-image-renamed-video": image_as_video,
        "other-dangling-link": dangling_link,
        "other-complex-features": complex_features,
        "other-checkpoint-without-model-config": no_model_config,
        "other-empty-weights": empty_weights,
        "other-detection-beyond-duration": detection_beyond_duration,
        "other-sgs-bins-zero": sgs_bins_zero,
        "other-dev-full-report": lambda w, tmp: [
            *("report", "--pred", str(w["pred"]), "--data", str(w["data"]), "--out", "/dev/full")
        ],
        "other-dev-full-export": lambda w, tmp: [
            *("export", "--pred", str(w["pred"] / "timelines.json"), "--out", "/dev/full")
        ],
        "other-dev-full-view": lambda w, tmp: [
            *("view", "--pred", str(w["pred"]), "--data", str(w["data"]), "--out", "/dev/full")
        ],
    }


CASES = {**pickle_cases(), **traversal_cases(), **numeric_cases(), **other_cases()}


def test_the_corpus_covers_every_family():
    families = {name.split("-")[0] for name in CASES}
    assert families == {"pickle", "traversal", "numeric", "other"} and len(CASES) >= 70
    loading_paths = {name.rsplit("-", 2)[-2] + "-" + name.rsplit("-", 1)[-1] for name in CASES if "pickle" in name}
    assert {
        "predict-file",
        "predict-run",
        "predict-video",
        "profile-run",
        "model-init",
        "weights-extract",
    } <= loading_paths


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_gives_one_error_line(name, world, tmp_path, capsys):  # noqa: F811
    argv = CASES[name](world, tmp_path)
    before = snapshot(world["root"]), snapshot(tmp_path)
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert code == 2, (name, code, captured.err[-800:])
    assert len(errors) == 1 and "Traceback" not in captured.err + captured.out, captured.err[-800:]
    assert "internal error" not in errors[0]
    assert not (tmp_path / MARKER).exists(), "the pickled payload ran"
    named = {"pickle": ("refused", "--trust"), "traversal": ("outside the dataset", "listed twice")}
    assert any(words in errors[0] for words in named.get(name.split("-")[0], ("",))), errors[0]
    assert snapshot(world["root"]) == before[0], "a pre-existing file changed"
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before[1]} == before[1], "a pre-existing file changed"
    assert Path("/dev/full").is_char_device()
