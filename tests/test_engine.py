import copy
import json

import pytest
import torch

from actionline.data.layout import SegmentationData
from actionline.data.predictions import MSTCN_HEADER
from actionline.engine.checkpoint import load_checkpoint
from actionline.engine.trainer import TrainConfig, build_optimizer, build_scheduler, scheduled_lr
from actionline.errors import CheckpointError, ConfigError
from actionline.tasks.segmentation import predict_segmentation, train_segmentation

SMALL = {"model": {"num_stages": 2, "num_layers": 3, "num_f_maps": 8}}


def _train(data, run, epochs, resume=False, model="mstcn", extra=None):
    settings = {**SMALL, "train": {"epochs": epochs, "lr": 0.005, "val_fraction": 0.25, **(extra or {})}}
    if model != "mstcn":
        settings = {
            "model": {"num_decoders": 1, "num_layers": 3, "num_f_maps": 8, "att_channels": 4},
            "train": settings["train"],
        }
    return train_segmentation(model, SegmentationData(data), 1, run, settings, resume=resume)


def test_training_writes_checkpoints_log_and_selects_on_validation(tmp_path, toy_data):
    best = _train(toy_data, tmp_path / "run", epochs=3)
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    assert (tmp_path / "run" / "checkpoints" / "best.pt").is_file()
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert {"ce", "smooth", "total"} <= set(records[0]["train"]) and "f1@50" in records[0]["val"]
    assert best["value"] == max(r["val"]["mean"] for r in records)
    cfg = (tmp_path / "run" / "config.yaml").read_text()
    test_videos = SegmentationData(toy_data).split("test", 1)
    assert not any(v in cfg for v in test_videos)  # the test split is never used for selection


