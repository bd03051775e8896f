"""The typed run record (`engine.run_record.RunMeta`): written to checkpoints and config.yaml, read back equal, and
runs trained before it existed still load and predict identically (`tests/data/old_run`, made by the code before
the record: a tiny MS-TCN run and the predictions it made then)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from actionline.data.layout import SegmentationData
from actionline.data.synthetic.features import synthesize_segmentation
from actionline.engine.checkpoint import load_checkpoint, save_checkpoint
from actionline.engine.predictor import load_run
from actionline.engine.run_record import DatasetRecord, ExtractionSettings, RunMeta, TaskSettings
from actionline.errors import CheckpointError, ConfigError
from actionline.tasks.segmentation import predict_segmentation, train_segmentation

OLD_RUN = Path(__file__).parent / "data" / "old_run"


def old_data(root: Path) -> SegmentationData:
    """The dataset the old run was trained on (the generator is seeded and unchanged)."""
    return SegmentationData(synthesize_segmentation(root, num_videos=8, feature_dim=8, seed=5, length_scale=0.3))


def test_a_run_trained_before_the_record_predicts_identically(tmp_path):
    meta = load_run(OLD_RUN / "best.pt")[1]
    assert (meta.task, meta.model, meta.code_version) == ("segmentation", "mstcn", None)
    assert meta.dataset.split == 1 and meta.dataset.extraction is None and meta.settings.supervision == "full"
    data = old_data(tmp_path / "data")
    assert meta.classes == data.classes
    predict_segmentation(OLD_RUN / "best.pt", data, data.split("test", 1), tmp_path / "pred")
    expected = json.loads((OLD_RUN / "timelines.json").read_text())
    predicted = json.loads((tmp_path / "pred" / "timelines.json").read_text())
    # the same segments and labels; scores to float rounding (the summation order, hence the last digits, follows
    # the thread count: the stored run was made with 2 threads)
    scores = [[s.pop("score") for s in t["segments"]] for t in (*expected["timelines"], *predicted["timelines"])]
    assert predicted == expected
    half = len(scores) // 2
    assert scores[half:] == [pytest.approx(s, rel=1e-5) for s in scores[:half]]


def test_an_old_checkpoint_without_task_reads_as_segmentation_with_its_extraction():
    extraction = {"backbone": "i3d_rgb", "weights": "packaged:ab", "fps": 10.0, "window": 9, "stride": 1,
                  "layout": "segmentation", "feature_dim": 1024}  # fmt: skip
    ckpt = {"model": "mstcn", "model_config": {"input_dim": 1024}, "classes": ["a", "b"], "supervision": "full",
            "dataset": {"root": "/d", "split": 2, "sample_rate": 2, "background": ["a"], "extraction": extraction},
            "epoch": 3, "best": {"epoch": 3}, "train_config": {"epochs": 5}}  # fmt: skip
    meta = RunMeta.from_checkpoint(ckpt)
    assert meta.task == "segmentation" and meta.code_version is None
    assert meta.dataset == DatasetRecord("/d", split=2, sample_rate=2, background=("a",),
                                         extraction=ExtractionSettings(**extraction))  # fmt: skip
    assert (meta.epoch, meta.trained_epochs, meta.best) == (3, 5, {"epoch": 3})
    written = meta.to_checkpoint()
    assert {k: written[k] for k in ckpt if k in written} == {k: v for k, v in ckpt.items() if k in written}


def test_the_record_round_trips_through_a_checkpoint_and_config_yaml(tmp_path, toy_data):
    settings = {"model": {"num_stages": 1, "num_layers": 2, "num_f_maps": 4}, "train": {"epochs": 1}}
    train_segmentation("mstcn", SegmentationData(toy_data), 1, tmp_path / "run", settings)
    from_ckpt = load_run(tmp_path / "run")[1]
    assert from_ckpt.code_version is not None and from_ckpt.task == "segmentation"
    from_config = RunMeta.read_config(tmp_path / "run")
    assert from_config.to_checkpoint() == from_ckpt.to_checkpoint()
    raw = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert RunMeta.from_checkpoint(raw).to_checkpoint() == {k: raw[k] for k in from_ckpt.to_checkpoint()}


def test_a_checkpoint_without_the_record_is_refused_and_an_old_config_names_the_checkpoints(tmp_path):
    save_checkpoint(tmp_path / "x.pt", {"model_state": {}})
    with pytest.raises(CheckpointError, match="not a complete actionline checkpoint"):
        load_run(tmp_path / "x.pt")
    shutil.copytree(OLD_RUN, tmp_path / "old")
    (tmp_path / "old" / "config.yaml").write_text("model_name: mstcn\n")
    with pytest.raises(ConfigError, match="its checkpoints have it"):
        RunMeta.read_config(tmp_path / "old")


def test_task_settings_default_to_none():
    meta = RunMeta("tagging", "hatnet", {}, ["t"], DatasetRecord("/d"), TaskSettings(categories=["c"]))
    assert RunMeta.from_checkpoint(meta.to_checkpoint()).settings == TaskSettings(categories=["c"])


def test_clip_runs_recorded_with_the_retired_sgs_after_still_load(tmp_path):
    """Before SGS settings moved to the SGS networks' configs, every clip model recorded ``sgs_after: 0``."""
    import actionline.models  # noqa: F401  (registers every model)
    from actionline.config import as_dict
    from actionline.models.registry import build_model

    model = build_model("hatnet", {"width": 8, "frames": 8, "size": 32, "num_classes": 3})
    old = {**as_dict(model.config), "sgs_after": 0}
    meta = RunMeta("classification", "hatnet", old, ["a", "b", "c"], DatasetRecord("/d"))
    save_checkpoint(tmp_path / "old.pt", {**meta.to_checkpoint(), "model_state": model.state_dict()})
    assert load_run(tmp_path / "old.pt", device="cpu")[0].config == model.config
    kept = RunMeta("classification", "hatnet", {**old, "sgs_after": 2}, ["a"], DatasetRecord("/d")).model_settings([])
    with pytest.raises(ConfigError, match="sgs_after"):  # a setting that did something is still refused
        build_model("hatnet", kept)
