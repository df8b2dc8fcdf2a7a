"""Import structure of Seatline's packages: cycles between packages, between app's subpackages and
between modules, and imports made inside functions. `python scripts/import_report.py` prints the
figures; .importlinter holds the rules that keep them (tests/unit/test_import_rules.py runs it)."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "workers", "queue_gate")


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of nodes that can all reach each other (only groups of two or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def collapse(graph: grimp.ImportGraph, depth: int, within: str | None = None) -> dict[str, set[str]]:
    """Module imports as imports between the modules' names cut to ``depth`` parts (``app.booking``)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if within and not (module.startswith(within + ".") and imported.startswith(within + ".")):
                continue
            a, b = ".".join(module.split(".")[:depth]), ".".join(imported.split(".")[:depth])
            if a != b:
                edges[a].add(b)
    return edges


def function_level_imports() -> list[str]:
    """Every import statement inside a function or a class body."""
    found = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for scope in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    found |= {
                        (str(path.relative_to(ROOT)), node.lineno)
                        for node in ast.walk(scope)
                        if isinstance(node, (ast.Import, ast.ImportFrom))
                    }
    return [f"{path}:{line}" for path, line in sorted(found)]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    packages = strongly_connected(collapse(graph, 1))
    subpackages = strongly_connected(collapse(graph, 2, within="app"))
    modules = strongly_connected({m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules})
    print(f"cycles between packages (app, workers, queue_gate): {len(packages)}")
    for group in packages:
        print("   ", " <-> ".join(group))
    print(f"cycles between app's subpackages: {len(subpackages)}")
    for group in subpackages:
        print("   ", " <-> ".join(group))
    breakers = sorted(graph.nominate_cycle_breakers("app"))
    print(f"imports that close those cycles (grimp's cycle breakers, as lint-imports reports them): {len(breakers)}")
    for importer, imported in breakers:
        print("   ", importer, "->", imported)
    print(f"cycles between modules: {len(modules)} ({sum(len(g) for g in modules)} modules in them)")
    for group in modules:
        print("   ", " <-> ".join(group))
    imports = function_level_imports()
    print(f"imports inside functions or classes: {len(imports)}")
    for where in imports:
        print("   ", where)


if __name__ == "__main__":
    main()
