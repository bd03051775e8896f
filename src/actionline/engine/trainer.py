"""A model-agnostic training loop.

Knows only the model contract: ``forward(features, mask)``, ``loss(outputs, batch)`` (named terms + ``total``)
and, through the caller's ``validate`` function, ``decode``. Provides Adam/AdamW/SGD, step / multistep /
plateau / cosine schedules, gradient clipping, per-epoch validation on a held-out part of the *training* split,
``best`` and ``last`` checkpoints written atomically, ``resume``, seeding, a rich progress bar with every loss
term, a JSONL log, and DDP under ``torchrun``.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from actionline.engine.checkpoint import copy_checkpoint, load_checkpoint, save_checkpoint
from actionline.engine.device import resolve_device
from actionline.engine.distributed import DistInfo, all_reduce_mean, barrier
from actionline.engine.run_record import RunMeta
from actionline.errors import CheckpointError, ConfigError, TrainingError
from actionline.io import atomic_write_text
from actionline.models.base import TemporalModel


class TrainingStep(torch.nn.Module):
    """``model.loss(model(features, mask), batch)`` as one module call: DDP then sees every parameter the loss
    uses, including those only `loss` runs (RTK's graph matching and refinement stages, Sec. 3.2)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return self.model.loss(self.model(batch["features"], batch["mask"]), batch)


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 1
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 5e-4
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: Literal["none", "step", "multistep", "plateau", "cosine"] = "none"
    milestones: list[int] = field(default_factory=list)
    step_size: int = 30
    gamma: float = 0.5
    patience: int = 3  # plateau: on the training loss, as ASFormer does
    clip_grad_norm: float | None = None
    seed: int = 0
    val_fraction: float = 0.1
    val_every: int = 1
    select_metric: str = "mean"  # validation metric that picks `best`; "mean" = mean of acc, edit, F1s
    max_minutes: float | None = None  # stop cleanly after this much training time, resumes included (checkpoints kept)
    find_unused_parameters: bool = False  # DDP: set for models whose heads are not all used every step
    device: str = "auto"

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("train.epochs, train.batch_size and train.lr must be positive")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_optimizer(groups: list[dict[str, Any]], c: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser over the model's parameter groups (`TemporalModel.parameter_groups`). Adam and AdamW use
    PyTorch's fused kernel where every parameter allows it (floating point, on the CPU or a GPU): one pass over all
    parameters instead of one per tensor, 21 -> 4 ms per ASFormer step on the CPU; the update is the same to
    rounding."""
    if c.optimizer in ("adam", "adamw"):
        params = [p for g in groups for p in g["params"]]
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params) or None
        adam = torch.optim.Adam if c.optimizer == "adam" else torch.optim.AdamW
        return adam(groups, lr=c.lr, weight_decay=c.weight_decay, fused=fused)
    return torch.optim.SGD(groups, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)


def build_scheduler(opt: torch.optim.Optimizer, c: TrainConfig):
    if c.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, c.step_size, c.gamma)
    if c.scheduler == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(opt, c.milestones, c.gamma)
    if c.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=c.gamma, patience=c.patience)
    if c.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, c.epochs)
    return None


# Settings that shape the learning-rate schedule; resuming with any of them changed follows the new schedule.
SCHEDULE_SETTINGS = ("lr", "scheduler", "milestones", "step_size", "gamma", "epochs")
# The torch scheduler state entries that are settings rather than progress.
SCHEDULER_SETTINGS = ("milestones", "gamma", "step_size", "T_max", "factor", "patience")


def scheduled_lr(c: TrainConfig, epoch: int) -> float | None:
    """The learning rate the config's schedule gives after ``epoch`` finished epochs (closed form), or None where
    it depends on the run's history (``plateau``)."""
    if c.scheduler == "step":
        return c.lr * c.gamma ** (epoch // c.step_size)
    if c.scheduler == "multistep":
        return c.lr * c.gamma ** sum(m <= epoch for m in c.milestones)
    if c.scheduler == "cosine":
        return c.lr * (1 + math.cos(math.pi * min(epoch, c.epochs) / c.epochs)) / 2
    if c.scheduler == "plateau":
        return None
    return c.lr


RUN_FILES = ("checkpoints/last.pt", "checkpoints/best.pt", "log.jsonl")


def prepare_run_dir(run_dir: str | Path, resume: bool) -> Path:
    """A run folder that holds no run, or one to resume: any run file without ``resume`` is an error (nothing is
    overwritten or appended to), and so is ``resume`` without a last checkpoint to resume from."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir} is a file, not a run folder")
    found = [name for name in RUN_FILES if (run_dir / name).exists()]
    if found and not resume:
        raise ConfigError(
            f"{run_dir} already holds a run ({', '.join(found)}): pass --resume to continue it, or choose a new --out"
        )
    if resume and not found:
        raise ConfigError(f"--resume: {run_dir} holds no run to resume (no checkpoints, no log)")
    # `resume` with files but no last.pt: killed in the first epoch, after `best`; the run starts over (seeded,
    # so it is the run that was interrupted)
    return run_dir


def write_run_config(run_dir: Path, resolved: dict[str, Any], dist: DistInfo) -> None:
    """``run_dir/config.yaml`` (the resolved settings), written once by the main process."""
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


class Trainer:
    """Train ``model`` on ``train_set``; ``validate(model, loader) -> {metric: value}`` scores held-out videos.

    ``run_dir`` receives ``checkpoints/{last,best}.pt`` and ``log.jsonl``. ``meta`` (the run record) is stored in
    every checkpoint so a run can be predicted from alone.
    """

    def __init__(
        self,
        model: TemporalModel,
        config: TrainConfig,
        run_dir: str | Path,
        train_set: Dataset,
        collate: Callable,
        val_set: Dataset | None = None,
        validate: Callable[[torch.nn.Module, DataLoader], dict[str, float]] | None = None,
        meta: RunMeta | None = None,
        dist: DistInfo | None = None,
        console: Console | None = None,
    ):
        self.config = config
        self.run_dir = Path(run_dir)
        self.dist = dist or DistInfo()
        self.device = resolve_device(config.device, self.dist.local_rank if self.dist.enabled else None)
        self.model = model.to(self.device)
        self.train_set, self.val_set = train_set, val_set
        self.collate, self.validate_fn = collate, validate
        self.meta = meta
        self.console = console or Console(stderr=True)
        self.optimizer = build_optimizer(self.model.parameter_groups(config.weight_decay), config)
        self.scheduler = build_scheduler(self.optimizer, config)
        self.epoch = 0
        self.elapsed_s = 0.0  # training time of the epochs done so far, carried across resumes
        self.best: dict[str, Any] = {"epoch": None, "value": -math.inf, "metrics": {}}
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.log_path = self.run_dir / "log.jsonl"

    # --- checkpoints ------------------------------------------------------------------------------------------
    def _payload(self) -> dict[str, Any]:
        return {
            **(self.meta.to_checkpoint() if self.meta is not None else {}),
            "model_state": self.model.state_dict(),
            "epoch": self.epoch,
            "elapsed_s": self.elapsed_s,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "best": self.best,
            "train_config": asdict(self.config),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "numpy": np.random.get_state(),
                "python": random.getstate(),
            },
        }

    def resume(self) -> bool:
        """Continue from ``checkpoints/last.pt`` if present; returns whether it resumed."""
        path = self.ckpt_dir / "last.pt"
        if not path.is_file():
            return False
        meta = self.meta
        ckpt = load_checkpoint(path, expect_model=meta and meta.model, expect_classes=meta and meta.classes)
        self._recover_log(ckpt.get("log_record"))
        try:
            self.model.load_state_dict(ckpt["model_state"])
        except RuntimeError as exc:
            raise CheckpointError(
                f"{path}: the run was trained with other model settings; resume with the same "
                f"settings ({str(exc).splitlines()[0]})"
            ) from None
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.epoch, self.best = int(ckpt["epoch"]), ckpt["best"]
        self._restore_schedule(ckpt)
        self.elapsed_s = float(ckpt.get("elapsed_s", self._logged_elapsed(self.epoch)))
        torch.set_rng_state(ckpt["rng"]["torch"])
        if ckpt["rng"].get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        np.random.set_state(ckpt["rng"]["numpy"])
        random.setstate(ckpt["rng"]["python"])
        return True

    def _restore_schedule(self, ckpt: dict[str, Any]) -> None:
        """The scheduler's progress comes from the checkpoint; its settings from the config resumed with.

        Resuming with the schedule unchanged continues bit-exactly. Resuming with it changed (e.g. more epochs and
        new milestones, to extend a run) sets the learning rate the new schedule gives at the resumed epoch, so a
        milestone that the run has already passed takes effect at once.
        """
        saved = ckpt.get("train_config") or {}
        if self.scheduler is not None:
            if ckpt.get("scheduler") is not None and saved.get("scheduler") == self.config.scheduler:
                fresh = self.scheduler.state_dict()
                settings = {k: fresh[k] for k in SCHEDULER_SETTINGS if k in fresh}
                self.scheduler.load_state_dict({**ckpt["scheduler"], **settings})
            else:  # a scheduler new to this run counts from the resumed epoch
                self.scheduler.last_epoch = self.epoch
        if all(saved.get(k) == getattr(self.config, k) for k in SCHEDULE_SETTINGS):
            return
        lr = scheduled_lr(self.config, self.epoch)
        if lr is None:
            return
        for group in self.optimizer.param_groups:
            group["lr"], group["initial_lr"] = lr, self.config.lr
        if self.scheduler is not None and hasattr(self.scheduler, "base_lrs"):
            self.scheduler.base_lrs = [self.config.lr] * len(self.optimizer.param_groups)

    def _logged(self) -> list[dict[str, Any]]:
        """The records of ``log.jsonl`` (none when it does not exist yet)."""
        if not self.log_path.is_file():
            return []
        return [json.loads(line) for line in self.log_path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def _logged_elapsed(self, epoch: int) -> float:
        """Training time logged for ``epoch`` (checkpoints written before ``elapsed_s`` was stored), else 0."""
        return next((float(r.get("elapsed_s", 0.0)) for r in self._logged() if r.get("epoch") == epoch), 0.0)

    def _recover_log(self, record: dict[str, Any] | None) -> None:
        """Append the checkpoint's own log record when a kill came between the checkpoint and the log line."""
        if (
            record is not None
            and self.dist.is_main
            and not any(r.get("epoch") == record["epoch"] for r in self._logged())
        ):
            self._log(record)

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    # --- the loop ---------------------------------------------------------------------------------------------
    def run(self, resume: bool, what: str, before_fit: Callable[[], None] | None = None) -> dict[str, Any]:
        """Resume if asked, call ``before_fit`` (once every check has passed, so a rejected command writes
        nothing), announce ``training <model> (<n> parameters) on <what>``, `fit`."""
        if resume and self.resume() and self.dist.is_main:
            self.console.print(f"resumed from epoch {self.epoch}")
        for stale in self.ckpt_dir.glob(".*.tmp"):  # a killed write: never a complete file
            stale.unlink(missing_ok=True)
        if before_fit is not None:
            before_fit()
        if self.dist.is_main:
            n_params = sum(p.numel() for p in self.model.parameters())
            self.console.print(f"training {self.meta and self.meta.model} ({n_params:,} parameters) on {what}")
        return self.fit()

    def fit(self) -> dict[str, Any]:
        c = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        sampler = DistributedSampler(self.train_set, shuffle=True, seed=c.seed) if self.dist.enabled else None
        generator = torch.Generator().manual_seed(c.seed)
        loader = DataLoader(
            self.train_set,
            batch_size=c.batch_size,
            shuffle=sampler is None,
            sampler=sampler,
            collate_fn=self.collate,
            generator=generator,
        )
        step_fn: torch.nn.Module = TrainingStep(self.model)
        if self.dist.enabled:
            step_fn = DistributedDataParallel(
                step_fn,
                # staged schedules and optional heads leave some parameters without gradient in some steps
                find_unused_parameters=c.find_unused_parameters or self.model.varying_parameters,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
            )
        started = time.monotonic() - self.elapsed_s  # elapsed time counts the epochs before a resume too
        show = self.dist.is_main
        with Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[terms]}"),
            console=self.console,
            disable=not show,
            transient=False,
        ) as progress:
            while self.epoch < c.epochs:
                epoch = self.epoch + 1
                if sampler is not None:
                    sampler.set_epoch(epoch)
                # Fast-forward the shuffling generator so a resumed run sees the same order as an unbroken one.
                generator.manual_seed(c.seed + epoch)
                task = progress.add_task("train", total=len(loader), epoch=f"{epoch}/{c.epochs}", terms="")
                self.model.set_epoch(epoch, c.epochs)  # staged training schedules (e.g. RTK Sec. 4.1)
                self.model.train()
                lr = self.optimizer.param_groups[0]["lr"]  # the rate this epoch trains with (logged as such)
                sums: dict[str, float] = {}
                for step, batch in enumerate(loader, 1):
                    batch = _to(batch, self.device)
                    terms = step_fn(batch)
                    self._check_finite("loss", terms["total"].detach(), epoch, step)
                    self.optimizer.zero_grad(set_to_none=True)
                    terms["total"].backward()
                    norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.clip_grad_norm or math.inf)
                    self._check_finite("gradient norm", norm, epoch, step)
                    self.optimizer.step()
                    for k, v in terms.items():
                        sums[k] = sums.get(k, 0.0) + float(v.detach())
                    progress.update(task, advance=1, terms="  ".join(f"{k} {v / step:.4f}" for k, v in sums.items()))
                means = all_reduce_mean({k: v / max(len(loader), 1) for k, v in sums.items()}, self.dist)
                if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    self.scheduler.step(means.get("total", 0.0))
                elif self.scheduler is not None:
                    self.scheduler.step()
                self.epoch = epoch
                self.elapsed_s = time.monotonic() - started
                record: dict[str, Any] = {
                    "epoch": epoch,
                    "lr": lr,
                    "train": means,
                    "elapsed_s": round(self.elapsed_s, 3),
                }
                if show:
                    self._end_epoch(record)
                barrier(self.dist)
                if c.max_minutes is not None and time.monotonic() - started > 60 * c.max_minutes:
                    if show:
                        self.console.print(f"[yellow]time budget of {c.max_minutes} min reached after epoch {epoch}")
                    break
        return self.best

    def _check_finite(self, what: str, value: torch.Tensor, epoch: int, step: int) -> None:
        if not torch.isfinite(value).all():
            raise TrainingError(
                f"non-finite {what} ({float(value)}) at epoch {epoch}, step {step}: training stopped; the last good "
                f"checkpoint (epoch {self.epoch}) is kept in {self.ckpt_dir} (a learning rate too high?)"
            )

    def _end_epoch(self, record: dict[str, Any]) -> None:
        c = self.config
        epoch = record["epoch"]
        validate_now = (
            self.validate_fn is not None
            and self.val_set is not None
            and len(self.val_set) > 0
            and (epoch % c.val_every == 0 or epoch == c.epochs)
        )
        improved = False
        if validate_now:
            loader = DataLoader(self.val_set, batch_size=1, shuffle=False, collate_fn=self.collate)
            metrics = self.validate_fn(self.model, loader)
            record["val"] = metrics
            if c.select_metric not in metrics:
                raise ConfigError(
                    f"train.select_metric {c.select_metric!r} is not a validation metric ({', '.join(metrics)})"
                )
            value = metrics[c.select_metric]
            if value > self.best["value"]:
                improved = True
                self.best = {"epoch": epoch, "value": value, "metric": c.select_metric, "metrics": metrics}
        elif self.validate_fn is None or self.val_set is None or len(self.val_set) == 0:
            improved = True  # no validation part: `best` is the latest epoch
            self.best = {"epoch": epoch, "value": -math.inf, "metric": None, "metrics": {}}
        # Order matters for a kill at any point: `best` before `last` (a resume from the older `last` redoes the
        # epoch and rewrites the same `best`), and the log record inside the checkpoint (a resume appends it when
        # the kill came before the log line).
        payload = {**self._payload(), "log_record": record}
        if improved:  # the same payload twice: serialised once, then copied
            save_checkpoint(self.ckpt_dir / "best.pt", payload)
            copy_checkpoint(self.ckpt_dir / "best.pt", self.ckpt_dir / "last.pt")
        else:
            save_checkpoint(self.ckpt_dir / "last.pt", payload)
        self._log(record)
        val = record.get("val")
        msg = f"epoch {epoch}: " + " ".join(f"{k} {v:.4f}" for k, v in record["train"].items())
        if val:
            msg += "  | val " + " ".join(f"{k} {v:.1f}" for k, v in val.items() if isinstance(v, float))
            msg += " [green]*best" if improved else ""
        self.console.print(msg, soft_wrap=True)
