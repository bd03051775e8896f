"""Two-process DDP training on CPU (gloo) through torchrun, the way users launch it."""

import json
import os
import subprocess
import sys

import pytest
import torch.distributed as dist

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch built without distributed support")


def _torchrun_train(data, run, model, epochs, settings):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "actionline", "train", "--model", model, "--data", str(data), "--out", str(run)]
    cmd += ["--epochs", str(epochs), "--set", "train.device=cpu"]
    for setting in settings:
        cmd += ["--set", setting]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_torchrun_two_processes_on_cpu(tmp_path, toy_data):
    small = ["model.num_stages=1", "model.num_layers=2", "model.num_f_maps=8"]
    records = _torchrun_train(toy_data, tmp_path / "run", "mstcn", 2, small)
    assert [r["epoch"] for r in records] == [1, 2]  # one log, written by rank 0 only
    assert (tmp_path / "run" / "checkpoints" / "best.pt").is_file()


def test_torchrun_rtk_through_all_training_phases(tmp_path, toy_data):
    """RTK's graph matcher and refinement stages run in `loss` and join only in their phase (Sec. 4.1): DDP must
    see them (the trainer wraps forward + loss) and tolerate their absence in the earlier phases."""
    small = ["model.encoder_layers=2", "model.num_decoders=1", "model.decoder_layers=2", "model.num_f_maps=8"]
    low = ["model.action_threshold=0.001", "model.boundary_threshold=0.001"]  # candidates even when untrained
    records = _torchrun_train(toy_data, tmp_path / "run", "rtk", 6, small + low)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert "perm" not in records[0]["train"] and records[-1]["train"]["perm"] > 0
    assert records[-1]["train"]["refine"] > 0


def test_torchrun_clip_classifier(tmp_path):
    """A clip task under DDP: clips are decoded and sampled in each rank, BatchNorm 3D networks train in both."""
    from actionline.data.synthetic.clips import synthesize_video_classification

    data = synthesize_video_classification(tmp_path / "d", train_per_class=2, test_per_class=1, frames=8, size=32)
    small = ["model.width=4", "model.size=32", "model.frames=8", "clips.short_side=32", "train.batch_size=2"]
    records = _torchrun_train(data, tmp_path / "run", "stc_resnet3d_18", 2, small)
    assert [r["epoch"] for r in records] == [1, 2] and "top1" in records[-1]["val"]
