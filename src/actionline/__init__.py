"""actionline: timelines of actions from long videos.

``actionline.load(source)`` gives a trained model ready to predict (`actionline.pipeline`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actionline.version import __version__

if TYPE_CHECKING:
    from actionline.pipeline import Pipeline

__all__ = ["__version__", "load"]


def load(source: Any, **options: Any) -> Pipeline:
    """`actionline.pipeline.load`: a run folder, a packaged folder or a Hugging Face Hub id, ready to predict
    (imported on first use, so that ``import actionline`` stays light)."""
    from actionline.pipeline import load as load_pipeline

    return load_pipeline(source, **options)
