"""The command line end to end, and one clear line (exit 2, no traceback) for each kind of bad input."""

import json
import shutil

import numpy as np
import pytest

from actionline.cli import main

SMALL = [
    "--set",
    "model.num_stages=2",
    "--set",
    "model.num_layers=3",
    "--set",
    "model.num_f_maps=8",
    "--set",
    "train.lr=0.005",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, toy_data):
    root = tmp_path_factory.mktemp("cli")
    assert (
        main(
            [
                "train",
                "--model",
                "mstcn",
                "--data",
                str(toy_data),
                "--split",
                "1",
                "--out",
                str(root / "run"),
                "--epochs",
                "2",
                *SMALL,
            ]
        )
        == 0
    )
    assert main(["predict", "--run", str(root / "run"), "--data", str(toy_data), "--out", str(root / "pred")]) == 0
    return root


def test_evaluate_json_has_the_promised_keys(trained, toy_data, capsys):
    capsys.readouterr()
    assert main(["evaluate", "--pred", str(trained / "pred"), "--data", str(toy_data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"acc", "edit", "f1@10", "f1@25", "f1@50", "settings"} <= set(result)
    assert result["settings"]["background"] == ["background"]


def test_evaluate_accepts_one_label_per_line_files_and_gives_100_on_ground_truth(tmp_path, toy_data, capsys):
    shutil.copytree(toy_data / "groundTruth", tmp_path / "gt_as_pred")
    capsys.readouterr()
    assert main(["evaluate", "--pred", str(tmp_path / "gt_as_pred"), "--data", str(toy_data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["acc"] == result["edit"] == result["f1@50"] == 100.0


def test_evaluate_timelines_json_equals_folder(trained, toy_data, capsys):
    capsys.readouterr()
    main(["evaluate", "--pred", str(trained / "pred"), "--data", str(toy_data), "--json"])
    a = json.loads(capsys.readouterr().out)
    main(["evaluate", "--pred", str(trained / "pred" / "timelines.json"), "--data", str(toy_data), "--json"])
    assert json.loads(capsys.readouterr().out) == a


def test_profile_json(capsys):
    assert (
        main(
            [
                "profile",
                "mstcn",
                "--input-dim",
                "32",
                "--num-classes",
                "5",
                "--length",
                "100",
                "--repeats",
                "1",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert {"params", "gmacs", "latency_ms", "peak_mem_mb"} <= set(result) and result["params"] > 0


def test_view_writes_png(trained, toy_data, tmp_path):
    assert (
        main(["view", "--pred", str(trained / "pred"), "--data", str(toy_data), "--out", str(tmp_path / "v.png")]) == 0
    )
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"


def test_help_for_every_command(capsys):
    for cmd in (
        ["--help"],
        ["train", "--help"],
        ["predict", "--help"],
        ["evaluate", "--help"],
        ["profile", "--help"],
        ["view", "--help"],
        ["package", "--help"],
        ["export-model", "--help"],
        ["synth", "segmentation", "--help"],
    ):
        assert main(cmd) == 0
        assert "Example" in capsys.readouterr().out or cmd == ["--help"]


# --- bad input: one line, exit 2, nothing damaged ------------------------------------------------------------------
def _error_line(capsys):
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.fixture()
def data_copy(tmp_path, toy_data):
    root = tmp_path / "data"
    shutil.copytree(toy_data, root)
    return root


def _train_args(data, run):
    return ["train", "--model", "mstcn", "--data", str(data), "--out", str(run), "--epochs", "1", *SMALL]


def test_usage_errors_are_a_message_and_status_2(capsys):
    assert main(["train", "--no-such-option"]) == 2
    captured = capsys.readouterr()
    assert "No such option: --no-such-option" in captured.err and "Traceback" not in captured.err
    assert main(["--help"]) == 0 and "train" in capsys.readouterr().out


def test_missing_data_folder(tmp_path, capsys):
    assert main(_train_args(tmp_path / "nope", tmp_path / "run")) == 2
    assert "not found" in _error_line(capsys)


def test_nan_features(data_copy, tmp_path, capsys):
    v = (data_copy / "splits" / "train.split1.bundle").read_text().split()[0][:-4]
    arr = np.load(data_copy / "features" / f"{v}.npy")
    arr[0, 3] = np.nan
    np.save(data_copy / "features" / f"{v}.npy", arr)
    assert main(_train_args(data_copy, tmp_path / "run")) == 2
    assert "NaN" in _error_line(capsys)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_label_length_mismatch(data_copy, tmp_path, capsys):
    v = (data_copy / "splits" / "train.split1.bundle").read_text().split()[0][:-4]
    path = data_copy / "groundTruth" / f"{v}.txt"
    path.write_text(path.read_text() * 2)
    assert main(_train_args(data_copy, tmp_path / "run")) == 2
    assert "labels" in _error_line(capsys)


def test_unknown_label(data_copy, tmp_path, capsys):
    v = (data_copy / "splits" / "train.split1.bundle").read_text().split()[0][:-4]
    path = data_copy / "groundTruth" / f"{v}.txt"
    path.write_text(path.read_text().replace("background", "nap", 1))
    assert main(_train_args(data_copy, tmp_path / "run")) == 2
    assert "'nap' is not in mapping.txt" in _error_line(capsys)


def test_unknown_model(toy_data, tmp_path, capsys):
    args = _train_args(toy_data, tmp_path / "run")
    args[2] = "tcnformer"
    assert main(args) == 2
    assert "unknown model 'tcnformer'" in _error_line(capsys)


def test_checkpoint_with_another_class_count(trained, data_copy, tmp_path, capsys):
    (data_copy / "mapping.txt").write_text((data_copy / "mapping.txt").read_text() + "15 extra_class\n")
    assert main(["predict", "--run", str(trained / "run"), "--data", str(data_copy), "--out", str(tmp_path / "p")]) == 2
    assert "classes" in _error_line(capsys)


def test_features_of_another_dimension(trained, data_copy, tmp_path, capsys):
    for p in (data_copy / "features").glob("*.npy"):
        np.save(p, np.zeros((7, np.load(p).shape[1]), dtype=np.float32))
    assert main(["predict", "--run", str(trained / "run"), "--data", str(data_copy), "--out", str(tmp_path / "p")]) == 2
    assert "dimensions" in _error_line(capsys)


def test_missing_prediction_and_bad_background(trained, toy_data, tmp_path, capsys):
    shutil.copytree(trained / "pred", tmp_path / "pred")
    victim = next(p for p in (tmp_path / "pred").iterdir() if p.name != "timelines.json")
    victim.unlink()
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--data", str(toy_data)]) == 2
    assert "no prediction for video" in _error_line(capsys)


def test_existing_run_needs_resume(trained, toy_data, capsys):
    before = (trained / "run" / "checkpoints" / "last.pt").read_bytes()
    assert main(_train_args(toy_data, trained / "run")) == 2
    assert "--resume" in _error_line(capsys)
    assert (trained / "run" / "checkpoints" / "last.pt").read_bytes() == before


def test_debug_shows_the_traceback(tmp_path):
    from actionline.errors import DataError

    with pytest.raises(DataError):
        main(["--debug", *_train_args(tmp_path / "nope", tmp_path / "run")])


def test_unknown_background_label_is_an_error(trained, toy_data, capsys):
    assert main(["evaluate", "--pred", str(trained / "pred"), "--data", str(toy_data), "--background", "SIL"]) == 2
    assert "'SIL' is not a class" in _error_line(capsys)
