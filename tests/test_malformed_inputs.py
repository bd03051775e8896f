"""A generated corpus of malformed inputs for every command: each case must end with exit status 2, one ``error:``
line, no traceback, and every file that existed before the command unchanged.

The cases are built from a few families (corrupt feature files x commands, label / mapping / split / metadata
files, detection JSON, command-line settings, paths, checkpoints, run folders), so that a class of failure is
covered, not a single example."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from actionline.cli import main

SMALL = ["--set", "model.num_stages=1", "--set", "model.num_layers=2", "--set", "model.num_f_maps=8"]


@pytest.fixture(scope="module")
def world(tmp_path_factory, toy_data) -> dict[str, Path]:
    """A dataset, a trained run, its predictions, a detection ground truth and submission, a video."""
    root = tmp_path_factory.mktemp("world")
    data = root / "data"
    shutil.copytree(toy_data, data)
    run = root / "run"
    assert main(["train", "--model", "mstcn", "--data", str(data), "--out", str(run), "--epochs", "1", *SMALL]) == 0
    assert main(["predict", "--run", str(run), "--data", str(data), "--out", str(root / "pred")]) == 0
    gt = {"database": {"v1": {"duration": 10.0, "subset": "test", "annotations": [{"segment": [1, 3], "label": "a"}]}}}
    (root / "gt.json").write_text(json.dumps(gt))
    sub = {"results": {"v1": [{"segment": [1.0, 3.0], "label": "a", "score": 0.9}]}}
    (root / "sub.json").write_text(json.dumps(sub))
    return {
        "root": root,
        "data": data,
        "run": run,
        "pred": root / "pred",
        "gt": root / "gt.json",
        "sub": root / "sub.json",
    }


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def copy_data(world, tmp: Path) -> Path:
    target = tmp / "data"
    shutil.copytree(world["data"], target)
    return target


def first_video(data: Path, part: str = "train") -> str:
    return (data / "splits" / f"{part}.split1.bundle").read_text().split()[0].removesuffix(".txt")


# --- families of cases: each builder gets (world, tmp) and returns argv -------------------------------------------
def feature_corruptions() -> dict[str, Callable[[Path], None]]:
    def save(array):
        return lambda p: np.save(p, array)

    def raw(data: bytes):
        return lambda p: p.write_bytes(data)

    def npz(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez(f, a=np.zeros((16, 5)))

    def truncated(p: Path) -> None:
        p.write_bytes(p.read_bytes()[:60])

    return {
        "nan": save(np.full((16, 50), np.nan, np.float32)),
        "inf": save(np.full((16, 50), np.inf, np.float32)),
        "one_dim": save(np.zeros(50, np.float32)),
        "three_dim": save(np.zeros((2, 16, 50), np.float32)),
        "empty": save(np.zeros((16, 0), np.float32)),
        "strings": save(np.array([["a"] * 50] * 16)),
        "npz_under_npy": npz,
        "truncated": truncated,
        "random_bytes": raw(np.random.default_rng(0).bytes(512)),
        "zero_bytes": raw(b""),
        "missing": lambda p: p.unlink(),
        "wrong_dim": save(np.zeros((7, 50), np.float32)),
    }


def label_corruptions() -> dict[str, Callable[[Path], None]]:
    return {
        "unknown_label": lambda p: p.write_text("juggling\n" * 40),
        "empty": lambda p: p.write_text(""),
        "not_utf8": lambda p: p.write_bytes(b"\xff\xfe\x00background\n" * 10),
        "missing": lambda p: p.unlink(),
        "too_short": lambda p: p.write_text("background\n"),
    }


def cases() -> dict[str, Callable]:
    out: dict[str, Callable] = {}

    # corrupt feature files, seen by train, predict and (through predict) every reader
    for name, corrupt in feature_corruptions().items():

        def train_case(w, tmp, corrupt=corrupt):
            data = copy_data(w, tmp)
            corrupt(data / "features" / f"{first_video(data)}.npy")
            return ["train", "--model", "mstcn", "--data", str(data), "--out", str(tmp / "r"), *SMALL]

        def predict_case(w, tmp, corrupt=corrupt):
            data = copy_data(w, tmp)
            corrupt(data / "features" / f"{first_video(data, 'test')}.npy")
            return ["predict", "--run", str(w["run"]), "--data", str(data), "--out", str(w["pred"])]

        out[f"features-{name}-train"] = train_case
        out[f"features-{name}-predict"] = predict_case

    # ground-truth label files: train and evaluate
    for name, corrupt in label_corruptions().items():

        def train_labels(w, tmp, corrupt=corrupt):
            data = copy_data(w, tmp)
            corrupt(data / "groundTruth" / f"{first_video(data)}.txt")
            return ["train", "--model", "mstcn", "--data", str(data), "--out", str(tmp / "r"), *SMALL]

        def eval_labels(w, tmp, corrupt=corrupt):
            data = copy_data(w, tmp)
            corrupt(data / "groundTruth" / f"{first_video(data, 'test')}.txt")
            return ["evaluate", "--pred", str(w["pred"]), "--data", str(data)]

        out[f"labels-{name}-train"] = train_labels
        out[f"labels-{name}-evaluate"] = eval_labels

    # mapping.txt, split bundles, actionline.json
    mapping = {
        "missing": lambda p: p.unlink(),
        "duplicate": lambda p: p.write_text("0 a\n1 a\n"),
        "gap": lambda p: p.write_text("0 a\n2 b\n"),
        "not_utf8": lambda p: p.write_bytes(b"0 \xff\n1 b\n"),
        "empty": lambda p: p.write_text(""),
        "garbage": lambda p: p.write_text("zero background\n"),
    }
    splits = {
        "missing": lambda p: p.unlink(),
        "empty": lambda p: p.write_text("\n"),
        "duplicate_line": lambda p: p.write_text(p.read_text() + p.read_text().splitlines()[0] + "\n"),
        "not_utf8": lambda p: p.write_bytes(b"\xff\xfe\n"),
        "unknown_video": lambda p: p.write_text("no_such_video.txt\n"),
    }
    metadata = {
        "sample_rate_zero": {"sample_rate": 0},
        "sample_rate_negative": {"sample_rate": -2},
        "sample_rate_string": {"sample_rate": "2"},
        "sample_rate_float": {"sample_rate": 1.5},
        "fps_zero": {"fps": 0},
        "fps_string": {"fps": "fast"},
        "background_number": {"background": 5},
        "unknown_key": {"colour": "red"},
        "num_splits_zero": {"num_splits": 0},
    }
    for name, corrupt in mapping.items():

        def mapping_case(w, tmp, corrupt=corrupt):
            data = copy_data(w, tmp)
            corrupt(data / "mapping.txt")
            return ["train", "--model", "mstcn", "--data", str(data), "--out", str(tmp / "r"), *SMALL]

        out[f"mapping-{name}-train"] = mapping_case
    for name, corrupt in splits.items():
        for command in ("train", "evaluate"):

            def split_case(w, tmp, corrupt=corrupt, command=command):
                data = copy_data(w, tmp)
                part = "train" if command == "train" else "test"
                corrupt(data / "splits" / f"{part}.split1.bundle")
                if command == "train":
                    return ["train", "--model", "mstcn", "--data", str(data), "--out", str(tmp / "r"), *SMALL]
                return ["evaluate", "--pred", str(w["pred"]), "--data", str(data)]

            out[f"splits-{name}-{command}"] = split_case
    for name, values in metadata.items():
        for command in ("train", "evaluate"):

            def meta_case(w, tmp, values=values, command=command):
                data = copy_data(w, tmp)
                meta = json.loads((data / "actionline.json").read_text())
                (data / "actionline.json").write_text(json.dumps({**meta, **values}))
                if command == "train":
                    return ["train", "--model", "mstcn", "--data", str(data), "--out", str(tmp / "r"), *SMALL]
                return ["evaluate", "--pred", str(w["pred"]), "--data", str(data)]

            out[f"metadata-{name}-{command}"] = meta_case

    out.update(detection_cases())
    out.update(option_cases())
    out.update(path_and_checkpoint_cases())
    return out


def detection_cases() -> dict[str, Callable]:
    out: dict[str, Callable] = {}
    bad_predictions = {
        "nan_score": {"segment": [1, 3], "label": "a", "score": float("nan")},
        "inf_score": {"segment": [1, 3], "label": "a", "score": float("inf")},
        "string_score": {"segment": [1, 3], "label": "a", "score": "high"},
        "no_score": {"segment": [1, 3], "label": "a"},
        "end_before_start": {"segment": [3, 1], "label": "a", "score": 0.5},
        "negative_time": {"segment": [-1, 1], "label": "a", "score": 0.5},
        "nan_time": {"segment": [float("nan"), 1], "label": "a", "score": 0.5},
        "string_time": {"segment": ["1", "2"], "label": "a", "score": 0.5},
        "three_numbers": {"segment": [1, 2, 3], "label": "a", "score": 0.5},
        "scalar_segment": {"segment": 1, "label": "a", "score": 0.5},
        "null_label": {"segment": [1, 2], "label": None, "score": 0.5},
        "bool_score": {"segment": [1, 2], "label": "a", "score": True},
        "list_entry": [1, 2, "a", 0.5],
    }
    for name, entry in bad_predictions.items():

        def pred_case(w, tmp, entry=entry):
            path = tmp / "sub.json"
            path.write_text(json.dumps({"results": {"v1": [entry]}}).replace("NaN", "NaN"))
            return ["evaluate", "--pred", str(path), "--gt", str(w["gt"])]

        out[f"submission-{name}"] = pred_case
    bad_submissions = {
        "results_list": {"results": [1, 2]},
        "no_results": {"version": 1},
        "entries_object": {"results": {"v1": {"segment": [1, 2]}}},
        "top_list": [1, 2, 3],
    }
    for name, payload in bad_submissions.items():

        def sub_case(w, tmp, payload=payload):
            path = tmp / "sub.json"
            path.write_text(json.dumps(payload))
            return ["evaluate", "--pred", str(path), "--gt", str(w["gt"])]

        out[f"submission-shape-{name}"] = sub_case
    bad_gt = {
        "database_list": {"database": [1, 2]},
        "duration_string": {"database": {"v1": {"duration": "long", "annotations": []}}},
        "duration_negative": {"database": {"v1": {"duration": -3, "annotations": []}}},
        "duration_nan": {"database": {"v1": {"duration": float("nan"), "annotations": []}}},
        "entry_list": {"database": {"v1": [1, 2]}},
        "annotations_object": {"database": {"v1": {"duration": 5, "annotations": {"segment": [1, 2]}}}},
        "segment_strings": {
            "database": {"v1": {"duration": 5, "annotations": [{"segment": ["a", "b"], "label": "x"}]}}
        },
        "end_before_start": {"database": {"v1": {"duration": 5, "annotations": [{"segment": [4, 2], "label": "x"}]}}},
        "empty_database": {"database": {}},
        "not_json": None,
    }
    for name, payload in bad_gt.items():

        def gt_case(w, tmp, payload=payload):
            path = tmp / "gt.json"
            path.write_text("{not json" if payload is None else json.dumps(payload))
            return ["evaluate", "--pred", str(w["sub"]), "--gt", str(path)]

        out[f"ground-truth-{name}"] = gt_case
    return out


def option_cases() -> dict[str, Callable]:
    out: dict[str, Callable] = {}
    train_sets = {
        "section_replaced": "train=3",
        "model_section_replaced": "model=[1,2]",
        "stages_zero": "model.num_stages=0",
        "absent_gpu": "train.device=cuda:7",
        "unknown_device": "train.device=tpu",
        "epochs_negative": "train.epochs=-1",
        "optimizer_typo": "train.optimizer=adamx",
        "scheduler_typo": "train.scheduler=cosine_annealing",
        "select_metric": "train.select_metric=accuracy",
        "no_equals": "train.lr",
        "lr_text": "train.lr=abc",
        "lr_zero": "train.lr=0",
        "unknown_section": "data.window=3",
        "unknown_model_key": "model.depth=3",
        "bool_for_int": "model.num_layers=true",
    }
    for name, setting in train_sets.items():
        out[f"train-set-{name}"] = lambda w, tmp, s=setting: [
            *("train", "--model", "mstcn", "--data", str(w["data"]), "--out", str(tmp / "r")),
            *SMALL,
            *("--set", s),
        ]
    predict_options = {
        "not_inference_setting": ["--set", "model.num_layers=3"],
        "other_section": ["--set", "train.lr=1"],
        "bad_checkpoint_name": ["--checkpoint", "middle"],
        "both_data_and_video": ["--video", "x.mp4"],
    }
    for name, extra in predict_options.items():
        out[f"predict-{name}"] = lambda w, tmp, e=extra: [
            *("predict", "--run", str(w["run"]), "--data", str(w["data"]), "--out", str(tmp / "p")),
            *e,
        ]
    out["predict-neither-input"] = lambda w, tmp: ["predict", "--run", str(w["run"]), "--out", str(tmp / "p")]
    profiles = {"length_zero": ["--length", "0"], "one_class": ["--num-classes", "1"], "unknown": ["--set", "x=1"]}
    for name, extra in profiles.items():
        out[f"profile-{name}"] = lambda w, tmp, e=extra: ["profile", "mstcn", "--repeats", "1", *e]
    out["profile-unknown-model"] = lambda w, tmp: ["profile", "tcnformer"]
    synth = {
        "segmentation-one-split": ["segmentation", "--splits", "1"],
        "segmentation-zero-dim": ["segmentation", "--feature-dim", "0"],
        "segmentation-one-video": ["segmentation", "--num-videos", "1"],
        "segmentation-negative-difficulty": ["segmentation", "--difficulty", "-1"],
        "detection-zero-stride": ["detection", "--stride", "0"],
        "detection-zero-fps": ["detection", "--fps", "0"],
        "detection-one-class": ["detection", "--num-classes", "1"],
        "detection-zero-dim": ["detection", "--feature-dim", "0"],
        "videos-zero-fps": ["videos", "--fps", "0"],
        "videos-one-video": ["videos", "--num-videos", "1"],
        "videos-tiny-frames": ["videos", "--size", "4"],
    }
    for name, extra in synth.items():
        out[f"synth-{name}"] = lambda w, tmp, e=extra: ["synth", e[0], "--out", str(tmp / "s"), *e[1:]]
    exports = {"negative_fps": ["--fps", "-1"], "nan_fps": ["--fps", "nan"], "format": ["--format", "xml"]}
    for name, extra in exports.items():
        out[f"export-{name}"] = lambda w, tmp, e=extra: [
            *("export", "--pred", str(w["pred"] / "timelines.json"), "--out", str(tmp / "e.csv")),
            *e,
        ]
    extracts = {
        "zero_fps": ["--fps", "0"],
        "zero_window": ["--window", "0"],
        "layout": ["--layout", "frames"],
        "stride_for_segmentation": ["--stride", "4"],
        "zero_stride": ["--layout", "detection", "--stride", "0"],
        "backbone": ["--backbone", "alexnet"],
        "weights_missing": ["--weights", "/nonexistent/w.pt"],
    }
    for name, extra in extracts.items():

        def extract_case(w, tmp, e=extra):
            (tmp / "v").mkdir()
            (tmp / "v" / "a.mp4").write_bytes(b"")
            return ["extract", str(tmp / "v"), "--out", str(tmp / "x"), *e]

        out[f"extract-{name}"] = extract_case
    evaluations = {
        "background_unknown": ["--background", "juggling"],
        "tiou_text": ["--tiou", "high"],
        "task_unknown": ["--task", "classification"],
        "split_missing": ["--split", "9"],
    }
    for name, extra in evaluations.items():
        out[f"evaluate-{name}"] = lambda w, tmp, e=extra: [
            *("evaluate", "--pred", str(w["pred"]), "--data", str(w["data"])),
            *e,
        ]
    out["evaluate-no-data"] = lambda w, tmp: ["evaluate", "--pred", str(w["pred"])]
    out["evaluate-unknown-file"] = lambda w, tmp: ["evaluate", "--pred", str(tmp / "x.txt"), "--data", str(w["data"])]
    out["view-missing-pred"] = lambda w, tmp: [
        "view",
        "--pred",
        str(tmp / "p"),
        "--data",
        str(w["data"]),
        "--out",
        str(tmp / "v.png"),
    ]
    out["view-unknown-video"] = lambda w, tmp: [
        *("view", "--pred", str(w["pred"]), "--data", str(w["data"]), "--out", str(tmp / "v.png")),
        "no_such_video",
    ]
    return out


def path_and_checkpoint_cases() -> dict[str, Callable]:
    out: dict[str, Callable] = {}

    def file_as_out(command: str):
        def case(w, tmp):
            target = tmp / "taken"
            target.write_text("a file")
            if command == "train":
                return ["train", "--model", "mstcn", "--data", str(w["data"]), "--out", str(target), *SMALL]
            if command == "predict":
                return ["predict", "--run", str(w["run"]), "--data", str(w["data"]), "--out", str(target)]
            return ["synth", "segmentation", "--out", str(target)]

        return case

    for command in ("train", "predict", "synth"):
        out[f"path-file-as-out-{command}"] = file_as_out(command)
    out["path-proc-out-train"] = lambda w, tmp: [
        *("train", "--model", "mstcn", "--data", str(w["data"]), "--out", "/proc/actionline-run"),
        *SMALL,
    ]
    out["path-proc-out-predict"] = lambda w, tmp: [
        *("predict", "--run", str(w["run"]), "--data", str(w["data"]), "--out", "/proc/actionline-pred"),
    ]
    out["path-markup-missing-data"] = lambda w, tmp: [
        *("train", "--model", "mstcn", "--data", str(tmp / "[bold]data[/bold]"), "--out", str(tmp / "r")),
    ]
    out["path-markup-missing-pred"] = lambda w, tmp: [
        *("evaluate", "--pred", str(tmp / "[red]p[/]"), "--data", str(w["data"])),
    ]
    out["path-markup-missing-run"] = lambda w, tmp: [
        *("predict", "--run", str(tmp / "[link=x]r[/link]"), "--data", str(w["data"]), "--out", str(tmp / "p")),
    ]

    def damaged_checkpoint(how: str):
        def case(w, tmp):
            run = tmp / "run"
            shutil.copytree(w["run"], run)
            path = run / "checkpoints" / "best.pt"
            raw = bytearray(path.read_bytes())
            if how == "flipped":
                for k in range(len(raw) // 2, len(raw) // 2 + 64):
                    raw[k] ^= 0xFF
            elif how == "truncated":
                raw = raw[: len(raw) // 3]
            elif how == "zero":
                raw = bytearray()
            elif how == "foreign":
                buffer = __import__("io").BytesIO()
                torch.save({"weights": torch.zeros(3)}, buffer)
                raw = bytearray(buffer.getvalue())
            path.write_bytes(bytes(raw))
            return ["predict", "--run", str(run), "--data", str(w["data"]), "--out", str(tmp / "p")]

        return case

    for how in ("flipped", "truncated", "zero", "foreign"):
        out[f"checkpoint-{how}"] = damaged_checkpoint(how)

    def run_folder(state: str):
        def case(w, tmp):
            run = tmp / "run"
            if state == "best_only":
                (run / "checkpoints").mkdir(parents=True)
                shutil.copy(w["run"] / "checkpoints" / "best.pt", run / "checkpoints" / "best.pt")
                return ["train", "--model", "mstcn", "--data", str(w["data"]), "--out", str(run), *SMALL]
            if state == "resume_missing":
                return ["train", "--model", "mstcn", "--data", str(w["data"]), "--out", str(run), "--resume", *SMALL]
            if state == "resume_other_model":
                shutil.copytree(w["run"], run)
                return ["train", "--model", "asformer", "--data", str(w["data"]), "--out", str(run), "--resume"]
            if state == "existing_without_resume":
                shutil.copytree(w["run"], run)
                return ["train", "--model", "mstcn", "--data", str(w["data"]), "--out", str(run), *SMALL]
            if state == "log_only":
                run.mkdir()
                (run / "log.jsonl").write_text('{"epoch": 1}\n')
                return ["train", "--model", "mstcn", "--data", str(w["data"]), "--out", str(run), *SMALL]
            run.mkdir()  # "empty": a run folder with no checkpoint
            (run / "config.yaml").write_text("model_name: mstcn\n")
            return ["predict", "--run", str(run), "--data", str(w["data"]), "--out", str(tmp / "p")]

        return case

    for state in ("best_only", "resume_missing", "resume_other_model", "existing_without_resume", "log_only", "empty"):
        out[f"run-{state}"] = run_folder(state)
    out["run-sample-rate-mismatch"] = sample_rate_mismatch
    out["run-classes-mismatch"] = classes_mismatch
    return out


def sample_rate_mismatch(w, tmp):
    data = copy_data(w, tmp)
    meta = json.loads((data / "actionline.json").read_text())
    (data / "actionline.json").write_text(json.dumps({**meta, "sample_rate": 2}))
    return ["predict", "--run", str(w["run"]), "--data", str(data), "--out", str(tmp / "p")]


def classes_mismatch(w, tmp):
    data = copy_data(w, tmp)
    lines = (data / "mapping.txt").read_text().splitlines()
    (data / "mapping.txt").write_text("\n".join([*lines, f"{len(lines)} extra_class"]) + "\n")
    return ["predict", "--run", str(w["run"]), "--data", str(data), "--out", str(tmp / "p")]


CASES = cases()


def test_the_corpus_is_large_and_covers_every_family():
    assert len(CASES) >= 150
    families = {name.split("-")[0] for name in CASES}
    assert {
        "features",
        "labels",
        "mapping",
        "splits",
        "metadata",
        "submission",
        "ground",
        "train",
        "predict",
    } <= families
    assert {"path", "checkpoint", "run", "synth", "export", "extract", "profile", "evaluate", "view"} <= families


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_gives_one_error_line(name, world, tmp_path, capsys):
    argv = CASES[name](world, tmp_path)
    before = snapshot(world["root"]), snapshot(tmp_path)
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 2, (name, code, captured.err[-600:])
    assert len(errors) == 1 and "Traceback" not in captured.err + captured.out, captured.err[-600:]
    after_world, after_tmp = snapshot(world["root"]), snapshot(tmp_path)
    assert after_world == before[0], "a pre-existing file changed"
    assert {k: v for k, v in after_tmp.items() if k in before[1]} == before[1], "a pre-existing file changed"
    if "markup" in name:
        assert "[" in errors[0], "the path's brackets were swallowed as markup"
