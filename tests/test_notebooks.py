"""The notebooks: thin, stripped, one params channel (the file, read once), and they run (nbval)."""

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

from crmlib.config import load_params, section_for_notebook

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
def test_parameters_cell_is_the_one_params_channel(path):
    """The cell declares what the runner injects and nothing else: no value of the params file
    is copied into a notebook (defaults live in crmlib.config only)."""
    declared = _declared(_parameters_cell(nbformat.read(path, as_version=4)).source)
    params = load_params(ROOT / "params" / "default.yaml")
    assert declared == {
        "params_file": "../params/default.yaml",
        "run_dir": f"../outputs/{params.run_name}",
        "overrides": {},
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_reads_its_own_section_once(path):
    """One line loads the typed params of the notebook's section; nothing re-reads the file."""
    sources = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    section = section_for_notebook(path.name)
    loads = [s for s in sources if "load_stage_params(" in s or "load_params(" in s]
    assert len(loads) == 1
    assert f'crm.config.load_stage_params(params_file, "{section}", overrides)' in loads[0]


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
