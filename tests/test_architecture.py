"""The package's shape, read from the AST so that it cannot drift: no module uses another
package's private names, and no import cycle (function-local imports included)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "crmlib"


def _private_imports_across_packages() -> list[str]:
    """``from crmlib.<a>... import _name`` in a module of another top-level part than ``<a>``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        own = parts[1] if len(parts) > 1 else ""
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
                continue
            module = node.module.split(".")
            if module[0] != "crmlib" or len(module) < 2 or module[1] == own:
                continue
            private = [
                a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")
            ]
            private += [m for m in module[2:] if m.startswith("_")] if module[1] != own else []
            if private:
                found.append(f"{path.relative_to(ROOT)}: from {node.module} import {private}")
    return found


def test_no_module_imports_another_packages_private_names() -> None:
    assert _private_imports_across_packages() == []


def test_the_check_sees_a_private_import(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "crmlib"
    (fake / "cohorts").mkdir(parents=True)
    (fake / "cohorts" / "_x.py").write_text("from crmlib.kpis._tiles import format_figure\n")
    (fake / "kpis.py").write_text("from crmlib.kpis import thing\n")  # its own package: fine
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert _private_imports_across_packages() == [
        "crmlib/cohorts/_x.py: from crmlib.kpis._tiles import ['_tiles']"
    ]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_modules(tree: ast.AST) -> list[tuple[str, str]]:
    """``(module, name)`` for every crmlib import of a file, at any depth (a function-local import
    hides a cycle, it does not remove it); ``if TYPE_CHECKING:`` blocks never run and are skipped.
    ``import a.b`` gives ``("a.b", "")``."""
    found: list[tuple[str, str]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names]
        stack.extend(ast.iter_child_nodes(node))
    return [(m, n) for m, n in found if m.split(".")[0] == "crmlib"]


def _import_graph() -> dict[str, set[str]]:
    """Module → the crmlib modules it imports: ``from a.b import c`` is an edge to ``a.b.c`` when
    that is a module, else to ``a.b`` (or its nearest enclosing module)."""
    files = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def enclosing(name: str) -> str:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        imports = _imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        targets = {f"{m}.{n}" if f"{m}.{n}" in files else enclosing(m) for m, n in imports}
        graph[module] = targets - {module, ""}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle() -> None:
    assert _cycles(_import_graph()) == []


def test_the_check_sees_a_cycle_hidden_in_a_function(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "crmlib"
    (fake / "clv").mkdir(parents=True)
    (fake / "clv" / "__init__.py").write_text("from crmlib.clv.value import clv\n")
    (fake / "clv" / "value.py").write_text(
        "from crmlib.clv import sensitivity\n\ndef clv():\n    return sensitivity.run()\n"
    )
    (fake / "clv" / "sensitivity.py").write_text(
        "def run():\n    from crmlib.clv.value import clv\n    return clv\n"
    )
    (fake / "report.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from crmlib import clv\n"
    )
    (fake / "other.py").write_text("from crmlib import report\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert _cycles(_import_graph()) == [["crmlib.clv.sensitivity", "crmlib.clv.value"]]


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent is not a package
        return False


def _dangling_sql_references() -> list[str]:
    """``crmlib.<module>.<name>`` in a SQL file's comments that no longer names anything."""
    found = []
    for path in sorted((PACKAGE / "sql").glob("*.sql")):
        for ref in sorted(set(re.findall(r"crmlib(?:\.\w+)+", path.read_text(encoding="utf-8")))):
            module, attributes = ref, []
            while module and not _is_module(module):
                module, _, last = module.rpartition(".")
                attributes.insert(0, last)
            target: object = importlib.import_module(module) if module else None
            for attribute in attributes:
                target = getattr(target, attribute, None)
            if target is None:
                found.append(f"{path.name}: {ref}")
    return found


def test_sql_comments_name_the_python_that_runs_them() -> None:
    assert _dangling_sql_references() == []


def test_the_sql_check_sees_a_moved_function(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "a.sql").write_text(
        "-- Rules (crmlib.segments._affinities.association_rules), features\n"
        "-- (crmlib.segments.queries.rfm.rfm_features), gone (crmlib.kpis.no_such_name).\nSELECT 1\n"
    )
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path)
    assert _dangling_sql_references() == [
        "a.sql: crmlib.kpis.no_such_name",
        "a.sql: crmlib.segments._affinities.association_rules",
    ]
