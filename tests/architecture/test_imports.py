"""The shape issue 12 asks for, checked on the source: the core imports no domain app and
no sandbox, and no two files import each other in a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = "revcycle"
DOMAINS = {"integrex", "claims", "eligibility", "smartlink", "payer", "followup", "sandbox"}
PACKAGES = {CORE, *DOMAINS}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def imported(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """The dotted names an import statement names, relative imports resolved."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parent = module.split(".")
            parent = parent[: len(parent) - node.level + (1 if is_package else 0)]
            base = ".".join([*parent, base] if base else parent)
        for alias in node.names:
            yield f"{base}.{alias.name}"  # the module, or a name in it: resolved below


def all_imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every import in the file, also those inside functions (they run too)."""
    tree = ast.parse(path.read_text(), str(path))
    module, is_package = module_name(path), path.name == "__init__.py"
    for node in ast.walk(tree):
        for name in imported(node, module, is_package):
            yield node.lineno, name


def test_the_core_imports_no_domain_app_and_no_sandbox() -> None:
    offences = []
    for path in source_files(CORE):
        relative = path.relative_to(ROOT).as_posix()
        for line, name in all_imports(path):
            if name.split(".")[0] in DOMAINS:
                offences.append(f"{relative}:{line} imports {name}")
    assert offences == []


# Import cycles ---------------------------------------------------------------------------


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: top level, and inside top-level
    if/try blocks, but not under `if TYPE_CHECKING` and not inside functions or classes
    (an import inside a function runs later, once every module is loaded, so it cannot
    take part in an import-time cycle)."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and not _type_checking(node):
            pending += node.body + node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody
            for handler in node.handlers:
                pending += handler.body


def module_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for package in PACKAGES for p in source_files(package)}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in module_level_imports(tree):
            for target in imported(node, name, path.name == "__init__.py"):
                # `from a import b` names module a.b when there is one, else a name in a.
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


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
        for target in sorted(graph.get(node, ())):
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_two_files_import_each_other_in_a_circle() -> None:
    assert cycles(module_graph()) == []


def test_the_cycle_finder_reports_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_graph_holds_the_project_s_module_level_imports() -> None:
    graph = module_graph()
    assert "revcycle.models" in graph["revcycle.engine"]
    assert "revcycle.services" in graph["revcycle.models"]
    assert "integrex.columns" in graph["claims.export"]  # `from integrex.columns import ...`
