"""The sample fingerprint (tests/sample_reference.py) sees a changed number and only that."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sample_reference import differences, fingerprint


def _run(folder: Path, table: pd.DataFrame, metrics: dict) -> Path:
    (folder / "data").mkdir(parents=True)
    table.to_parquet(folder / "data" / "clv.parquet")
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return folder


def test_row_order_is_not_a_change_but_a_value_is(tmp_path: Path) -> None:
    table = pd.DataFrame({"customer_id": ["a", "b", "c"], "clv": [1.5, 2.25, None],
                          "orders": [1, 2, 3]})  # fmt: skip
    metrics = {"clv": {"total": 3.75, "customers": 3, "model": "bgnbd"}}
    reference = fingerprint(_run(tmp_path / "ref", table, metrics))
    shuffled = table.iloc[[2, 0, 1]].reset_index(drop=True)
    reordered = {"clv": {"total": 3.75 * (1 + 1e-12), "customers": 3, "model": "bgnbd"}}
    assert differences(reference, fingerprint(_run(tmp_path / "b", shuffled, reordered))) == []
    moved = table.assign(clv=[1.5, 2.25 * (1 + 1e-4), None])
    found = differences(reference, fingerprint(_run(tmp_path / "c", moved, metrics)))
    assert found == [
        f".artifacts.clv.columns.clv.{key}: {value!r}, expected {reference['artifacts']['clv']['columns']['clv'][key]!r}"
        for key, value in (("sum", 1.5 + 2.25 * (1 + 1e-4)), ("sum_abs", 1.5 + 2.25 * (1 + 1e-4)),
                           ("max", 2.25 * (1 + 1e-4)))
    ]  # fmt: skip
    renamed = table.assign(customer_id=["a", "b", "d"])
    changed = {"clv": {"total": 3.75, "customers": 4, "model": "bgnbd"}}
    found = differences(reference, fingerprint(_run(tmp_path / "d", renamed, changed)))
    assert [line.split(":")[0] for line in found] == [
        ".artifacts.clv.columns.customer_id.sha256", ".metrics.clv.customers",
    ]  # fmt: skip


def test_numbers_of_a_model_fit_have_the_fit_tolerance_and_nothing_else_has(
    tmp_path: Path,
) -> None:
    """1e-7 apart: within a fit's 1e-6 for the CLV table and metrics, a change elsewhere."""
    table = pd.DataFrame({"customer_id": ["a", "b"], "clv": [1.5, 2.25]})
    metrics = {"clv": {"clv_total": 3.75}, "kpis": {"revenue": 3.75}}
    reference = fingerprint(_run(tmp_path / "ref", table, metrics))
    nudged = {"clv": {"clv_total": 3.75 * (1 + 1e-7)}, "kpis": {"revenue": 3.75 * (1 + 1e-7)}}
    found = differences(
        reference,
        fingerprint(_run(tmp_path / "b", table.assign(clv=[1.5, 2.25 * (1 + 1e-7)]), nudged)),
    )
    assert [line.split(":")[0] for line in found] == [".metrics.kpis.revenue"]
    moved = {"clv": {"clv_total": 3.75 * (1 + 1e-5)}, "kpis": {"revenue": 3.75}}
    found = differences(reference, fingerprint(_run(tmp_path / "c", table, moved)))
    assert [line.split(":")[0] for line in found] == [".metrics.clv.clv_total"]
