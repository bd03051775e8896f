"""Model names -> classes. Adding a method = one file under models/ with ``@register("name")``, imported by
`actionline.models` (the package registers every model, so this module imports none and there is no cycle)."""

from __future__ import annotations

import fnmatch
from typing import Any

from actionline.config import build
from actionline.errors import ConfigError
from actionline.models.backbone import Backbone
from actionline.models.base import TemporalModel

MODELS: dict[str, type[TemporalModel]] = {}
BACKBONES: dict[str, type[Backbone]] = {}


def register(name: str):
    def wrap(cls: type[TemporalModel]) -> type[TemporalModel]:
        cls.name = name
        MODELS[name] = cls
        return cls

    return wrap


def model_class(name: str) -> type[TemporalModel]:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r} (available: {', '.join(sorted(MODELS))})")
    return MODELS[name]


def build_model(name: str, settings: dict[str, Any] | None = None) -> TemporalModel:
    cls = model_class(name)
    config = build(cls.Config, settings, where=f"model ({name})")
    return cls(config)


def available_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern`` (e.g. ``"*former"``)."""
    return sorted(n for n in MODELS if fnmatch.fnmatch(n, pattern))


def register_backbone(name: str):
    def wrap(cls: type[Backbone]) -> type[Backbone]:
        cls.name = name
        BACKBONES[name] = cls
        return cls

    return wrap


def backbone_class(name: str) -> type[Backbone]:
    if name not in BACKBONES:
        raise ConfigError(f"unknown backbone {name!r} (available: {', '.join(sorted(BACKBONES))})")
    return BACKBONES[name]
