"""The whole workbook on data the sample generator did not shape for it, through the real CLI.

- the ``retail-log`` profile of crmlib.synth (a line-item export with guest lines,
  cancellation invoices, minute ticks, free items, wholesale orders, buyers who never drop
  out), mapped by params/retail_log.yaml with columns only, checked against its truth.json;
- tests/data/ugly_shop: a 12-customer export written by hand (BOM, CRLF, ';', decimal comma,
  '.' thousands, German headers, guests, a bad date, a duplicate line, CHF);
- params/ab_export_only.yaml: an experiment export and nothing else (only 07 runs).

Each run exits 0, its totals reconcile, and its pages carry the run's currency and no reprs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT, run_module_cli
from test_pages_words import (
    NOT_GBP,
    PROSE_REPRS,
    STRING_REPR,
    TABLE_REPRS,
    findings,
    page_words,
)

pytestmark = pytest.mark.slow

RETAIL_CUSTOMERS, RETAIL_SEED = 2_000, 42
UGLY_SHOP = REPO_ROOT / "tests" / "data" / "ugly_shop"


def _run(params: Path, outputs: Path) -> subprocess.CompletedProcess[str]:
    result = run_module_cli("run", "--params", params, "--outputs", outputs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _read(run_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((run_dir / name).read_text(encoding="utf-8"))


def _page_problems(run_dir: Path, *, currency: str) -> list[str]:
    """Reprs in the text of every page, and a foreign currency symbol or code."""
    foreign = NOT_GBP if currency != "EUR" else {"£": re.compile("£")}
    pages = ["index.html", *sorted(f"html/{p.name}" for p in (run_dir / "html").glob("*.html"))]
    found = []
    for page in pages:
        words = page_words((run_dir / page).read_text(encoding="utf-8"))
        found += findings(words.prose, PROSE_REPRS, where=f"{page} (text)")
        found += findings(words.tables, TABLE_REPRS, where=f"{page} (tables)")
        found += findings(words.everything, foreign, where=page)
        found += [f"quoted string in {page}: {block.strip()[:200]}"
                  for block in words.outputs if STRING_REPR.fullmatch(block)]  # fmt: skip
    return found


# -- the retail-log profile ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def retail_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The profile written by its CLI, params/retail_log.yaml pointed at it, the whole run."""
    root = tmp_path_factory.mktemp("retail_log")
    data = root / "data"
    written = subprocess.run(
        [sys.executable, "-m", "crmlib.synth", "--profile", "retail-log",
         "--customers", str(RETAIL_CUSTOMERS), "--seed", str(RETAIL_SEED),
         "--out", str(data), "--compress"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    params = yaml.safe_load((REPO_ROOT / "params" / "retail_log.yaml").read_text("utf-8"))
    params["source"]["transactions"]["path"] = str(data / "transactions.csv.gz")
    (root / "retail_log.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    _run(root / "retail_log.yaml", root / "outputs")
    truth = json.loads((data / "truth.json").read_text(encoding="utf-8"))
    return root / "outputs" / "retail-log", truth


def test_retail_log_mapping_is_columns_only() -> None:
    """The params file changes no threshold: only run settings and the column mapping."""
    params = yaml.safe_load((REPO_ROOT / "params" / "retail_log.yaml").read_text("utf-8"))
    assert set(params) == {"run_name", "as_of_date", "currency", "source"}
    assert set(params["source"]) == {"transactions"}
    assert set(params["source"]["transactions"]) == {
        "path", "columns", "line_items", "unit_price_column",
    }  # fmt: skip


def test_retail_log_ingest_meets_the_truth(retail_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, truth = retail_run
    realized = truth["realized"]
    quality = _read(run_dir, "quality.json")
    tx = quality["transactions"]  # orders and money; row counts per bin are at the top level
    assert quality["verdict"] == "pass"  # default thresholds: guests are not rejects
    assert quality["rows_read"] == realized["n_lines"]
    assert quality["rows_unattributed"] == realized["n_guest_lines"]
    assert quality["rows_rejected"] == 0 and quality["rows_after_as_of"] == 0
    assert quality["rows_read"] == quality["rows_accepted"] + quality["rows_unattributed"]
    # lines become orders (minute ticks merged), a cancellation invoice is one return row
    assert tx["orders"] == realized["n_purchase_invoices_identified"]
    assert tx["unattributed_orders"] == realized["n_purchase_invoices_guest"]
    assert tx["returns_kept"] == realized["n_cancellation_invoices"]
    assert tx["customers"] == realized["n_identified_customers"]
    assert tx["zero_value_purchases"] == realized["n_zero_value_orders_identified"]
    # money exact: the file's own total, to the thousandth of a pound it is written in
    assert tx["revenue_read"] == pytest.approx(realized["total_amount"], abs=5e-4)
    assert tx["revenue_unattributed"] == pytest.approx(realized["guest_revenue"], abs=5e-4)
    assert tx["largest_order"] == pytest.approx(realized["max_order_amount"], abs=5e-4)
    assert tx["extreme_orders"] >= 1  # the wholesale orders are flagged, never rejected
    totals = _read(run_dir, "metrics.json")["kpis"]["totals"]
    assert totals["revenue_with_guests"] == pytest.approx(realized["total_amount"], abs=0.01)


def test_retail_log_models_meet_the_truth(retail_run: tuple[Path, dict[str, Any]]) -> None:
    """No dropout: the fallback engages and recovers the realized purchase rate (3%)."""
    run_dir, truth = retail_run
    metrics = _read(run_dir, "metrics.json")
    clv = metrics["clv"]
    assert clv["customers"] == truth["realized"]["n_identified_customers"]
    assert clv["fallback"] is not None and clv["model"] == "nbd"
    rate = clv["parameters"]["r"] / clv["parameters"]["alpha"]  # purchases per week
    assert rate == pytest.approx(truth["realized"]["realized_mean_rate_per_week_in_file"], rel=0.03)
    assert clv["parameters"]["r"] == pytest.approx(truth["planted"]["r"], rel=0.25)
    chosen = [row for row in clv["comparison"] if row["chosen"]]
    assert len(chosen) == 1 and chosen[0]["converged"]
    assert metrics["churn"]["model"] is not None
    # the first cohort is everyone already buying on the first day: labelled, not "new"
    assert metrics["cohorts"]["data_start"]["present_at_start"]


def test_retail_log_pages_speak_pounds(retail_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, _ = retail_run
    assert not _page_problems(run_dir, currency="GBP")
    assert "£" in page_words((run_dir / "index.html").read_text(encoding="utf-8")).prose


# -- a small ugly file written by hand -----------------------------------------------------------
@pytest.fixture(scope="module")
def ugly_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outputs = tmp_path_factory.mktemp("ugly_shop")
    _run(UGLY_SHOP / "ugly_shop.yaml", outputs)
    return outputs / "ugly-shop"


def test_ugly_shop_reconciles(ugly_run: Path) -> None:
    quality = _read(ugly_run, "quality.json")
    tx = quality["transactions"]
    assert (quality["rows_read"], quality["rows_accepted"], quality["rows_unattributed"],
            quality["rows_after_as_of"], quality["rows_rejected"]) == (61, 52, 6, 1, 2)  # fmt: skip
    rejected = quality["tables"]["transactions"]["rejected_by_reason"]
    assert rejected == {"bad_timestamp": 1, "duplicate_row": 1}
    assert tx["customers"] == 12 and quality["reconciles"]
    # revenue read is the file's own total (pandas, independently), split over the four bins
    lines = pd.read_csv(UGLY_SHOP / "orders.csv", sep=";", decimal=",", thousands=".",
                        encoding="utf-8-sig")  # fmt: skip
    assert tx["revenue_read"] == pytest.approx((lines["Menge"] * lines["Preis"]).sum(), abs=1e-9)
    bins = ("accepted", "unattributed", "after_as_of", "rejected")
    assert sum(tx[f"revenue_{name}"] for name in bins) == pytest.approx(
        tx["revenue_read"], abs=1e-9
    )
    assert quality["verdict"] == "warn" and "ingest.reject_share_warn" in quality["verdict_text"]


def test_ugly_shop_stages_say_why_instead_of_failing(ugly_run: Path) -> None:
    metrics = _read(ugly_run, "metrics.json")
    assert set(metrics) >= {"ingest", "kpis", "cohorts", "segments", "clv", "churn", "ab_test"}
    assert metrics["segments"]["clusters"] is None
    segments = (ugly_run / "html" / "04_segments.html").read_text(encoding="utf-8")
    assert "Behavioural clusters are not fitted: 12 customers" in segments
    assert "No model could be trained" in metrics["churn"]["conclusion"]
    chosen = [row for row in metrics["clv"]["comparison"] if row["chosen"]]
    assert metrics["clv"]["fallback"] is not None or (chosen and chosen[0]["converged"])


def test_ugly_shop_pages_speak_francs(ugly_run: Path) -> None:
    assert not _page_problems(ugly_run, currency="CHF")
    assert "CHF" in page_words((ugly_run / "index.html").read_text(encoding="utf-8")).prose


# -- three customers, seven rows --------------------------------------------------------------------
TINY_ORDERS = """order_id,customer_id,order_ts,amount
A1,c1,2025-01-05,10
A2,c1,2025-03-01,x
A3,,2025-03-02,5
A4,c2,2025-13-01,7
A5,c2,2025-06-01,-3
A5,c2,2025-06-01,12
A6,c3,2025-11-30 10:00,20
"""


def test_three_customers_run_every_stage(tmp_path: Path) -> None:
    """Too few customers for bins, a holdout of a single class, no driver: every stage still
    runs and says why (05's P(alive) calibration and 06's holdout and driver charts stopped
    their notebooks here)."""
    (tmp_path / "orders.csv").write_text(TINY_ORDERS, encoding="utf-8")
    params = {
        "run_name": "tiny",
        "as_of_date": "2025-12-31",
        "source": {"transactions": {"path": str(tmp_path / "orders.csv")}},
        "ingest": {"reject_share_warn": 0.4, "reject_share_fail": 0.5},
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    _run(tmp_path / "tiny.yaml", tmp_path / "outputs")
    run_dir = tmp_path / "outputs" / "tiny"
    statuses = {
        name: entry["status"] for name, entry in _read(run_dir, "run.json")["notebooks"].items()
    }
    assert set(statuses.values()) == {"ok"} and len(statuses) == 7
    quality = _read(run_dir, "quality.json")
    assert quality["rows_read"] == 7 and quality["reconciles"]
    assert not _page_problems(run_dir, currency="EUR")


# -- an experiment export and nothing else ---------------------------------------------------------
def test_experiment_export_alone_runs_07(tmp_path: Path) -> None:
    result = _run(REPO_ROOT / "params" / "ab_export_only.yaml", tmp_path)
    run_dir = tmp_path / "ab_export_only"
    record = _read(run_dir, "run.json")
    statuses = {name: entry["status"] for name, entry in record["notebooks"].items()}
    assert statuses.pop("07_ab_test") == "ok" and set(statuses.values()) == {"skipped"}
    assert "Skipped: 01–06 need a transactions table (source.transactions)" in result.stdout
    metrics = _read(run_dir, "metrics.json")
    assert set(metrics) == {"ab_test"}
    variant = metrics["ab_test"]["experiments"]["spring_reactivation"]["variants"]["treatment"]
    # the profit interval spans zero with a known cost: not "ship"
    low, high = variant["net_profit"]["ci"]
    assert low < 0 < high and variant["verdict"] == "effect positive, profit uncertain"
    primary = variant["primary"]
    assert primary["covariate"] == "orders_before" and "diff" in primary["unadjusted"]
    assert {g: v["worse"] for g, v in variant["guardrails"].items()} == {
        "unsubscribed": "higher", "visited": "lower",
    }  # fmt: skip
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert ">skipped<" in index and 'href="html/07_ab_test.html"' in index
    assert not _page_problems(run_dir, currency="EUR")
