"""Tests of 07_ab_test's glue: the experiment table from either input, analyze_ab, power, words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import NormalIndPower

import crmlib.experiments as ex
from crmlib.config import AbTestParams, WorkbookParams, load_params
from crmlib.engine import Engine
from crmlib.errors import ConfigError, SourceFileError, StageInputMissing
from crmlib.experiments.queries.data import ExperimentData
from crmlib.experiments.stage import AbAnalysis
from crmlib.io import RunFolder
from crmlib.privacy import small_counts_in_html

ROOT = Path(__file__).resolve().parents[1]
TRUTH = json.loads((ROOT / "data" / "sample" / "truth.json").read_text())["experiment"]
AB = load_params(ROOT / "params" / "default.yaml").ab_test
PRIVACY = load_params(ROOT / "params" / "default.yaml").privacy


def _ab(base: AbTestParams = AB, **changes: Any) -> AbTestParams:
    """``base`` with ``changes``, validated like the params file."""
    return AbTestParams.model_validate({**base.model_dump(exclude_unset=True), **changes})


def _data_params(params: WorkbookParams, **changes: Any) -> WorkbookParams:
    """``params`` with the ``ab_test`` section of default.yaml, changed by ``changes``."""
    return params.model_copy(update={"ab_test": _ab(**changes)})


def _analysis_settings(**changes: Any) -> dict[str, Any]:
    """analyze_ab's keywords: default.yaml's ``ab_test`` section with ``changes``."""
    clv = changes.pop("clv", None)
    return {
        "settings": _ab(**changes),
        "currency": "EUR",
        "min_cell_size": PRIVACY.min_cell_size,
        "clv": clv,
    }


@pytest.fixture
def sample_run(
    sample_ingested: tuple[WorkbookParams, RunFolder],
) -> tuple[WorkbookParams, RunFolder]:
    """01_ingest's canonical tables of the sample (shared by the test session)."""
    return sample_ingested


@pytest.fixture
def sample_engine(sample_run: tuple[WorkbookParams, RunFolder]) -> Iterator[Engine]:
    _, run = sample_run
    with Engine(threads=2) as engine:
        run.register(engine, "transactions")
        run.register(engine, "customers", "events", "assignments", optional=True)
        yield engine


@pytest.fixture
def sample_data(
    sample_run: tuple[WorkbookParams, RunFolder], sample_engine: Engine
) -> ExperimentData:
    params, _ = sample_run
    return ex.experiment_data(sample_engine, params=_data_params(params))


# -- input (a): assignments ----------------------------------------------------------------------
def test_sample_recovers_planted_uplift_and_cost(sample_data: ExperimentData) -> None:
    assert sample_data.source == "assignments"
    experiment = TRUTH["experiment_id"]
    # retained: the 90-day window of every assignment (2025-11-01) is open on 2025-12-31
    assert "retained" not in sample_data.metrics[experiment]
    assert any("'retained' is not analysed" in note for note in sample_data.notes)
    analysis = ex.analyze_ab(sample_data, **_analysis_settings())
    overall = analysis.results[analysis.results["segment_col"].isna()].set_index("metric")
    repurchase = overall.loc["repurchase"]
    assert (repurchase["n"], repurchase["n_control"]) == (TRUTH["n_treatment"], TRUTH["n_control"])
    # truth.json: the planted 30-day repurchase uplift lies inside the reported interval
    assert (
        repurchase["abs_ci_low"]
        < TRUTH["planted_uplift_30d_repurchase"]
        < repurchase["abs_ci_high"]
    )
    assert bool(repurchase["cuped"])
    # the ratio metric and the guardrail are analysed; segment rows exist for the channel
    assert {"revenue_per_order", "unsubscribed"} <= set(overall.index)
    assert set(analysis.results["segment_col"].dropna()) == {"acquisition_channel"}
    # every segment row shown has at least min_cell_size customers in each arm
    segments = analysis.results[analysis.results["segment_col"].notna()]
    assert (segments[["n", "n_control"]] >= PRIVACY.min_cell_size).all().all()
    economics = analysis.economics.iloc[0]
    # the planted per-contact cost comes back exactly
    assert economics["cost_total"] / TRUTH["n_treatment"] == pytest.approx(
        TRUTH["cost_per_contact"]
    )
    assert analysis.verdicts["verdict"].tolist() == ["inconclusive"]
    # the RMST horizon is cut to the follow-up every arm reaches (about 60 days)
    assert analysis.rmst_horizon_days == 60.0
    assert analysis.cumulative["day"].max() == AB.window_days
    checks = ex.ab_checks(sample_data, analysis)
    assert all(result.passed for result in checks.results), checks.summary()


