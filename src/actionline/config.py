"""Typed configs: dataclasses built from YAML / ``--set key=value`` with unknown keys and bad types rejected.

Option fields are ``Literal[...]``: a value outside the literal's options is an error naming them."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from actionline.errors import ConfigError

T = TypeVar("T")


def _coerce(value: Any, kind: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        options = typing.get_args(kind)
        if any(value == o and type(value) is type(o) for o in options):
            return value
        raise ConfigError(f"{where} must be one of {', '.join(map(str, options))}, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for opt in options:
            if opt is type(None):
                continue
            try:
                return _coerce(value, opt, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            value = [value]
        args = typing.get_args(kind)
        inner = args[0] if args else Any
        items = [_coerce(v, inner, where) for v in value]
        return tuple(items) if origin is tuple else items
    if kind is Any:
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if kind in (int, float) and isinstance(value, str):
        try:  # YAML 1.1 reads "1e-3" as a string
            value = kind(value) if kind is float else int(value, 10)
        except ValueError:
            raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}") from None
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):  # no setting means anything by nan or inf; an optimizer would fail late
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    if dataclasses.is_dataclass(kind) and isinstance(value, dict):
        return build(kind, value, where)
    raise ConfigError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}")


def build(cls: type[T], values: dict[str, Any] | None, where: str = "config") -> T:
    """Instantiate dataclass ``cls`` from ``values``, checking names and types; defaults fill the rest."""
    values = dict(values or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(fields))})")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check:
        check()
    return obj


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["model.num_stages=2", "train.lr=1e-3"]`` -> nested dict; values parsed as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key}: cannot parse {raw!r} ({exc})") from exc
        node = out
        parts = key.strip().split(".")
        for depth, p in enumerate(parts[:-1]):
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {'.'.join(parts[: depth + 1])} was set to a value, not settings")
        if isinstance(node.get(parts[-1]), dict) or (parts[-1] in node and isinstance(value, dict)):
            raise ConfigError(f"--set {key}: given twice, as settings and as a value")
        node[parts[-1]] = value
    return out


def add_option(overrides: dict[str, Any], section: str, key: str, value: Any, option: str) -> None:
    """Put a command-line option's value (``--epochs``) into the ``--set`` overrides at ``section.key``; the same
    setting given both ways is a `ConfigError` rather than one silently winning."""
    node = overrides.setdefault(section, {})
    if not isinstance(node, dict):
        raise ConfigError(f"--set {section}= replaces the {section} settings, which {option} is one of")
    if key in node:
        raise ConfigError(f"{option} and --set {section}.{key} both given: give the setting once")
    node[key] = value


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def as_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)
