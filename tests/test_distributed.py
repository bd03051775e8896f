"""Two-process DDP training on CPU (gloo) through torchrun, the way users launch it."""

import json
import os
import subprocess
import sys

import pytest
import torch.distributed as dist


@pytest.mark.skipif(not dist.is_available(), reason="torch built without distributed support")
def test_torchrun_two_processes_on_cpu(tmp_path, toy_data):
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "actionline",
        "train",
        "--model",
        "mstcn",
        "--data",
        str(toy_data),
        "--out",
        str(run),
        "--epochs",
        "2",
        "--set",
        "model.num_stages=1",
        "--set",
        "model.num_layers=2",
        "--set",
        "model.num_f_maps=8",
        "--set",
        "train.device=cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]  # one log, written by rank 0 only
    assert (run / "checkpoints" / "best.pt").is_file()
