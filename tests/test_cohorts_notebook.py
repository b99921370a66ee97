"""03_cohorts end to end: a run too short for cohorts, and data that begin mid-history."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
from conftest import REPO_ROOT
from contract_tables import contract_transactions

from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.ingest.queries import ARTIFACT_DTYPES
from crmlib.io import RunFolder

pytestmark = pytest.mark.slow

# Purchases in January 2025 only; as_of 2025-02-10: one complete month, so no k = 1.
ONE_MONTH = contract_transactions(
    [
        ("O1", "A", "2025-01-05 10:00", 100.0, 100.0, 0.0, "purchase", "coffee"),
        ("O2", "B", "2025-01-20 12:00", 50.0, 50.0, 0.0, "purchase", "books"),
        ("O3", "A", "2025-01-25 09:00", 30.0, 30.0, 0.0, "purchase", "mugs"),
        ("O4", "B", "2025-02-03 09:00", 30.0, 30.0, 0.0, "purchase", "mugs"),
    ]
)


def _text(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            for value in output.get("data", {}).values():
                parts.append(value if isinstance(value, str) else "")
    return "\n".join(parts)


def _write_inputs(run: RunFolder, transactions: pd.DataFrame) -> None:
    """``transactions`` and its shared purchase facts, as 01_ingest writes them, in ``run``."""
    run.write_table("transactions", transactions)
    with Engine(threads=1) as engine:
        engine.register("transactions", transactions)
        with purchase_facts(engine) as names:
            for name, table in names.items():
                columns = ", ".join(ARTIFACT_DTYPES[name])
                run.write_table(name, engine.query(f"SELECT {columns} FROM {table}"))


def _run_03(run: RunFolder, tmp_path: Path, *, as_of_date: str) -> str:
    """03_cohorts through papermill on ``run``'s tables; the executed notebook's text."""
    out = tmp_path / "03_cohorts.ipynb"
    papermill.execute_notebook(
        REPO_ROOT / "notebooks" / "03_cohorts.ipynb",
        out,
        parameters={
            "params_file": str(REPO_ROOT / "params" / "default.yaml"),
            "run_dir": str(run.root),
            "overrides": {"as_of_date": as_of_date},
        },
        cwd=str(REPO_ROOT / "notebooks"),
        kernel_name="python3",
        progress_bar=False,
    )
    return _text(nbformat.read(out, as_version=4))


def test_one_period_run_gets_a_message_not_a_crash(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    _write_inputs(run, ONE_MONTH)
    text = _run_03(run, tmp_path, as_of_date="2025-02-10")
    assert "Cohort sections skipped" in text
    assert "only 1 complete month up to 2025-02-10" in text
    assert "Traceback" not in text
    cohorts = json.loads(run.metrics_path.read_text(encoding="utf-8"))["cohorts"]
    assert "fewer than two complete periods" in cohorts["conclusion"]


def test_mid_history_run_says_the_first_cohort_is_left_out(tmp_path: Path) -> None:
    # planted: 200 customers who bought before the data begin, all first seen in 2024-01 and
    # retaining far better than the (trendless) new cohorts; no customers table
    from test_cohorts_data_start import AS_OF, FIRST, _planted

    transactions, _ = _planted(old_back=120)
    run = RunFolder(tmp_path / "run")
    _write_inputs(run, transactions)
    text = _run_03(run, tmp_path, as_of_date=AS_OF)
    assert "The first cohort is the customers present at the start." in text
    assert f"*Left out:* **{FIRST}**" in text
    assert "No measurable trend" in text and "Newer cohorts retain measurably" not in text
    assert "Traceback" not in text
    cohorts = json.loads(run.metrics_path.read_text(encoding="utf-8"))["cohorts"]
    assert cohorts["data_start"]["cohorts_left_out"] == [FIRST]
    assert cohorts["trends"]["3"]["n_cohorts"] == 14  # 2024-02 .. 2025-03; 2024-01 left out