def test_sample_clv_lift_leaves_out_customers_without_clv(
    sample_data: ExperimentData,
) -> None:
    table = sample_data.table
    ids = table["customer_id"].drop_duplicates()
    kept = ids.iloc[5:]  # five assigned customers have no CLV
    clv = pd.DataFrame({"customer_id": kept, "clv": np.linspace(10.0, 90.0, len(kept))})
    analysis = ex.analyze_ab(sample_data, **_analysis_settings(clv=clv))
    # five is under the small-cell limit: the words say "fewer than 10", not 5
    (note,) = [note for note in analysis.money_notes if "CLV lift leaves out" in note]
    assert f"leaves out fewer than 10 of {len(table):,} assigned customers" in note
    assert not small_counts_in_html(f"<p>{note}</p>") and " 5 " not in note
    row = analysis.economics.iloc[0]
    assert np.isfinite(row["clv_net_lift_per_customer"])
    # the money columns come from every customer: equal to the analysis without clv
    without = ex.analyze_ab(sample_data, **_analysis_settings()).economics.iloc[0]
    assert row["net_profit"] == without["net_profit"]
    # known answer: difference of mean CLV on the covered customers minus cost per treated
    covered = table[table["customer_id"].isin(kept)].merge(clv, on="customer_id")
    means = covered.groupby("variant")["clv"].mean()
    cost = row["cost_total"] / row["n"]
    assert row["clv_net_lift_per_customer"] == pytest.approx(
        means["treatment"] - means["control"] - cost, rel=1e-9
    )


def test_missing_segment_column_is_noted_not_fatal(
    sample_run: tuple[WorkbookParams, RunFolder], sample_engine: Engine
) -> None:
    params, _ = sample_run
    data = ex.experiment_data(
        sample_engine, params=_data_params(params, segments=["region", "no_such_column"])
    )
    assert data.segments == ("region",)
    assert any("no_such_column" in note for note in data.notes)


# -- no experiment data ----------------------------------------------------------------------------
def test_no_assignments_every_section_says_so(
    sample_run: tuple[WorkbookParams, RunFolder],
) -> None:
    params, run = sample_run
    with Engine(threads=1) as engine:
        run.register(engine, "transactions", "customers", "events")
        data = ex.experiment_data(engine, params=_data_params(params))
    assert data.source == "none" and not data.available
    words = ex.describe_data(data)
    assert words.startswith("**There is no experiment to analyse.**")
    assert "No assignments table" in words
    analysis = ex.analyze_ab(data, **_analysis_settings())
    for table in (analysis.results, analysis.verdicts, analysis.economics, analysis.power):
        assert table.empty
    assert "nothing" in ex.describe_health(analysis.srm, analysis.balance)
    assert ex.describe_results(
        analysis.results, analysis.verdicts, analysis.economics, currency="EUR"
    )
    conclusion = ex.ab_conclusion(analysis.verdicts, analysis.economics, currency="EUR")
    metrics = ex.ab_metrics(
        analysis.results, analysis.verdicts, analysis.srm, analysis.economics, conclusion=conclusion
    )
    assert metrics["experiments"] == {} and metrics["conclusion"] == conclusion
    assert ex.ab_artifact(analysis.results).empty
    assert ex.effects_table(analysis.results).empty
    assert ex.economics_table(analysis.economics, currency="EUR").empty
    assert "not analysed" in ex.describe_power(
        analysis.power, analysis.sample_sizes, primary_metric="repurchase"
    )
    figure = ex.plot_lifts(analysis.results)
    fig, axes = plt.subplots(1, 3)
    ex.plot_segment_forest(analysis.results, metric="repurchase", ax=axes[0])
    ex.plot_cumulative_outcome(analysis.cumulative, ax=axes[1])
    ex.plot_time_to_purchase(analysis.curves, ax=axes[2])
    assert "No effect" in figure.axes[0].texts[0].get_text()
    plt.close("all")
    assert ex.ab_checks(data, analysis).results[0].passed


