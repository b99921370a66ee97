"""End to end: the real CLI on the real notebooks and the embedded sample, into a temporary folder."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    DEFAULT_PARAMS,
    PREVIOUS_AS_OF,
    REPO_ROOT,
    SAMPLE,
    local_links,
    remote_references,
    run_module_cli,
    sample_customer_ids,
    small_counts_on_pages,
)

pytestmark = pytest.mark.slow


def _number(mapping: Mapping[str, Any], *candidates: str) -> float:
    """The first of ``candidates`` present in ``mapping`` (the stage's metric names), as a number."""
    for key in candidates:
        if key in mapping and mapping[key] is not None:
            return float(mapping[key])
    pytest.fail(f"none of {candidates} in metrics: {sorted(mapping)}")


def test_cli_runs_every_notebook(sample_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, outputs = sample_run
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    run_dir = outputs / "sample"
    assert result.stdout.strip().splitlines()[-1] == f"Report: {run_dir / 'index.html'}"
    notebooks = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert record["status"] == "ok"
    for notebook in notebooks:
        assert (run_dir / "html" / f"{notebook.stem}.html").is_file(), notebook.stem
        assert record["notebooks"][notebook.stem]["status"] == "ok"
    assert (run_dir / "quality.json").is_file()
    assert (run_dir / "metrics.json").is_file()
    assert not [p for p in outputs.iterdir() if ".building-" in p.name or ".failed-" in p.name]


def test_index_links_resolve_and_pages_are_self_contained(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, outputs = sample_run
    run_dir = outputs / "sample"
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    links = local_links(index)
    assert links, "index.html links to the stage pages"
    for link in links:
        assert (run_dir / link).is_file(), link
    for page in [run_dir / "index.html", *(run_dir / "html").glob("*.html")]:
        assert remote_references(page.read_text(encoding="utf-8")) == [], page.name


def test_metrics_agree_with_planted_truth(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, outputs = sample_run
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))
    metrics = json.loads((outputs / "sample" / "metrics.json").read_text(encoding="utf-8"))
    ingest = metrics["ingest"]
    assert ingest["verdict"] in ("pass", "warn", "fail") and ingest["verdict_text"]
    # every row of the raw file is read (truth: clean rows + injected dirty rows)
    assert _number(ingest, "rows_read") == truth["realized"]["n_transaction_rows"]
    # every injected defect is rejected, except orders of unknown customers (valid, kept and
    # flagged) and rows without a customer id (guest orders: unattributed, counted in revenue)
    dirty = truth["dirty"]
    expected_rejects = (
        sum(dirty.values()) - dirty["unknown_customer"] - dirty["missing_customer_id"]
    )
    assert _number(ingest, "rows_rejected", "n_rejected", "rejected_rows") == expected_rejects
    assert ingest["rows_unattributed"] == dirty["missing_customer_id"]
    # revenue reconciles: read = accepted + unattributed + rejected, and ingest says so
    read = _number(ingest, "revenue_read")
    accepted = _number(ingest, "revenue_accepted", "net_revenue")
    rejected = _number(ingest, "revenue_rejected")
    assert read == pytest.approx(accepted + ingest["revenue_unattributed"] + rejected, abs=1e-6)
    assert ingest.get("reconciles", True) is True
    # accepted net revenue = planted gross revenue + the valid orders of unknown customers (kept
    # and flagged) + planted refunds, to the cent (every planted conflicting copy follows its
    # original, so ingest keeps the genuine order)
    realized = truth["realized"]
    planted_gross = realized["gross_revenue"] + realized["unknown_customer_revenue"]
    assert accepted == pytest.approx(planted_gross + realized["refund_amount"], abs=0.01)
    quality = json.loads((outputs / "sample" / "quality.json").read_text(encoding="utf-8"))
    gross = quality.get("transactions", {}).get("gross_revenue")
    if gross is not None:  # same reasoning, to the cent
        assert gross == pytest.approx(planted_gross, abs=0.01)
    for stage, entry in metrics.items():
        assert isinstance(entry.get("conclusion"), str) and entry["conclusion"], stage
    assert metrics["kpis"]["tiles"], "02_kpis records headline tiles"
    # 07_ab_test: the planted experiment's arms, and its planted uplift inside the reported CI
    experiment = truth["experiment"]
    ab = metrics["ab_test"]["experiments"][experiment["experiment_id"]]
    assert ab["n"] == {"control": experiment["n_control"], "treatment": experiment["n_treatment"]}
    primary = ab["variants"]["treatment"]["primary"]
    assert primary["metric"] == "repurchase"
    assert primary["ci"][0] < experiment["planted_uplift_30d_repurchase"] < primary["ci"][1]


def test_satisfaction_and_acquisition_cost_recover_the_planted_truth(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """NPS per acquisition channel (02_kpis, last 365 days of answers) within 3 standard errors
    of the planted NPS (the standard error read off the reported 95% interval), and CAC per
    channel (05_clv: spend over customers with their first purchase, whole window) within 5% of
    the planted CAC (the generator's monthly noise has sd 10%: over 36 months its spend-weighted
    mean moves about 2%; signup and first purchase fall in different months for a few)."""
    _, outputs = sample_run
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))
    metrics = json.loads((outputs / "sample" / "metrics.json").read_text(encoding="utf-8"))
    by_channel = metrics["kpis"]["satisfaction"]["nps_by_channel"]
    planted_nps = truth["surveys"]["nps_planted"]
    assert set(by_channel) == set(planted_nps)
    for channel, found in by_channel.items():
        se = (found["nps_high"] - found["nps_low"]) / (2 * 1.959964)
        assert found["nps"] == pytest.approx(planted_nps[channel], abs=3 * se), channel
    cac = metrics["clv"]["cac_by_channel"]
    for channel, planted in truth["marketing_spend"]["cac_planted"].items():
        assert cac[channel] == pytest.approx(planted, rel=0.05), channel
    # the front page shows both headlines
    index = (outputs / "sample" / "index.html").read_text(encoding="utf-8")
    assert 'id="satisfaction-cost"' in index
    assert all(f'data-key="{key}"' in index for key in ("nps", "csat", "cac"))


def test_the_second_report_says_what_changed_since_the_first(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """Two runs a month apart into one outputs folder: the first is kept in the history (without
    the order-level tables), and every stage of the second compares itself with it."""
    result, outputs = sample_run
    assert result.returncode == 0, result.stderr
    kept = sorted((outputs / "sample.history").iterdir())
    assert len(kept) == 1
    last = kept[0]
    assert (
        json.loads((last / "run.json").read_text("utf-8"))["params"]["as_of_date"] == PREVIOUS_AS_OF
    )
    assert not (last / "data" / "transactions.parquet").exists()
    assert (last / "data" / "kpis_by_period.parquet").is_file()
    then = json.loads((last / "metrics.json").read_text(encoding="utf-8"))
    now = json.loads((outputs / "sample" / "metrics.json").read_text(encoding="utf-8"))
    for section, entry in now.items():
        assert entry["since_last"]["as_of_date"] == PREVIOUS_AS_OF, section
        assert entry["since_last"]["sentence"].startswith("Since the last report"), section
    assert then["kpis"]["since_last"]["as_of_date"] is None  # the first run had none
    # the change the 02 page states is the difference of the two runs' figures
    before = then["kpis"]["latest"]["active_customers"]
    after = now["kpis"]["latest"]["active_customers"]
    assert f"active customers {after:,} ({after - before:+,}" in now["kpis"]["since_last"][
        "sentence"
    ].replace("\u2212", "-")
    index = (outputs / "sample" / "index.html").read_text(encoding="utf-8")
    assert f"What changed since the last report · as of {PREVIOUS_AS_OF}" in index
    assert index.count("<li><b>") >= len(now)  # one sentence per stage
    assert index.count('class="wb-spark"') >= 4  # a trend line per KPI tile
    for page in sorted((outputs / "sample" / "html").glob("0*.html")):
        html = page.read_text(encoding="utf-8")
        assert "Since the last report" in html and f"as of {PREVIOUS_AS_OF}" in html, page.name
        assert 'class="wb-toc"' in html, page.name


def test_no_customer_id_in_any_page(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, outputs = sample_run
    ids = sample_customer_ids()
    assert ids
    for page in [outputs / "sample" / "index.html", *(outputs / "sample" / "html").glob("*.html")]:
        # embedded charts are base64 text: leave them out so a chance match is not a "leak"
        html = re.sub(
            r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", page.read_text(encoding="utf-8")
        )
        leaked = [customer for customer in ids if customer in html]
        assert not leaked, f"{page.name} shows customer ids {leaked[:5]}"


def test_unknown_params_key_fails_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        DEFAULT_PARAMS.read_text(encoding="utf-8") + "\nkpis_typo: 1\n", encoding="utf-8"
    )
    result = run_module_cli("run", "--params", bad, "--outputs", tmp_path / "outputs", timeout=120)
    assert result.returncode == 2
    assert "kpis_typo" in result.stderr and str(bad) in result.stderr
    assert not (tmp_path / "outputs").exists()


def test_no_page_of_the_sample_report_shows_a_small_customer_count(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """Every table and sentence of every page: no customer count from 1 to min_cell_size - 1."""
    from crmlib.config import load_params

    _, outputs = sample_run
    limit = load_params(DEFAULT_PARAMS).privacy.min_cell_size
    found = small_counts_on_pages(outputs / "sample", min_cell_size=limit)
    assert found == [], "\n".join(found)


def test_the_sample_computes_what_it_computed(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """Every artifact and metrics.json of the sample equal tests/data/sample_reference.json
    (exact for whole numbers and text, 1e-9 for floats): speed work changes no number."""
    from sample_reference import REFERENCE, differences, fingerprint

    result, outputs = sample_run
    assert result.returncode == 0, result.stderr[-2000:]
    expected = json.loads(REFERENCE.read_text(encoding="utf-8"))
    found = differences(expected, fingerprint(outputs / "sample"))
    assert found == [], "\n".join(found[:40])
