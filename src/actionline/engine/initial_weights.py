"""Where a clip classifier's training starts (``model.init``, dissertation Sec. 4.3): a correspondence pre-training
run (its student), a classification run (fine-tuning), a checkpoint of the network's own layout (Hara's or
torchvision's keys), or ``inflate:<2D ResNet weights>`` (the inflation baseline). The classifier is replaced when
the classes differ."""

from __future__ import annotations

from pathlib import Path

import torch

from actionline.engine.checkpoint import SEALED, load_checkpoint
from actionline.errors import CheckpointError
from actionline.models.base import TemporalModel
from actionline.nn.inflation import clean_state, inflate_state, load_network_state


def _read_weights(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign or damaged files
        raise CheckpointError(f"{path}: not a readable weights file ({str(exc).splitlines()[0][:160]})") from None
    return clean_state(state)


def _run_state(path: Path) -> tuple[dict, str]:
    """The network weights of an actionline run or checkpoint: the student of a pre-training run, the ``net`` of
    a classification run."""
    ckpt = load_checkpoint(path / "checkpoints" / "last.pt" if path.is_dir() else path)
    state = ckpt["model_state"]
    for prefix in ("student.", "net."):
        picked = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
        if picked:
            return picked, f"{ckpt['model']} run"
    raise CheckpointError(f"{path}: the {ckpt['model']} run holds no video network to start from")


def _is_run(path: Path) -> bool:
    if path.is_dir():
        return True
    try:
        return torch.load(path, map_location="cpu", weights_only=False).get("format") == SEALED
    except Exception:  # not a torch file at all: read as plain weights, which names the problem
        return False


def initialise(model: TemporalModel, init: str) -> str:
    """Load ``init`` into ``model.net``; returns what was done, for the log."""
    if init.startswith("inflate:"):
        path = Path(init.removeprefix("inflate:"))
        fresh = load_network_state(model.net, inflate_state(_read_weights(path), model.net), str(path))
        return f"initialised by inflating the 2D weights {path} ({len(fresh)} classifier tensors fresh)"
    path = Path(init)
    if not path.exists():
        raise CheckpointError(f"model.init {init}: no such file or run folder")
    state, what = _run_state(path) if _is_run(path) else (_read_weights(path), "weights")
    fresh = load_network_state(model.net, state, str(path))
    return f"initialised from the {what} {path}" + (" with a new classifier" if fresh else "")