def test_export_input_without_export_is_a_config_error(
    sample_run: tuple[WorkbookParams, RunFolder], sample_engine: Engine
) -> None:
    params, _ = sample_run
    with pytest.raises(ConfigError, match=r"source\.experiment_export"):
        ex.experiment_data(sample_engine, params=_data_params(params, input="export"))


# -- input (b): an export of the same outcomes gives the same answers ----------------------------
EXPORT_METRICS = ["repurchase", "orders", "net_revenue", "unsubscribed"]


def _export_params(
    params: WorkbookParams,
    data: ExperimentData,
    path: Path,
    *,
    extra: pd.DataFrame | None = None,
) -> WorkbookParams:
    """The sample's outcomes written as a platform export (renamed columns, ';', decimal comma,
    yes/no), plus ``extra`` rows; params whose source.experiment_export maps it."""
    columns = [
        "experiment_id", "customer_id", "variant", *EXPORT_METRICS, "pre_orders", "pre_spend",
        "acquisition_channel",
    ]  # fmt: skip
    table = data.table[columns]
    export = table.assign(repurchase=np.where(table["repurchase"] == 1.0, "yes", "no"))
    export.rename(
        columns={"customer_id": "User", "variant": "Arm", "net_revenue": "Revenue (EUR)"}
    ).to_csv(path, index=False, sep=";", decimal=",")
    source = {
        "path": str(path),
        "delimiter": ";",
        "decimal_separator": ",",
        "columns": {"customer_id": "User", "variant": "Arm", "net_revenue": "Revenue (EUR)"},
    }
    return WorkbookParams.model_validate(
        params.model_dump(mode="json")
        | {"source": params.source.model_dump(mode="json") | {"experiment_export": source}}
    )


def test_export_of_the_sample_outcomes_gives_the_same_results(
    tmp_path: Path, sample_run: tuple[WorkbookParams, RunFolder], sample_data: ExperimentData
) -> None:
    params, _ = sample_run
    metrics = EXPORT_METRICS
    table = sample_data.table
    with_export = _export_params(params, sample_data, tmp_path / "platform_export.csv")
    with Engine(threads=1) as engine:
        data = ex.experiment_data(engine, params=_data_params(with_export, metrics=metrics[:3]))
    assert data.source == "export"  # input auto picks the configured export
    assert data.rows_read == len(table) and data.rejects.empty
    assert "the totals reconcile" in ex.describe_data(data)
    # an export has no cost column: the per-contact cost comes from ab_test.cost_per_contact
    from_export = ex.analyze_ab(
        data, **_analysis_settings(cost_per_contact=TRUTH["cost_per_contact"])
    )
    reference = ex.analyze_ab(
        ExperimentData(
            "assignments",
            sample_data.table,
            {
                key: tuple(m for m in value if m in metrics)
                for key, value in sample_data.metrics.items()
            },
            sample_data.covariates,
            sample_data.ratio_metrics,
            sample_data.segments,
        ),
        **_analysis_settings(),
    )
    pd.testing.assert_frame_equal(from_export.results, reference.results, rtol=1e-12)
    pd.testing.assert_frame_equal(
        from_export.economics, reference.economics, rtol=1e-12, check_dtype=False
    )
    assert from_export.curves.empty  # no time to purchase in the export
    assert any("Kaplan-Meier" in note for note in from_export.notes)


