"""The kernel's modules import one another without cycles.

A cycle hidden behind a function-local import works until someone moves the
import to the top of a module, and then the kernel fails at start-up with a
half-initialised module. So the graph is built from every import statement,
including those inside functions (which run when the function is first
called); only imports under ``if TYPE_CHECKING:`` are left out, because they
never run. Importing a module also runs its parent packages' ``__init__``, so
an edge to ``certkernel.a.b`` is an edge to ``certkernel.a`` too, unless the
importer is inside ``certkernel.a`` (a package's own modules may import their
siblings while it initialises).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KERNEL = REPO / "kernel"


def kernel_modules() -> dict[str, Path]:
    """``certkernel.x.y`` -> file, for every module under kernel/."""
    found: dict[str, Path] = {}
    for path in sorted(KERNEL.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(KERNEL).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(["certkernel", *parts])] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, at any depth."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            yield from (i for n in child.orelse for i in _imports_of(n))
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _imports(child)


def _imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    yield from _imports(node)


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The kernel modules that running ``path`` (module ``name``) can import."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _imports(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = ".".join([*base, node.module] if node.module else base)
        else:
            module = node.module or ""
        for alias in node.names:
            full = f"{module}.{alias.name}"
            targets.add(full if full in known else module)
    edges: set[str] = set()
    for target in targets:
        parts = target.split(".")
        for n in range(len(parts), 1, -1):  # the module and every parent package
            prefix = ".".join(parts[:n])
            if prefix in known and prefix != name and not name.startswith(prefix + "."):
                edges.add(prefix)
    return edges


def import_graph() -> dict[str, set[str]]:
    modules = kernel_modules()
    known = set(modules)
    return {name: imported_modules(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_kernel() -> None:
    """The walk finds the modules and their imports, or the next test proves nothing."""
    graph = import_graph()
    assert len(graph) > 40
    assert "certkernel.errors" in graph["certkernel.main"] | set().union(
        *(graph[m] for m in graph["certkernel.main"]))


def test_the_kernel_has_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_a_cycle_is_found() -> None:
    """The detector itself: a two-module and a three-module cycle are both reported."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert cycles(graph) == [["a", "b"], ["c", "d", "e"]]
