"""The package's imports point one way (docs/architecture.md): timeline/io/errors/config -> data, metrics, nn, viz
(no imports between these four) -> models -> engine -> tasks -> cli; no model file imports another model's file, no
task module another task module; the engine never imports a task; no cycles. Also: run metadata is looked up by
name only in the run-record module, nothing dispatches on a dict keyed on task names, and docs/architecture.md has a
line for every module.

The walk reads every ``import`` statement with `ast`, including those inside functions."""

from __future__ import annotations

import ast
import re
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


LAYERS = {  # top-level module or package -> layer (docs/architecture.md, "Layers")
    **dict.fromkeys(("timeline", "io", "errors", "config", "configs"), 0),
    **dict.fromkeys(("data", "metrics", "nn", "viz", "export"), 1),
    "models": 2,
    "engine": 3,
    "tasks": 4,
    **dict.fromkeys(("cli", "demo", "__main__"), 5),
}
TASK_MODULES = {f"actionline.tasks.{t}" for t in ("segmentation", "detection", "classification", "tagging", "transfer")}


def top(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_every_module_has_a_layer():
    assert sorted({top(m) for m in MODULES if m != "actionline"} - set(LAYERS)) == []


def test_imports_point_down_and_plain_parts_do_not_import_each_other():
    bad = []
    for module, deps in GRAPH.items():
        for dep in deps:
            if top(module) in ("", top(dep)) or top(dep) == "":
                continue
            a, b = LAYERS[top(module)], LAYERS[top(dep)]
            if b > a or (a == b == 1):
                bad.append(f"{module} imports {dep}")
    assert bad == []


def test_engine_imports_no_task():
    assert [(m, i) for m, i in importing("actionline.engine") if top(i) == "tasks"] == []


def test_no_task_module_imports_another_task_module():
    bad = [(m, i) for m in TASK_MODULES for i in GRAPH[m] if i in TASK_MODULES and i != m]
    assert bad == []
    users = sorted(m for m, deps in GRAPH.items() if deps & TASK_MODULES and m not in TASK_MODULES)
    assert [m for m in users if top(m) != "cli" and m != "actionline.tasks.registry"] == []


def test_viz_imports_no_task():
    assert [(m, i) for m, i in importing("actionline.viz") if top(i) == "tasks"] == []


def test_run_metadata_is_looked_up_by_name_only_in_the_run_record():
    pattern = re.compile(r"\bmeta(\[|\.get\()")
    roots = [PACKAGE, PACKAGE.parents[1] / "benchmarks"]
    bad = [
        f"{path}:{n}"
        for root in roots
        for path in sorted(root.rglob("*.py"))
        if path.name != "run_record.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert bad == []


def test_nothing_dispatches_on_a_dict_keyed_on_task_names():
    names = {"segmentation", "detection", "classification", "tagging", "transfer"}
    bad = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                if len(keys & names) >= 2:
                    bad.append(f"{module}:{node.lineno}")
    assert bad == []


def documented_paths(text: str) -> set[str]:
    """The file and folder paths of the tree in docs/architecture.md ("## The tree"), rebuilt from indentation."""
    block = text.split("## The tree", 1)[1].split("```", 2)[1]
    paths, stack = set(), []
    for line in block.splitlines()[1:]:
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        stack = [*stack[:depth], name.rstrip("/")]
        paths.add("/".join(stack[1:]) + ("/" if name.endswith("/") else ""))
    return paths


def test_architecture_document_covers_every_module():
    doc = PACKAGE.parents[1] / "docs" / "architecture.md"
    documented = documented_paths(doc.read_text(encoding="utf-8"))
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        folder = "/".join(rel.parts[:-1])
        if path.name == "__init__.py":
            if folder and folder + "/" not in documented:
                missing.append(f"package src/actionline/{folder}/: add a line `{rel.parts[-2]}/  <what it holds>` "
                               f"to the tree in docs/architecture.md (\"## The tree\")")  # fmt: skip
        elif rel.as_posix() not in documented:
            where = f"under `{folder}/`" if folder else "at the top level"
            missing.append(f"module src/actionline/{rel.as_posix()}: add a line `{path.name}  <what it does>` {where} "
                           f"in the tree of docs/architecture.md (\"## The tree\")")  # fmt: skip
    assert not missing, "docs/architecture.md does not describe every module:\n" + "\n".join(missing)


def test_the_document_check_sees_the_tree():
    documented = documented_paths((PACKAGE.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8"))
    assert {"engine/trainer.py", "nn/attention/asformer.py", "tasks/", "timeline.py"} <= documented


@pytest.mark.parametrize("layer", ["actionline.data", "actionline.metrics"])
def test_data_and_metrics_depend_only_on_the_base(layer):
    bad = [(m, i) for m, i in importing(layer) if not (i in BASE_MODULES or i.startswith(layer))]
    assert bad == []


def test_nn_does_not_import_models_engine_or_cli():
    bad = [(m, i) for m, i in importing("actionline.nn") if i.split(".")[1] in ("models", "engine", "cli", "data")]
    assert bad == []


def test_models_do_not_import_engine_or_cli():
    bad = [(m, i) for m, i in importing("actionline.models") if i.split(".")[1] in ("engine", "cli", "viz")]
    assert bad == []


def test_no_model_file_imports_another_model_file():
    model_files = {m for m in MODULES if m.count(".") == 3 and m.startswith("actionline.models.")}
    bad = [(m, i) for m in model_files for i in GRAPH[m] if i in model_files and i != m]
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
