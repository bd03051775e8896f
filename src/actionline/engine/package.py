"""A trained run as one folder anyone can load (`actionline package RUN --out DIR`), and reading it back.

The folder holds ``config.json`` (the package record, `actionline.engine.package_record`, with what packaging
measured: parameters, GMACs and CPU latency from `engine.profiler`, and the SHA-256 of the weights),
``model.safetensors`` (the weights without pickle: reading them runs no code) and ``README.md`` (the model card,
`actionline.engine.model_card`, generated from the record). The same files make a Hugging Face Hub repository
(`push_to_hub`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from actionline.engine.model_card import model_card
from actionline.engine.package_record import meta_from_record, record_from_meta
from actionline.engine.predictor import load_run
from actionline.engine.profiler import profile_model
from actionline.engine.run_record import RunMeta
from actionline.errors import CheckpointError
from actionline.io import atomic_write_text, file_digest, read_json, staged_folder
from actionline.models.base import TemporalModel
from actionline.models.registry import build_model
from actionline.nn.weights.state_dict import fit_problems

CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "README.md"


def package_run(
    run: str | Path,
    out: str | Path,
    which: str = "best",
    licence: str = "unspecified",
    latency_length: int | None = None,
    source: str | None = None,
) -> Path:
    """Write the package of ``run`` (its ``which`` checkpoint) into the folder ``out``, all or nothing.

    ``latency_length``: the input length the CPU latency is measured at (None: the model's profiler default);
    ``source``: what the card's loading example names (default: the folder)."""
    from safetensors.torch import save_file

    model, meta = load_run(run, which, device="cpu")
    record = record_from_meta(meta)
    settings = meta.model_config
    profile = profile_model(
        meta.model, settings["input_dim"], settings["num_classes"], latency_length, 5, "cpu", settings
    )
    record["profile"] = {
        "params": profile.params,
        "gmacs": round(profile.gmacs, 4),
        "latency_ms": round(profile.latency_ms, 2),
        "length": profile.length,
        "threads": profile.threads,
    }
    record["licence"] = licence
    with staged_folder(out, CONFIG) as tmp:
        state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
        save_file(state, tmp / WEIGHTS, metadata={"format": "pt", "model": meta.model})
        record["weights_sha256"] = file_digest(tmp / WEIGHTS)
        atomic_write_text(tmp / CONFIG, json.dumps(record, indent=1) + "\n")
        atomic_write_text(tmp / CARD, model_card(record, source or str(Path(out))))
    return Path(out)


def is_package(folder: Path) -> bool:
    return (folder / CONFIG).is_file() and not (folder / "checkpoints").is_dir()


def load_package(folder: str | Path, overrides: dict[str, Any] | None = None) -> tuple[TemporalModel, RunMeta]:
    """The model of a packaged folder in eval mode, and its run record. Missing or tampered files, weights of
    another shape and a class list that does not match the head are each one `CheckpointError`."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise CheckpointError(f"{folder}: not a packaged model (no {CONFIG})")
    record = read_json(folder / CONFIG)
    meta = meta_from_record(record, folder / CONFIG)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{folder}: {CONFIG} without weights ({WEIGHTS} is missing)")
    if record.get("weights_sha256") != file_digest(weights):
        raise CheckpointError(f"{weights}: does not match the SHA-256 recorded in {CONFIG} (tampered or damaged)")
    heads = meta.model_config.get("num_classes")
    if heads != len(meta.classes):
        raise CheckpointError(
            f"{folder / CONFIG}: {len(meta.classes)} classes listed, but the model's head has {heads}"
        )
    model = build_model(meta.model, {**meta.model_config, **(overrides or {})})
    state = _read_safetensors(weights)
    problems = fit_problems(model.state_dict(), state)
    if problems:
        raise CheckpointError(f"{weights}: weights do not fit model {meta.model!r}: {'; '.join(problems)}")
    model.load_state_dict(state)
    return model.eval(), meta


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file: a JSON header and raw bytes, never unpickled."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for damaged headers
        raise CheckpointError(f"{path}: not a readable safetensors file ({str(exc).splitlines()[0][:200]})") from None


def push_to_hub(folder: str | Path, repo_id: str, private: bool = False) -> str:
    """Upload a packaged folder as the Hugging Face Hub model repository ``repo_id`` (needs ``huggingface_hub``
    and a login: ``hf auth login``); returns the repository's URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model")
    return str(url)
