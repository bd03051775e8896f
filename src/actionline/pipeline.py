"""`actionline.load`: a trained model ready to predict, from a run folder, a packaged folder (`actionline
package`) or a Hugging Face Hub id, run by PyTorch or by ONNX Runtime::

    import actionline
    model = actionline.load("runs/mstcn")  # a run, a packaged folder or "user/repo" on the Hub
    timeline = model.predict(features)  # features as the run's .npy files hold them -> Timeline

A Hub id is fetched through ``huggingface_hub``'s cache, so it loads offline once cached. ``runtime="onnxruntime"``
runs the model's forward as an exported graph (`actionline.engine.onnx_graph`: a packaged ``model.onnx`` whose
fingerprint matches, else one exported on loading); decoding stays the model's own, shared by both runtimes.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from actionline.engine.extractor import extract_like_training
from actionline.engine.onnx_graph import run_with_onnxruntime
from actionline.engine.package import is_package, load_package
from actionline.engine.predictor import load_run
from actionline.engine.run_record import ExtractionSettings, RunMeta
from actionline.errors import CheckpointError, ConfigError
from actionline.models.base import TemporalModel
from actionline.tasks.registry import predicting_task
from actionline.timeline import Timeline

Runtime = Literal["torch", "onnxruntime"]
RUNTIMES = ("torch", "onnxruntime")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class Pipeline:
    """A loaded model: ``predict`` (features), ``predict_video`` (a video file, extracted as the training features
    were), and what it is: ``classes``, ``task``, ``extraction`` (None when the training features were not
    extracted by actionline). ``model`` is the `TemporalModel` (its forward run by ``runtime``)."""

    def __init__(self, model: TemporalModel, meta: RunMeta, runtime: Runtime):
        self.model, self.meta, self.runtime = model, meta, runtime

    @property
    def classes(self) -> list[str]:
        return list(self.meta.classes)

    @property
    def task(self) -> str:
        return self.meta.task

    @property
    def extraction(self) -> ExtractionSettings | None:
        return self.meta.extraction

    @torch.no_grad()
    def predict(
        self, features: np.ndarray | torch.Tensor, video: str = "video", duration: float | None = None
    ) -> Timeline:
        """One video's timeline from its features as the run's .npy files hold them (the task's `Task.timeline`):

        - segmentation: [D, T] at full frame rate -> frame labels at full rate (the model reads every
          ``sample_rate``-th frame, as in training), each segment's score its mean probability;
        - detection: snippets [N, D] -> the detections in a `Timeline` of 100 frames per second (segments may
          overlap; each has its score), as ``predict`` writes timelines.json.

        ``duration``: the video's seconds, which give the timeline's time axis where the run does not record how
        its features were extracted (detection needs one of the two)."""
        full = features.detach().cpu().numpy() if torch.is_tensor(features) else np.asarray(features)
        if full.ndim != 2:
            raise ConfigError(f"features must be a matrix ([D, T] or, for detection, [N, D]), got shape {full.shape}")
        return predicting_task(self.task).timeline(self.model, self.meta, full, video, duration)

    def predict_video(self, path: str | Path, batch_size: int = 16, extract_runtime: Runtime = "torch") -> Timeline:
        """Extract the video file ``path`` with the recorded extraction settings, the backbone run by
        ``extract_runtime`` (as ``predict --video --extract-runtime``: torch, or onnxruntime on the CPU from the
        backbone's cached graph; the same features within 1e-4), then `predict`."""
        if extract_runtime not in RUNTIMES:
            raise ConfigError(f"extract_runtime must be one of {', '.join(RUNTIMES)}, got {extract_runtime!r}")
        dim = self.model.config.input_dim
        with tempfile.TemporaryDirectory() as tmp:
            (video,) = extract_like_training(self.meta, dim, Path(path), Path(tmp), batch_size, runtime=extract_runtime)
            return self.predict(np.load(Path(tmp) / "features" / f"{video}.npy"), video)


def hub_snapshot(repo_id: str, cache_dir: str | Path | None = None, local_files_only: bool = False) -> Path:
    """The folder of Hub repository ``repo_id`` in ``huggingface_hub``'s cache (downloaded when online and
    missing). Not cached while offline is one `CheckpointError` that says so."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled
    except ModuleNotFoundError:
        raise ConfigError(
            "loading from the Hugging Face Hub needs huggingface_hub: pip install actionline[deploy]"
        ) from None

    try:
        return Path(snapshot_download(repo_id, cache_dir=cache_dir, local_files_only=local_files_only))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        raise CheckpointError(
            f"{repo_id}: not in the local Hugging Face cache and the Hub cannot be reached (offline); load it once "
            "while online, or give a local folder"
        ) from None


def _resolve(source: str | Path, checkpoint: str, cache_dir, local_files_only) -> tuple[TemporalModel, RunMeta, Path]:
    path = Path(source)
    if not path.exists() and isinstance(source, str) and HUB_ID.match(source):
        path = hub_snapshot(source, cache_dir, local_files_only)
    elif not path.exists():
        raise CheckpointError(f"{source}: no such run, packaged model or checkpoint (nor a Hub id user/name)")
    model, meta = load_package(path) if path.is_dir() and is_package(path) else load_run(path, checkpoint, device="cpu")
    return model, meta, path


def load(
    source: str | Path,
    runtime: Runtime = "torch",
    checkpoint: str = "best",
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
) -> Pipeline:
    """A `Pipeline` from a run folder (its ``checkpoint``: best or last), a checkpoint file, a packaged folder or
    a Hugging Face Hub id (``cache_dir``: the Hub cache to use; ``local_files_only``: never go online)."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    model, meta, folder = _resolve(source, checkpoint, cache_dir, local_files_only)
    if runtime == "onnxruntime":
        run_with_onnxruntime(model, folder)
    return Pipeline(model, meta, runtime)
