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


def _registrar(table: dict[str, type]):
    """A class decorator ``@register(name)`` that names the class and enters it in ``table``."""

    def register(name: str):
        def wrap(cls):
            cls.name = name
            table[name] = cls
            return cls

        return wrap

    return register


def _lookup(table: dict[str, type], name: str, kind: str) -> type:
    if name not in table:
        raise ConfigError(f"unknown {kind} {name!r} (available: {', '.join(sorted(table))})")
    return table[name]


register = _registrar(MODELS)
register_backbone = _registrar(BACKBONES)


def model_class(name: str) -> type[TemporalModel]:
    return _lookup(MODELS, name, "model")


def backbone_class(name: str) -> type[Backbone]:
    return _lookup(BACKBONES, name, "backbone")


def build_model(name: str, settings: dict[str, Any] | None = None) -> TemporalModel:
    cls = model_class(name)
    config = build(cls.Config, settings, where=f"model ({name})")
    return cls(config)


def available_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern`` (e.g. ``"*former"``)."""
    return sorted(n for n in MODELS if fnmatch.fnmatch(n, pattern))