# -- power and the next test's size, against statsmodels ---------------------------------------------
def test_power_and_sample_sizes_equal_statsmodels(sample_data: ExperimentData) -> None:
    analysis = ex.analyze_ab(sample_data, **_analysis_settings(planned_lifts=[0.05, 0.2]))
    solver = NormalIndPower()
    for row in analysis.power.itertuples(index=False):
        if not np.isfinite(row.mde_abs):
            continue
        effect = solver.solve_power(
            effect_size=None, nobs1=row.n_control, alpha=AB.alpha, power=AB.power,
            ratio=row.n / row.n_control,
        )  # fmt: skip
        assert row.mde_abs == pytest.approx(effect * row.sd, rel=1e-6)
        assert row.detectable == (abs(row.observed_diff) >= row.mde_abs)
    repurchase = analysis.power[analysis.power["metric"] == "repurchase"].iloc[0]
    # a binary metric's sd is sqrt(p (1 - p)) of the control, shrunk by CUPED's variance cut
    p = repurchase["baseline"]
    reduction = analysis.results.query("metric == 'repurchase' and segment_col.isna()")[
        "variance_reduction"
    ].iloc[0]
    assert repurchase["sd"] == pytest.approx(np.sqrt(p * (1 - p) * (1 - reduction)))
    for row in analysis.sample_sizes.itertuples(index=False):
        needed = solver.solve_power(
            effect_size=row.absolute_lift / row.sd, nobs1=None, alpha=AB.alpha, power=AB.power
        )
        assert row.n_per_arm == int(np.ceil(needed - 1e-9))
    words = ex.describe_power(analysis.power, analysis.sample_sizes, primary_metric="repurchase")
    assert "80% chance" in words and "customers per arm" in words


def test_pages_words_carry_no_customer_id(sample_data: ExperimentData) -> None:
    analysis = ex.analyze_ab(sample_data, **_analysis_settings())
    text = "\n".join(
        [
            ex.describe_data(sample_data),
            ex.describe_health(analysis.srm, analysis.balance),
            ex.describe_results(
                analysis.results, analysis.verdicts, analysis.economics, currency="EUR"
            ),
            ex.describe_power(analysis.power, analysis.sample_sizes, primary_metric="repurchase"),
            ex.effects_table(analysis.results).to_string(),
            ex.economics_table(analysis.economics, currency="EUR").to_string(),
            *analysis.notes,
        ]
    )
    ids = set(sample_data.table["customer_id"])
    assert not [word for word in text.replace(",", " ").split() if word in ids]


def test_export_rejects_are_quarantined_and_counted(
    tmp_path: Path, sample_run: tuple[WorkbookParams, RunFolder], sample_data: ExperimentData
) -> None:
    params, _ = sample_run
    path = tmp_path / "export.csv"
    with_export = _export_params(params, sample_data, path)
    header, first = path.read_text().splitlines()[:2]
    fields = dict(zip(header.split(";"), first.split(";"), strict=True))
    broken = fields | {"User": "NEW1", "Revenue (EUR)": "lots"}
    with path.open("a") as export:  # an identical copy of row 1, then a bad number
        export.write(first + "\n" + ";".join(broken.values()) + "\n")
    with Engine(threads=1) as engine:
        data = ex.experiment_data(
            engine, params=_data_params(with_export, metrics=EXPORT_METRICS[:3])
        )
    # rows read = rows analysed + rows rejected, each reject with its reason and row number
    assert data.rows_read == len(sample_data.table) + 2 == len(data.table) + len(data.rejects)
    assert sorted(data.rejects["reason"]) == ["duplicate_row", "not_a_number"]
    assert set(data.rejects["source_row"]) == {
        len(sample_data.table) + 1,
        len(sample_data.table) + 2,
    }
    words = ex.describe_data(data)
    assert "2 rejected (duplicate_row 1, not_a_number 1); the totals reconcile" in words
    analysis = ex.analyze_ab(data, **_analysis_settings(cost_per_contact=1.5))
    checks = ex.ab_checks(data, analysis)
    assert checks.results[0].name == "export rows reconcile" and checks.results[0].passed


# -- an experiment export alone: no id column, money metrics named in params -----------------------
EXAMPLE_EXPORT = ROOT / "data" / "experiment_export" / "spring_reactivation.csv"
EXAMPLE_PARAMS = ROOT / "params" / "ab_export_only.yaml"
#: The planted truth of :func:`example_export_csv`: conversion +15 points for the treatment;
#: revenue per converter Gamma(4, 10), mean 40, so revenue per customer +0.15 x 40 = +6.00.
PLANTED_CONVERSION_UPLIFT = 0.15
PLANTED_REVENUE_UPLIFT = 0.15 * 40.0


