"""The notebooks: thin, stripped, parameters in step with params/default.yaml, and they run (nbval)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from crmlib.config import COMMON_KEYS, load_params, section_for_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [path.stem for path in NOTEBOOKS]


def _parameters_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    tagged = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged 'parameters'"
    return tagged[0]


def _declared(source: str) -> dict[str, object]:
    """Names and literal defaults of the annotated assignments in a parameters cell."""
    declared: dict[str, object] = {}
    for node in ast.parse(source).body:
        assert isinstance(node, ast.AnnAssign), (
            f"parameters cell: only `name: type = literal`, found {ast.dump(node)[:60]}"
        )
        assert isinstance(node.target, ast.Name) and node.value is not None
        declared[node.target.id] = ast.literal_eval(node.value)
    return declared


def test_there_are_numbered_notebooks():
    assert [p.stem for p in NOTEBOOKS][:2] == ["01_ingest", "02_kpis"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_cell_matches_default_params(path):
    params = load_params(ROOT / "params" / "default.yaml")
    declared = _declared(_parameters_cell(nbformat.read(path, as_version=4)).source)
    expected = {
        "params_file": "../params/default.yaml",
        "run_dir": f"../outputs/{params.run_name}",
        **params.common(),
        **params.section(section_for_notebook(path.name)),
    }
    assert set(declared) == set(expected), "parameters cell names differ from COMMON_KEYS + section"
    assert declared == expected
    assert set(COMMON_KEYS) <= set(declared)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_stripped_and_thin(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "crm-workbook"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [] and cell.execution_count is None, f"cell {index} has outputs"
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)), (
                f"cell {index}: definitions belong in crmlib"
            )
            assert not isinstance(node, (ast.For, ast.While, ast.AsyncFor)), (
                f"cell {index}: loops over data belong in crmlib"
            )
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")


@pytest.mark.slow
def test_notebooks_run_top_to_bottom_on_their_defaults(tmp_path):
    """`pytest --nbval-lax` over a copy of notebooks/ (so the real outputs/ is never touched)."""
    for folder in ("notebooks", "params", "data"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
    (tmp_path / "outputs").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-q",
            "notebooks",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert (tmp_path / "outputs" / "sample" / "metrics.json").is_file()
    assert yaml.safe_load((tmp_path / "outputs" / "sample" / "metrics.json").read_text())
