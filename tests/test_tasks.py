"""The task interface: one task per kind of model, chosen once (model, run metadata, files), and the parts of the
model contract the base class declares (inference-time settings, parameter groups, the template decode)."""

from __future__ import annotations

import json

import pytest
import torch

from actionline.cli import main
from actionline.cli.commands import TaskOptions
from actionline.errors import ConfigError
from actionline.models.registry import MODELS, available_models, build_model
from actionline.tasks.registry import TASKS, get_task, task_of_files


def test_every_model_declares_a_known_task():
    assert set(available_models()) == set(MODELS)
    assert {cls.task for cls in MODELS.values()} == set(TASKS)
    with pytest.raises(ConfigError, match="unknown task"):
        get_task("captioning")


def test_task_of_files(tmp_path):
    (tmp_path / "preds").mkdir()
    assert task_of_files(tmp_path / "preds").name == "segmentation"
    assert task_of_files(tmp_path / "preds" / "timelines.json").name == "segmentation"
    assert task_of_files(tmp_path / "results.json").name == "detection"
    (tmp_path / "det").mkdir()
    (tmp_path / "det" / "results.json").write_text("{}")
    assert task_of_files(tmp_path / "det").name == "detection"
    assert task_of_files(tmp_path / "det", explicit="segmentation").name == "segmentation"
    with pytest.raises(ConfigError, match="pass --task"):
        task_of_files(tmp_path / "nothing.txt")


def test_detection_is_evaluated_without_naming_the_task(tmp_path, capsys):
    gt = {"database": {"v": {"duration": 10.0, "subset": "test", "annotations": [{"segment": [1, 3], "label": "a"}]}}}
    sub = {"results": {"v": [{"segment": [1, 3], "label": "a", "score": 0.9}]}}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "results.json").write_text(json.dumps(sub))
    capsys.readouterr()
    args = ["evaluate", "--pred", str(tmp_path / "results.json"), "--gt", str(tmp_path / "gt.json"), "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["avg_mAP"] == pytest.approx(100.0)


def test_predict_takes_only_inference_settings(tmp_path, toy_data, capsys):
    small = ["--set", "model.num_stages=1", "--set", "model.num_layers=2", "--set", "model.num_f_maps=8"]
    run = tmp_path / "run"
    assert main(["train", "--model", "mstcn", "--data", str(toy_data), "--out", str(run), "--epochs", "1", *small]) == 0
    capsys.readouterr()
    code = main(["predict", "--run", str(run), "--data", str(toy_data), "--out", str(tmp_path / "p"), *small[:2]])
    assert code == 2
    assert "fixed by training" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_segmentation_plan_is_a_pure_function_of_the_options(toy_data):
    from actionline.engine.trainer import TrainConfig

    task = get_task("segmentation")
    data = task.open_data(toy_data, TaskOptions())
    plans = [task.plan_training(MODELS["mstcn"], data, TrainConfig(), {}, TaskOptions(split=2)) for _ in range(2)]
    assert plans[0].train_videos == plans[1].train_videos and plans[0].selection == {"split": 2}
    assert not set(plans[0].val_videos) & set(data.split("test", 2))


def test_default_parameter_groups_and_baformer_exemptions():
    mstcn = build_model("mstcn", {"input_dim": 8, "num_classes": 3, "num_f_maps": 8, "num_layers": 2})
    (group,) = mstcn.parameter_groups(1e-4)
    assert len(group["params"]) == len(list(mstcn.parameters())) and group["weight_decay"] == 1e-4
    baformer = build_model("baformer", {"input_dim": 8, "num_classes": 3, "num_queries": 4, "num_layers": 2})
    decay, exempt = baformer.parameter_groups(1e-4)
    assert exempt["weight_decay"] == 0.0
    exempt_ids = {id(p) for p in exempt["params"]}
    assert id(baformer.queries) in exempt_ids
    assert all(p.ndim > 1 for p in decay["params"])
    assert len(decay["params"]) + len(exempt["params"]) == len(list(baformer.parameters()))


def test_template_decode_gives_one_timeline_per_video_within_its_length():
    model = build_model("mstcn", {"input_dim": 4, "num_classes": 3, "num_f_maps": 8, "num_layers": 2}).eval()
    feats, mask = torch.randn(2, 4, 10), torch.ones(2, 10)
    mask[1, 6:] = 0
    timelines = model.decode(model(feats, mask), mask, ["a", "b"], ["x", "y", "z"])
    assert [t.video for t in timelines] == ["a", "b"] and [t.num_frames for t in timelines] == [10, 6]