def example_export_csv(n: int, *, seed: int) -> str:
    """A platform export of ``n`` users: one row each, no id column (the committed example is
    ``example_export_csv(500, seed=20251232)``)."""
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < 0.5
    orders_before = rng.poisson(1.5, n)
    device = np.where(rng.random(n) < 0.6, "web", "app")
    converted = rng.random(n) < 0.08 + 0.07 * np.minimum(orders_before, 4) + 0.15 * treated
    revenue = np.where(converted, rng.gamma(4.0, 10.0, n), 0.0)
    unsubscribed = rng.random(n) < 0.02
    visited = rng.random(n) < 0.55 + 0.05 * np.minimum(orders_before, 4)
    table = pd.DataFrame(
        {
            "group": np.where(treated, "treatment", "control"),
            "converted": np.where(converted, "yes", "no"),
            "revenue": revenue.round(2),
            "orders_before": orders_before,
            "unsubscribed": unsubscribed.astype(int),
            "visited": visited.astype(int),
            "device": device,
        }
    )
    return table.to_csv(index=False, float_format="%.2f", lineterminator="\n")


def test_the_committed_example_export_is_the_generators() -> None:
    assert EXAMPLE_EXPORT.read_text(encoding="utf-8") == example_export_csv(500, seed=20251232)


def _export_only_params(path: Path, **ab_test: Any) -> WorkbookParams:
    """ab_export_only.yaml's settings, reading ``path`` (absolute)."""
    payload = load_params(EXAMPLE_PARAMS).model_dump(mode="json")
    payload["source"]["experiment_export"]["path"] = str(path)
    payload["ab_test"] |= ab_test
    return WorkbookParams.model_validate(payload)


def _export_only_analysis(params: WorkbookParams) -> tuple[ExperimentData, AbAnalysis]:
    with Engine(threads=1) as engine:
        data = ex.experiment_data(engine, params=params)
    analysis = ex.analyze_ab(
        data,
        settings=params.ab_test,
        currency=params.currency,
        min_cell_size=params.privacy.min_cell_size,
    )
    return data, analysis


def test_planted_effects_of_a_simulated_export_are_recovered(tmp_path: Path) -> None:
    path = tmp_path / "big_test.csv"
    path.write_text(example_export_csv(20_000, seed=7), encoding="utf-8")
    data, analysis = _export_only_analysis(_export_only_params(path))
    assert data.source == "export" and len(data.table) == 20_000
    assert data.table["customer_id"].is_unique  # row numbers
    overall = analysis.results[analysis.results["segment_col"].isna()].set_index("metric")
    converted, revenue = overall.loc["converted"], overall.loc["revenue"]
    # planted truth inside the 95% intervals (seeded: the check is deterministic; the interval
    # has 95% coverage, tests/test_experiments_simulation.py checks that rate)
    assert converted["abs_ci_low"] < PLANTED_CONVERSION_UPLIFT < converted["abs_ci_high"]
    assert revenue["abs_ci_low"] < PLANTED_REVENUE_UPLIFT < revenue["abs_ci_high"]
    assert converted["abs_ci_high"] - converted["abs_ci_low"] < 0.03  # 10,000 per arm
    # CUPED on orders_before (it drives conversion) narrows the interval, and says so
    assert converted["cuped"] and converted["covariate"] == "orders_before"
    assert converted["variance_reduction"] > 0.02
    assert converted["raw_abs_ci_low"] < PLANTED_CONVERSION_UPLIFT < converted["raw_abs_ci_high"]
    # money from the metrics named in params: revenue per customer is the planted +6.00
    money = analysis.economics.iloc[0]
    assert (
        money["incremental_revenue_per_customer_ci_low"]
        < PLANTED_REVENUE_UPLIFT
        < money["incremental_revenue_per_customer_ci_high"]
    )
    assert money["cost_total"] == pytest.approx(1.0 * money["n"])  # cost_per_contact 1.0
    # retained = converted: the incremental retained customers are the conversion lift x n
    assert money["incremental_retained"] == pytest.approx(_raw_lift(overall) * money["n"])
    # no planted effect on the guardrails: neither is inferior
    assert set(analysis.guardrails["status"]) <= {"non-inferior", "inconclusive"}
    assert analysis.verdicts["verdict"].iloc[0] in ("ship", "effect positive, profit uncertain")