def test_resume_continues_exactly(tmp_path, toy_data):
    torch.manual_seed(0)
    _train(toy_data, tmp_path / "straight", epochs=2)
    _train(toy_data, tmp_path / "broken", epochs=1)
    _train(toy_data, tmp_path / "broken", epochs=2, resume=True)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["model_state"]
    b = load_checkpoint(tmp_path / "broken" / "checkpoints" / "last.pt")["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the logged training time carries on from the interrupted run instead of restarting at zero
    records = [json.loads(line) for line in (tmp_path / "broken" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert 0 < records[0]["elapsed_s"] < records[1]["elapsed_s"]
    ckpt = load_checkpoint(tmp_path / "broken" / "checkpoints" / "last.pt")
    assert ckpt["elapsed_s"] == pytest.approx(records[1]["elapsed_s"], abs=1e-3)


def test_existing_run_is_not_overwritten(tmp_path, toy_data):
    _train(toy_data, tmp_path / "run", epochs=1)
    before = (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(ConfigError, match="--resume"):
        _train(toy_data, tmp_path / "run", epochs=1)
    assert (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes() == before


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path, toy_data):
    _train(toy_data, tmp_path / "run", epochs=1)
    with pytest.raises(CheckpointError, match="for model 'mstcn', not 'asformer'"):
        _train(toy_data, tmp_path / "run", epochs=2, resume=True, model="asformer")


def test_corrupt_checkpoint(tmp_path):
    p = tmp_path / "x.pt"
    p.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(p)


def _payload() -> dict:
    return {"model": "mstcn", "classes": ["a", "b"], "model_state": {"w": torch.arange(5_000_000.0)}, "epoch": 3}


def test_checkpoint_is_streamed_and_its_digest_catches_any_damage(tmp_path):
    import tracemalloc
    import zipfile

    from actionline.engine.checkpoint import DIGEST_ENTRY, save_checkpoint

    path = tmp_path / "c.pt"
    tracemalloc.start()
    save_checkpoint(path, _payload())  # a 20 MB tensor: no copy of it may pass through Python's memory
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5_000_000, peak  # the digest reads 1 MB chunks
    ckpt = load_checkpoint(path, expect_model="mstcn", expect_classes=["a", "b"])
    assert torch.equal(ckpt["model_state"]["w"], torch.arange(5_000_000.0)) and ckpt["epoch"] == 3
    with zipfile.ZipFile(path) as archive:
        digest = next(i for i in archive.infolist() if i.filename.endswith(DIGEST_ENTRY))
        tensor = next(i for i in archive.infolist() if "/data/" in i.filename)
    raw = path.read_bytes()
    # inside the tensor's bytes (twice), and the digest entry's local header
    for offset in (tensor.header_offset + 200, tensor.header_offset + 15_000_000, digest.header_offset + 40):
        damaged = bytearray(raw)
        damaged[offset] ^= 0x01
        (tmp_path / "d.pt").write_bytes(bytes(damaged))
        with pytest.raises(CheckpointError, match=r"damaged|cannot read"):
            load_checkpoint(tmp_path / "d.pt")
    # a byte flipped anywhere (headers, padding, the directory, the digest) is an error or changes nothing loaded
    small = tmp_path / "small.pt"
    save_checkpoint(small, {**_payload(), "model_state": {"w": torch.arange(50.0)}})
    raw, expected = small.read_bytes(), load_checkpoint(small)
    errors = 0
    for offset in range(0, len(raw), 7):
        damaged = bytearray(raw)
        damaged[offset] ^= 0x10
        (tmp_path / "d.pt").write_bytes(bytes(damaged))
        try:
            loaded = load_checkpoint(tmp_path / "d.pt")
        except CheckpointError:
            errors += 1
            continue
        assert torch.equal(loaded["model_state"]["w"], expected["model_state"]["w"]), offset
        assert loaded.keys() == expected.keys() and all(
            loaded[k] == expected[k] for k in expected if k != "model_state"
        )
    assert errors > len(raw) // 7 // 2  # most bytes matter


def test_checkpoints_of_the_previous_layout_still_load(tmp_path):
    import hashlib
    import io

    from actionline.engine.checkpoint import FORMAT, SEALED

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **_payload()}, buffer)
    blob = buffer.getvalue()
    torch.save({"format": SEALED, "sha256": hashlib.sha256(blob).hexdigest(), "payload": blob}, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt")["epoch"] == 3
    torch.save({"format": SEALED, "sha256": "0" * 64, "payload": blob}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(tmp_path / "bad.pt")


def test_predictor_writes_full_rate_mstcn_files(tmp_path, toy_data):
    _train(toy_data, tmp_path / "run", epochs=1, model="asformer")
    data = SegmentationData(toy_data)
    videos = data.split("test", 1)
    timelines = predict_segmentation(tmp_path / "run", data, videos, tmp_path / "pred")
    for v, t in zip(videos, timelines, strict=True):
        lines = (tmp_path / "pred" / v).read_text().splitlines()
        assert lines[0] == MSTCN_HEADER
        assert len(lines[1].split()) == len(data.labels(v)) == t.num_frames
    assert json.loads((tmp_path / "pred" / "timelines.json").read_text())["classes"] == data.classes


def test_video_cache_respects_its_memory_budget(toy_data):
    from actionline.tasks.batching import SegmentationVideos

    data = SegmentationData(toy_data)
    videos = data.split("train", 1)
    first = SegmentationVideos(data, videos[:1])
    budget = first[0]["features"].numel() * 4  # room for exactly one video
    ds = SegmentationVideos(data, videos, cache_bytes=budget)
    assert len(ds._cache) == 1
    assert all(
        torch.equal(ds[i]["features"], SegmentationVideos(data, [v])[0]["features"]) for i, v in enumerate(videos)
    )


def test_resume_with_other_model_settings_is_a_clear_error(tmp_path, toy_data):
    _train(toy_data, tmp_path / "run", epochs=1)
    settings = {"model": {"num_stages": 3, "num_layers": 3, "num_f_maps": 8}, "train": {"epochs": 2}}
    with pytest.raises(CheckpointError, match="other model settings"):
        train_segmentation("mstcn", SegmentationData(toy_data), 1, tmp_path / "run", settings, resume=True)


def test_videos_with_different_feature_dimensions(tmp_path, toy_data):
    import shutil

    import numpy as np

    from actionline.errors import DataError

    shutil.copytree(toy_data, tmp_path / "d")
    data = SegmentationData(tmp_path / "d")
    v = data.split("train", 1)[1]
    np.save(tmp_path / "d" / "features" / f"{v}.npy", np.zeros((3, len(data.labels(v))), dtype=np.float32))
    with pytest.raises(DataError, match="dimensions"):
        _train(tmp_path / "d", tmp_path / "run", epochs=1)


def test_resume_with_a_longer_schedule_applies_its_milestones(tmp_path, toy_data):
    """Extending a run (more epochs, new milestones): the resumed run follows the new schedule, including a
    milestone it has already passed; an unchanged schedule keeps the checkpoint's learning rate."""
    run = tmp_path / "run"
    _train(toy_data, run, epochs=2, extra={"scheduler": "multistep", "milestones": [10]})
    _train(toy_data, run, epochs=3, resume=True, extra={"scheduler": "multistep", "milestones": [1, 10]})
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in records] == [0.005, 0.005, 0.0025]
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert sorted(ckpt["scheduler"]["milestones"]) == [1, 10]
    _train(toy_data, run, epochs=4, resume=True, extra={"scheduler": "multistep", "milestones": [1, 10]})
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert records[-1]["lr"] == 0.0025
    # a run trained without a scheduler, extended with one: milestones count from the start of the run
    plain = tmp_path / "plain"
    _train(toy_data, plain, epochs=2)
    _train(toy_data, plain, epochs=4, resume=True, extra={"scheduler": "multistep", "milestones": [3]})
    records = [json.loads(line) for line in (plain / "log.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in records] == [0.005, 0.005, 0.005, 0.0025]  # each epoch logs the rate it trained with


@pytest.mark.parametrize(
    "settings",
    [
        {"scheduler": "step", "step_size": 3, "gamma": 0.1},
        {"scheduler": "multistep", "milestones": [2, 5], "gamma": 0.5},
        {"scheduler": "cosine", "epochs": 8},
        {"scheduler": "none"},
    ],
)
def test_scheduled_lr_is_what_torch_schedulers_reach(settings):
    config = TrainConfig(lr=1e-3, **{"epochs": 8, **settings})
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.lr)
    scheduler = build_scheduler(optimizer, config)
    for epoch in range(9):
        assert scheduled_lr(config, epoch) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    assert scheduled_lr(TrainConfig(scheduler="plateau"), 3) is None


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_runs_fused_and_updates_as_the_per_tensor_loop(name):
    """Adam/AdamW use PyTorch's fused kernel on CPU parameters; ten steps agree with the plain implementation to
    rounding (weight decay included)."""
    torch.manual_seed(0)
    fused_model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Linear(5, 3))
    plain_model = copy.deepcopy(fused_model)
    config = TrainConfig(optimizer=name, lr=1e-2, weight_decay=1e-3)
    fused = build_optimizer([{"params": list(fused_model.parameters())}], config)
    plain_cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    plain = plain_cls(plain_model.parameters(), lr=1e-2, weight_decay=1e-3, foreach=False)
    assert fused.defaults["fused"] is True
    for _ in range(10):
        x = torch.randn(4, 6)
        for model, opt in ((fused_model, fused), (plain_model, plain)):
            opt.zero_grad()
            model(x).square().sum().backward()
            opt.step()
    for a, b in zip(fused_model.parameters(), plain_model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
