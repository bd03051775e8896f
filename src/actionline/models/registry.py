"""Model names -> classes. Adding a method = one file under models/ plus a ``@register`` line."""

from __future__ import annotations

from typing import Any

from torch import nn

from actionline.config import build
from actionline.errors import ConfigError

MODELS: dict[str, type[nn.Module]] = {}


def register(name: str):
    def wrap(cls: type[nn.Module]) -> type[nn.Module]:
        cls.name = name  # type: ignore[attr-defined]
        MODELS[name] = cls
        return cls

    return wrap


def _load_all() -> None:
    # Importing the modules runs their @register decorators.
    from actionline.models.detection import actionness, tags  # noqa: F401
    from actionline.models.segmentation import asformer, baformer, mstcn, mucon, rtk, sct  # noqa: F401


def model_class(name: str) -> type[nn.Module]:
    _load_all()
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r} (available: {', '.join(sorted(MODELS))})")
    return MODELS[name]


def build_model(name: str, settings: dict[str, Any] | None = None) -> nn.Module:
    cls = model_class(name)
    config = build(cls.Config, settings, where=f"model ({name})")  # type: ignore[attr-defined]
    return cls(config)


def available_models() -> list[str]:
    _load_all()
    return sorted(MODELS)
