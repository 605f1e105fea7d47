"""Data flows one way (README, docs/layout.md): no module of the project imports, directly or
through others, a module that imports it back, and nothing imports a command-line module but
its own entry point. Every import counts, also those inside functions and `if TYPE_CHECKING:`,
since a reader follows them all."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("converter", "evaluate", "mappings")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules `path` names in any import statement (a package's __init__ excluded:
    importing a.b.c runs a/__init__ without a/__init__ depending on a.b.c)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent / "x")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found - {module_name(path)}


def graph() -> dict[str, set[str]]:
    files = [p for d in PACKAGES for p in (REPO / d).rglob("*.py")]
    modules = {module_name(p) for p in files}
    inits = {module_name(p) for p in files if p.name == "__init__.py"}
    edges = {module_name(p): project_imports(p, modules) for p in files}
    return {m: {n for n in e if n not in inits or n == m} for m, e in edges.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_imports_inside_functions_and_type_checking_blocks():
    edges = graph()
    assert "evaluate.train.loop" in edges["evaluate.train.session"]  # a function-local import
    assert "evaluate.runtime.distributed" in edges["evaluate.train.loader"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, f"modules that import each other (split the shared part out): {found}"


def test_no_command_line_module_is_imported_by_another_module():
    clis = {m for m in graph() if m.endswith(("cli", "_cli"))}
    edges = graph()
    offenders = {m: sorted(edges[m] & clis) for m in edges if edges[m] & clis}
    assert not offenders, f"shared code belongs in a library module, not a CLI: {offenders}"
