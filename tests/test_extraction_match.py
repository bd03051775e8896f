"""`predict --data` refuses features extracted otherwise than the run's training features (int8 for fp32, another
fps, ...) when both sides record how, and predicts as before when either does not."""

import json
import shutil
from dataclasses import replace

import pytest

from actionline.cli import main
from actionline.engine.run_record import ExtractionSettings

SMALL = ["--set", "model.num_stages=1", "--set", "model.num_layers=2", "--set", "model.num_f_maps=8"]
# what `extract` writes for the toy's 16-d features (a made-up digest: nothing here runs a backbone)
RECORDED = ExtractionSettings("efficientnet_lite0", "packaged:" + "ab" * 32, fps=15.0, feature_dim=16)


def _folder(toy_data, root, settings):
    """A copy of the toy dataset with ``settings`` as its extraction.json (None: without one)."""
    shutil.copytree(toy_data, root)
    if settings is not None:
        (root / "extraction.json").write_text(json.dumps(settings.as_dict()))
    return root


def _train(data, run):
    args = ["train", "--model", "mstcn", "--data", str(data), "--out", str(run), "--epochs", "1", *SMALL]
    assert main(args) == 0
    return run


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory, toy_data):
    """A run trained on features whose extraction.json says fp32 EfficientNet-Lite0 at 15 fps."""
    root = tmp_path_factory.mktemp("match")
    return _train(_folder(toy_data, root / "data", RECORDED), root / "run")


def _predict(run, data, out):
    return main(["predict", "--run", str(run), "--data", str(data), "--out", str(out)])


def _error_line(capsys):
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("other", "shown"),
    [
        (replace(RECORDED, int8="cd" * 32), "int8 none (fp32) vs cdcdcdcdcdcd..."),
        (replace(RECORDED, fps=30.0), "fps 15.0 vs 30.0"),
    ],
)
def test_features_extracted_otherwise_are_refused_and_nothing_is_written(
    recorded_run, toy_data, tmp_path, capsys, other, shown
):
    data = _folder(toy_data, tmp_path / "data", other)
    assert _predict(recorded_run, data, tmp_path / "pred") == 2
    line = _error_line(capsys)
    assert shown in line and "extraction.json" in line
    assert not (tmp_path / "pred").exists()


def test_a_refusal_leaves_an_existing_prediction_folder_as_it_was(recorded_run, toy_data, tmp_path, capsys):
    data = _folder(toy_data, tmp_path / "data", replace(RECORDED, window=9))
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "timelines.json").write_text("{}")
    assert _predict(recorded_run, data, tmp_path / "pred") == 2
    assert "window 21 vs 9" in _error_line(capsys)
    assert [p.name for p in (tmp_path / "pred").iterdir()] == ["timelines.json"]
    assert (tmp_path / "pred" / "timelines.json").read_text() == "{}"


def test_the_same_settings_are_accepted(recorded_run, toy_data, tmp_path):
    data = _folder(toy_data, tmp_path / "data", RECORDED)
    assert _predict(recorded_run, data, tmp_path / "pred") == 0
    assert (tmp_path / "pred" / "timelines.json").is_file()


def test_a_folder_without_a_record_is_predicted_as_before(recorded_run, toy_data, tmp_path):
    assert _predict(recorded_run, toy_data, tmp_path / "pred") == 0
    assert (tmp_path / "pred" / "timelines.json").is_file()


def test_a_run_without_a_record_predicts_any_folder(toy_data, tmp_path):
    run = _train(toy_data, tmp_path / "run")  # the toy has no extraction.json: the run records none
    data = _folder(toy_data, tmp_path / "data", replace(RECORDED, int8="cd" * 32))
    assert _predict(run, data, tmp_path / "pred") == 0


def test_differences_name_the_settings_that_change_the_features():
    other = replace(RECORDED, fps=30.0, int8="cd" * 32, feature_dim=1280)
    assert RECORDED.differences(other) == ["fps", "int8"]  # the dimension is checked against the model's input
    assert RECORDED.differences(replace(RECORDED, feature_dim=1280)) == []
