"""The layout's rules, read from the source: who may import whom, and no import cycles.

- `app/` (the web) imports nothing from `workers/` but the shared names and the Celery app.
- `workers/ml/` is pure numpy/torch: no Django, no `app`, no other worker code but the names.
- No two project modules import each other, directly or through others, at module level or
  inside a function (a lazy import hides a cycle; it does not remove it).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

PACKAGES = ("app", "workers", "config")
WEB_MAY_IMPORT = {"workers", "workers.names", "workers.celery"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "migrations" not in p.parts
    }


MODULES = _project_modules()


def _imports(path: Path) -> set[str]:
    """Every project module `path` imports, wherever in the file the import stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from a.b import c` imports a.b.c when c is a module, else a name of a.b.
            names = [
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                for alias in node.names
            ]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in PACKAGES and n in MODULES)
    return found


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def test_it_finds_the_project_modules() -> None:
    assert "app.recommendations.services" in MODULES and "workers.recommend.engine" in MODULES
    assert "workers.names" in GRAPH["app.recommendations.services"]


def test_the_web_imports_only_the_shared_names_and_the_celery_app_from_the_worker() -> None:
    offenders = {
        name: sorted(dep for dep in deps if dep.startswith("workers") and dep not in WEB_MAY_IMPORT)
        for name, deps in GRAPH.items()
        if name.startswith("app")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"app/ may import only {sorted(WEB_MAY_IMPORT)} from workers/; move the code: {offenders}"


def test_the_ml_layer_knows_nothing_of_django_or_the_rest_of_the_worker() -> None:
    offenders = {}
    for name, path in MODULES.items():
        if not name.startswith("workers.ml"):
            continue
        tree = ast.parse(path.read_text())
        roots = {
            alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        roots |= {
            node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        }
        bad = sorted(roots & {"django", "rest_framework", "celery", "app", "config"})
        bad += sorted(
            d for d in GRAPH[name] if not d.startswith("workers.ml") and d not in {"workers", "workers.names"}
        )
        if bad:
            offenders[name] = bad
    assert not offenders, f"workers/ml must stay pure numpy/torch: {offenders}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_project_modules_import_each_other_in_a_cycle() -> None:
    # A package's __init__ re-exporting its own modules is not a cycle of two concerns.
    graph = {n: {d for d in deps if not n.startswith(d + ".")} for n, deps in GRAPH.items()}
    cycles = _cycles(graph)
    assert not cycles, f"import cycles (move what both need to the lower module): {cycles}"
