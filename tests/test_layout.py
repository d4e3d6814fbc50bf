"""The shape of the code: what may import what, and how large a module may grow.

Read from the source with `ast`, nothing imported: every `import` and `from … import` of
every module (inside functions too), a name imported from a package counted as its module
when it is one, and each imported module's parent packages (Python runs their `__init__`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "selfemployed_gateway"
SOURCE = Path(__file__).resolve().parents[1] / "src" / PACKAGE
MAX_LINES = 450

# The business rules know nothing of SOAP, XML, TLS, HTTP or the reactor.
EDGE_LIBRARIES = ("lxml", "spyne", "twisted", "httpx", "OpenSSL")
PURE_MODULES = ("stages", "pipeline", "records", "codes", "clock", "registry")


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SOURCE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imported(path: Path, name: str, known: dict[str, Path]) -> Iterator[str]:
    """Every module `path` imports, project modules resolved to their module names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node)
        for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield base
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    yield f"{base}.{alias.name}"


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets: set[str] = set()
        for target in imported(path, name, known):
            if not target.startswith(PACKAGE):
                continue
            parts = target.split(".")
            targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        edges[name] = {t for t in targets if t in known and t != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def external_imports(name: str) -> set[str]:
    known = modules()
    return {target.split(".")[0] for target in imported(known[name], name, known)}


def is_under(name: str, part: str) -> bool:
    return name == f"{PACKAGE}.{part}" or name.startswith(f"{PACKAGE}.{part}.")


def test_the_walk_sees_the_imports() -> None:
    """The checks below are only as good as the walk: it must see known edges."""
    edges = graph()
    assert f"{PACKAGE}.stages.supplier_call" in edges[f"{PACKAGE}.pipeline"]
    assert f"{PACKAGE}.suppliers.final.protocol" in edges[f"{PACKAGE}.simulator.final"]
    assert f"{PACKAGE}.suppliers" in edges[f"{PACKAGE}.suppliers.final.protocol"]
    assert "lxml" in external_imports(f"{PACKAGE}.soap.writer")
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


@pytest.mark.parametrize(
    "name", sorted(n for n in modules() if any(is_under(n, part) for part in PURE_MODULES))
)
def test_business_rules_import_no_edge_library(name: str) -> None:
    assert external_imports(name).isdisjoint(EDGE_LIBRARIES)


@pytest.mark.parametrize("name", sorted(n for n in modules() if is_under(n, "simulator")))
def test_the_simulator_imports_protocols_never_adapters(name: str) -> None:
    adapters = {t for t in graph()[name] if t.endswith(".adapter") or t.endswith(".http")}
    assert adapters == set()


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_too_large(name: str) -> None:
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines"
