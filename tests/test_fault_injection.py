"""Kill training at every step of checkpointing and resume: the finished run must equal an uninterrupted one bit
for bit (weights, optimiser state, the `best` choice, the log). A "kill" is an exception raised right after a
write completes, which leaves the files exactly as a real kill at that point would; a half-written temporary file
is added as a real kill mid-write leaves one."""

from __future__ import annotations

import json

import pytest
import torch

from actionline.data.layout import SegmentationData
from actionline.engine import trainer as trainer_module
from actionline.engine.checkpoint import load_checkpoint
from actionline.tasks.segmentation import train_segmentation

SETTINGS = {"model": {"num_stages": 1, "num_layers": 2, "num_f_maps": 8}, "train": {"epochs": 3, "lr": 0.01}}


class Killed(BaseException):
    """Raised by the injected fault, like a signal the program does not handle."""


def run(data, run_dir, monkeypatch, kill_after: int | None = None) -> list[str]:
    """Train (resuming when ``run_dir`` holds a run); with ``kill_after`` stop right after that many writes."""
    events: list[str] = []
    save, copy, log = trainer_module.save_checkpoint, trainer_module.copy_checkpoint, trainer_module.Trainer._log

    def counted(kind, write):
        def wrapped(*args, **kwargs):
            write(*args, **kwargs)
            events.append(args[0].name if kind == "checkpoint" else args[1].name if kind == "copy" else kind)
            if kill_after is not None and len(events) == kill_after:
                (run_dir / "checkpoints" / ".last.pt.killed.tmp").write_bytes(b"")  # a write cut short
                raise Killed

        return wrapped

    monkeypatch.setattr(trainer_module, "save_checkpoint", counted("checkpoint", save))
    monkeypatch.setattr(trainer_module, "copy_checkpoint", counted("copy", copy))
    monkeypatch.setattr(trainer_module.Trainer, "_log", counted("log", log))
    resume = run_dir.is_dir() and any(run_dir.rglob("*.pt"))
    try:
        train_segmentation("mstcn", data, 1, run_dir, SETTINGS, resume=resume)
    finally:
        monkeypatch.undo()
    return events


def state(run_dir) -> dict:
    last = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    best = load_checkpoint(run_dir / "checkpoints" / "best.pt")
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return {
        "last": last["model_state"],
        "optimizer": last["optimizer"]["state"],
        "best": best["model_state"],
        "best_epoch": (last["best"]["epoch"], best["epoch"]),
        "log": [{k: v for k, v in r.items() if k != "elapsed_s"} for r in log],
    }


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if torch.is_tensor(a):
        return torch.equal(a, b)
    return a == b


@pytest.fixture(scope="module")
def reference(tmp_path_factory, toy_data):
    root = tmp_path_factory.mktemp("reference")
    mp = pytest.MonkeyPatch()
    events = run(SegmentationData(toy_data), root / "run", mp)
    return events, state(root / "run")


def test_every_kill_point_resumes_bit_identically(reference, toy_data, tmp_path, monkeypatch):
    events, expected = reference
    assert events.count("log") == 3 and {"best.pt", "last.pt"} <= set(events)  # every kind of write happens
    assert events.count("last.pt") == 3  # once per epoch, written or copied from best.pt
    data = SegmentationData(toy_data)
    for point in range(1, len(events)):
        run_dir = tmp_path / f"kill{point}"
        with pytest.raises(Killed):
            run(data, run_dir, monkeypatch, kill_after=point)
        run(data, run_dir, monkeypatch)  # resume to the end
        assert same(state(run_dir), expected), f"kill after write {point} ({events[point - 1]}) changed the run"
        assert not list((run_dir / "checkpoints").glob(".*.tmp")), "a half-written file was left behind"


def test_a_second_writer_is_refused_and_a_killed_holder_leaves_no_lock(toy_data, tmp_path, capsys):
    import signal
    import subprocess
    import sys
    import time

    from actionline.cli import main

    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from actionline.engine.run_lock import lock_run; lock_run({str(run_dir)!r}); "
            "print('locked', flush=True); import time; time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    small = ["--set", "model.num_stages=1", "--set", "model.num_layers=2", "--set", "model.num_f_maps=8"]
    args = ["train", "--model", "mstcn", "--data", str(toy_data), "--out", str(run_dir), "--epochs", "1", *small]
    capsys.readouterr()
    assert main(args) == 2
    assert "in use by another actionline process" in capsys.readouterr().err
    assert not (run_dir / "config.yaml").exists()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    time.sleep(0.1)
    assert main(args) == 0  # the kernel released the killed holder's lock
