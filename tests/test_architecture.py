"""The package's shape: no module uses another package's private names (AST, so it cannot drift)."""

from __future__ import annotations

import ast
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
