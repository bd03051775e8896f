"""The package's imports point one way (DESIGN.md): cli -> engine/viz -> models -> nn -> timeline; data/ and
metrics/ depend only on timeline, io, errors (and numpy); no model file imports another model's file; no cycles.

The walk reads every ``import`` statement with `ast`, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "actionline"
BASE_MODULES = {"actionline.timeline", "actionline.io", "actionline.errors"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Fully qualified actionline modules (or packages) that ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("actionline")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("actionline"):
            for alias in node.names:  # `from actionline.nn import losses` imports the module actionline.nn.losses
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def importing(prefix: str) -> list[tuple[str, str]]:
    return [(m, i) for m, deps in GRAPH.items() if m.startswith(prefix) for i in deps]


@pytest.mark.parametrize("layer", ["actionline.data", "actionline.metrics"])
def test_data_and_metrics_depend_only_on_the_base(layer):
    bad = [(m, i) for m, i in importing(layer) if not (i in BASE_MODULES or i.startswith(layer))]
    assert bad == []


def test_nn_does_not_import_models_engine_or_cli():
    bad = [(m, i) for m, i in importing("actionline.nn") if i.split(".")[1] in ("models", "engine", "cli", "data")]
    assert bad == []


def test_no_model_file_imports_another_model_file():
    model_files = {m for m in MODULES if m.count(".") == 3 and m.startswith("actionline.models.")}
    bad = [(m, i) for m in model_files for i in GRAPH[m] if i in model_files and i != m]
    assert bad == []


def test_models_do_not_import_engine_or_cli():
    bad = [(m, i) for m, i in importing("actionline.models") if i.split(".")[1] in ("engine", "cli", "viz")]
    assert bad == []


def test_registry_imports_no_model():
    deps = GRAPH["actionline.models.registry"]
    assert not [i for i in deps if i.count(".") == 3 and i.startswith("actionline.models.")]


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(GRAPH.get(module, ())):
            if dep not in GRAPH:
                continue
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep] if dep in path else [module, dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*path, dep])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def test_the_walk_sees_imports():
    """Guard against a walk that finds nothing (which would pass every check above)."""
    assert "actionline.timeline" in GRAPH["actionline.metrics.detection"]
    assert "actionline.nn.attention.asformer" in GRAPH["actionline.models.segmentation.baformer"]
    assert len(GRAPH) > 60
