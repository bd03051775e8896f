"""Where a clip classifier's training starts (``model.init``, dissertation Sec. 4.3): a correspondence pre-training
run (its student), a classification run (fine-tuning), a checkpoint of the network's own layout (Hara's or
torchvision's keys), or ``inflate:<2D ResNet weights>`` (the inflation baseline). The classifier is replaced when
the classes differ. Files are read once, with ``weights_only=True`` unless they are actionline checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actionline.engine.checkpoint import carries_digest, is_sealed, load_checkpoint, unseal
from actionline.errors import CheckpointError
from actionline.models.base import ClassificationModel
from actionline.nn.weights.inflation import inflate_state, load_network_state
from actionline.nn.weights.state_dict import as_state_dict, read_torch_file, read_weights


def _network_state(ckpt: dict[str, Any], path: Path) -> dict:
    """The video network of an actionline run: the student of a pre-training run, the ``net`` of a classifier."""
    for prefix in ("student.", "net."):
        picked = {k.removeprefix(prefix): v for k, v in ckpt["model_state"].items() if k.startswith(prefix)}
        if picked:
            return picked
    raise CheckpointError(f"{path}: the {ckpt['model']} run holds no video network to start from")


def initialise(model: ClassificationModel, init: str) -> str:
    """Load ``init`` into ``model.net``; returns what was done, for the log."""
    if init.startswith("inflate:"):
        path = Path(init.removeprefix("inflate:"))
        fresh = load_network_state(model.net, inflate_state(read_weights(path), model.net), str(path))
        return f"initialised by inflating the 2D weights {path} ({len(fresh)} classifier tensors fresh)"
    path = Path(init)
    if not path.exists():
        raise CheckpointError(f"model.init {init}: no such file or run folder")
    raw = None
    if path.is_dir() or carries_digest(path):  # a run, or one of its checkpoint files
        ckpt = load_checkpoint(path / "checkpoints" / "last.pt" if path.is_dir() else path)
    else:
        raw = read_torch_file(path)
        ckpt = unseal(raw, path) if is_sealed(raw) else None  # a checkpoint of the previous layout
    if ckpt is not None:
        state, what = _network_state(ckpt, path), f"{ckpt['model']} run"
    else:
        state, what = as_state_dict(raw, path), "weights"
    fresh = load_network_state(model.net, state, str(path), model.classifier_prefix)
    return f"initialised from the {what} {path}" + (" with a new classifier" if fresh else "")