def _raw_lift(overall: pd.DataFrame) -> float:
    """The unadjusted conversion difference (what the economics count, without CUPED)."""
    return float(overall.loc["converted", "raw_abs_diff"])


def test_the_example_export_reads_with_row_numbers_and_says_so() -> None:
    params = load_params(EXAMPLE_PARAMS)
    notes = ex.check_experiment_export(params)
    assert any("has no customer id column" in note for note in notes)
    data, analysis = _export_only_analysis(params)
    words = ex.describe_data(data)
    assert "500 rows read: 500 analysed and 0 rejected" in words
    assert "spring_reactivation.csv has no customer id column" in words  # not capitalized
    assert "- **CUPED:** converted and revenue adjusted for orders_before." in words
    assert ".." not in words
    assert analysis.verdicts["verdict"].tolist() == ["effect positive, profit uncertain"]
    reasons = analysis.verdicts["reasons"].iloc[0]
    assert "the lift in converted, adjusted for orders_before (CUPED)" in reasons
    assert "guardrail 'visited' is non-inferior" in reasons and "tolerated fall" in reasons
    assert ex.guardrails_table(analysis.guardrails)["Bad news is"].tolist() == ["a rise", "a fall"]


def test_a_money_metric_that_is_not_measured_is_said_in_words(tmp_path: Path) -> None:
    path = tmp_path / "spring.csv"
    path.write_text(EXAMPLE_EXPORT.read_text(encoding="utf-8"), encoding="utf-8")
    params = _export_only_params(path)
    data, _ = _export_only_analysis(params)
    # revenue and retention metrics that are not among ab_test.metrics: AbTestParams rejects
    # them when validated (a key written in the params file must name an analysed metric), so
    # the section is changed unvalidated, as a name absent from the data would reach the stage
    unmeasured = params.ab_test.model_copy(
        update={"revenue_metric": "net_revenue", "retention_metric": "repurchase"}
    )
    analysis = ex.analyze_ab(
        data, settings=unmeasured, currency="EUR", min_cell_size=params.privacy.min_cell_size
    )
    assert analysis.economics.empty
    words = ex.describe_money(analysis.economics, analysis.money_notes)
    assert words.startswith("**No campaign economics.** The campaign economics need the revenue")
    assert "'net_revenue' (ab_test.revenue_metric)" in words
    assert "ab_test.revenue_metric" in analysis.verdicts["reasons"].iloc[0]
    # the retention metric alone missing: money computed, the cost per retained customer not
    unmeasured = params.ab_test.model_copy(
        update={"revenue_metric": "revenue", "retention_metric": "repurchase"}
    )
    analysis = ex.analyze_ab(
        data, settings=unmeasured, currency="EUR", min_cell_size=params.privacy.min_cell_size
    )
    assert np.isfinite(analysis.economics["net_profit"].iloc[0])
    assert np.isnan(analysis.economics["incremental_retained"].iloc[0])
    assert "'repurchase' (ab_test.retention_metric)" in ex.describe_money(
        analysis.economics, analysis.money_notes
    )


def test_a_mapping_error_is_found_before_any_row_is_read(tmp_path: Path) -> None:
    path = tmp_path / "spring.csv"
    path.write_text(EXAMPLE_EXPORT.read_text(encoding="utf-8"), encoding="utf-8")
    params = _export_only_params(path, metrics=["converted", "revenue", "spend"])
    with pytest.raises(SourceFileError) as info:
        ex.check_experiment_export(params)
    message = str(info.value)
    assert message.startswith(
        "spring.csv: required metric or covariate 'spend' (named in ab_test.metrics)"
    )
    assert "columns found: group, converted, revenue" in message
    # a guardrail the export lacks names its own key
    params = _export_only_params(path, guardrails={"complaints": 0.01})
    with pytest.raises(SourceFileError, match=r"'complaints' \(named in ab_test\.guardrails\)"):
        ex.check_experiment_export(params)


