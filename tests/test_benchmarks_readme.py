"""benchmarks/README.md is what make_readme.py generates from the result files and the narrative template."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import make_readme  # noqa: E402


def test_benchmarks_readme_is_current():
    current = (BENCHMARKS / "README.md").read_text(encoding="utf-8")
    assert current == make_readme.render(), "run: python benchmarks/make_readme.py"


def test_every_result_file_has_a_renderer_and_is_cited():
    template = (BENCHMARKS / "README.in.md").read_text(encoding="utf-8")
    for path in sorted((BENCHMARKS / "results").glob("*.json")):
        make_readme.tables.render(path, make_readme.load(path.name))  # raises for an unknown kind
    assert "<!-- table: segmentation_50salads.json -->" in template


def test_compare_cells_read_the_named_entries():
    row = make_readme.compare(["| run | MS-TCN |", "| 50Salads | segmentation_50salads.json#mstcn |"])
    assert row[1] == "|---|---|"
    summary = make_readme.load("segmentation_50salads.json")["summary"]["mstcn"]
    assert row[2] == f"| 50Salads | {summary['acc']:.1f} / {summary['edit']:.1f} / {summary['f1@50']:.1f} |"


def test_no_benchmark_imports_a_superseded_script():
    """A script whose run README.in.md marks superseded (a heading with "(superseded)") stays only to reproduce the
    numbers that section cites: the other scripts' helpers live in current modules."""
    import ast
    import re

    superseded, inside = set(), False
    for line in (BENCHMARKS / "README.in.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            inside = "(superseded)" in line
        elif inside:
            superseded |= set(re.findall(r"benchmarks/(\w+)\.py", line))
    assert superseded  # the section exists (the test would pass vacuously otherwise)
    for script in sorted(BENCHMARKS.glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            assert not superseded & set(names), f"{script.name} imports superseded {superseded & set(names)}"
