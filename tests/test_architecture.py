"""The layering ARCHITECTURE.md promises: qa/ is the served path and imports nothing above it; no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGES = ("qa", "api", "eval", "lab", "bench")
ABOVE_QA = {"api", "eval", "lab", "bench", "qa_cli"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Every project module and the project modules it imports (at any depth in its code, lazy ones included)."""
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")] + [ROOT / "qa_cli.py"]
    modules = {_module_name(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def test_qa_imports_nothing_from_the_layers_above_it():
    offending = {
        module: sorted(t for t in targets if t.split(".")[0] in ABOVE_QA)
        for module, targets in _imports().items()
        if module.split(".")[0] == "qa"
    }
    assert {m: t for m, t in offending.items() if t} == {}


def test_eval_and_lab_never_reach_the_http_service_or_the_cli():
    offending = {
        module: sorted(t for t in targets if t.split(".")[0] in {"api", "qa_cli", "bench"})
        for module, targets in _imports().items()
        if module.split(".")[0] in {"eval", "lab"}
    }
    assert {m: t for m, t in offending.items() if t} == {}


def test_no_import_cycles():
    graph = _imports()
    # Package __init__ modules only re-export; importing a submodule through its package is not a cycle.
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}
    visiting: list[str] = []
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append(visiting[visiting.index(module) :] + [module])
            return
        visiting.append(module)
        for target in sorted(graph.get(module, ())):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert cycles == []