def test_inputs_of_an_export_only_run(tmp_path: Path) -> None:
    params = load_params(EXAMPLE_PARAMS)
    assert params.ab_test.input == "auto"
    assignments = params.model_copy(update={"ab_test": _ab(params.ab_test, input="assignments")})
    run = RunFolder(tmp_path / "run")
    with Engine(threads=1) as engine:
        # nothing from 01_ingest is needed with an export
        assert ex.register_inputs(run, engine, params=params) == []
        with pytest.raises(
            ConfigError, match=r"ab_test\.input is 'assignments' but source\.transactions"
        ):
            ex.register_inputs(run, engine, params=assignments)
    sample = load_params(ROOT / "params" / "default.yaml")
    assert sample.ab_test.input == "auto"
    with Engine(threads=1) as engine, pytest.raises(StageInputMissing):
        ex.register_inputs(run, engine, params=sample)


# -- end to end: the real CLI with a params file naming only an experiment export ------------------
@pytest.mark.slow
def test_cli_runs_07_alone_on_an_export(tmp_path: Path) -> None:
    from conftest import remote_references, run_module_cli

    params = tmp_path / "export_only.yaml"
    text = EXAMPLE_PARAMS.read_text(encoding="utf-8").replace(
        "../data/experiment_export/spring_reactivation.csv", str(EXAMPLE_EXPORT)
    )
    params.write_text(text.replace("run_name: ab_export_only", "run_name: e2e_export"))
    outputs = tmp_path / "outputs"
    result = run_module_cli("run", "--params", params, "--outputs", outputs, timeout=600)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    run_dir = outputs / "e2e_export"
    skipped = (
        "01–06 need a transactions table (source.transactions); this run has only an "
        "experiment export (source.experiment_export)."
    )
    assert result.stdout.splitlines()[-2:] == [
        f"Skipped: {skipped}",
        f"Report: {run_dir / 'index.html'}",
    ]
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    statuses = {name: entry["status"] for name, entry in record["notebooks"].items()}
    assert statuses == {**{name: "skipped" for name in statuses if name != "07_ab_test"},
                        "07_ab_test": "ok"}  # fmt: skip
    assert len(statuses) == 7
    assert {
        entry.get("reason") for name, entry in record["notebooks"].items() if name != "07_ab_test"
    } == {skipped}
    # 07's metrics: the arms of the committed export, the planted lift inside the interval
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert list(metrics) == ["ab_test"]
    experiment = metrics["ab_test"]["experiments"]["spring_reactivation"]
    table = pd.read_csv(EXAMPLE_EXPORT)
    assert experiment["n"] == table["group"].value_counts().to_dict()
    treatment = experiment["variants"]["treatment"]
    primary = treatment["primary"]
    assert primary["metric"] == "converted" and primary["covariate"] == "orders_before"
    assert primary["ci"][0] < PLANTED_CONVERSION_UPLIFT < primary["ci"][1]
    assert (
        primary["unadjusted"]["ci"][0] < PLANTED_CONVERSION_UPLIFT < primary["unadjusted"]["ci"][1]
    )
    # the unadjusted difference is the plain difference of the two arms' conversion shares
    shares = (table["converted"] == "yes").groupby(table["group"]).mean()
    assert primary["unadjusted"]["diff"] == pytest.approx(shares["treatment"] - shares["control"])
    assert treatment["guardrails"]["visited"]["worse"] == "lower"
    assert treatment["verdict"] == "effect positive, profit uncertain"
    assert treatment["net_profit"]["ci"][0] < 0 < treatment["net_profit"]["ci"][1]
    # 07's page: the row-number ids, the covariate, the unadjusted estimate, both guardrails
    page = (run_dir / "html" / "07_ab_test.html").read_text(encoding="utf-8")
    for words in (
        "has no customer id column",
        "map it with source.experiment_export.columns (customer_id: the column's name).",
        "adjusted for orders_before (CUPED)",
        "Unadjusted difference (95% CI)",
        "within the tolerated fall of 10.0 points",
        "effect positive, profit uncertain",
    ):
        assert words in page.replace("&#39;", "'"), words
    assert "Empty DataFrame" not in page and "<tbody>\n</tbody>" not in page
    assert (run_dir / "data" / "ab_results.parquet").is_file()
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert f"Skipped: {skipped}" in index
    assert 'href="html/07_ab_test.html"' in index
    for html in (index, page):
        assert remote_references(html) == []
