"""Tests of 05_clv's glue: cut-off, calibration names, groups, pooling, tracking inputs, refits."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from contract_tables import contract_transactions, simulated_orders
from test_clv_queries import with_fact_columns

from crmlib.clv.models import fitting
from crmlib.clv.models.fitting import eligibility, fit_spend_model, fit_transactions_model
from crmlib.clv.queries import calibration_holdout, customer_summary, model_summary
from crmlib.clv.stage import (
    calibration_cutoff,
    clv_artifact,
    cutoff_fits,
    pool_groups,
    tracking_table,
    value_groups,
)
from crmlib.clv.text import clv_conclusion, describe_summary, spend_check
from crmlib.clv.value import clv_by_group, value_by_group
from crmlib.engine import Engine
from crmlib.io import RunFolder
from crmlib.privacy import OTHER, small_counts_in_html

# A: first 2025-01-02, repeats on 01-02 (same day: not a repeat), 01-10 (twice: one repeat day)
# and 03-01; B: first 2025-02-01, repeat 02-15; C: first 2025-03-20 (after the cohort end
# 2025-03-01 of the tracking test), repeat 03-25 (not counted); a cancelled order never counts.
TX = contract_transactions(
    [
        ("A1", "A", "2025-01-02 09:00", 10.0, 10.0, 0.0, "purchase"),
        ("A2", "A", "2025-01-02 18:00", 5.0, 5.0, 0.0, "purchase"),
        ("A3", "A", "2025-01-10 09:00", 7.0, 7.0, 0.0, "purchase"),
        ("A4", "A", "2025-01-10 19:00", 3.0, 3.0, 0.0, "purchase"),
        ("A5", "A", "2025-03-01 09:00", 8.0, 8.0, 0.0, "purchase"),
        ("B1", "B", "2025-02-01 09:00", 20.0, 20.0, 0.0, "purchase"),
        ("B2", "B", "2025-02-15 09:00", 30.0, 30.0, 0.0, "purchase"),
        ("B3", "B", "2025-02-20 09:00", 0.0, 9.0, -9.0, "cancelled"),
        ("C1", "C", "2025-03-20 09:00", 40.0, 40.0, 0.0, "purchase"),
        ("C2", "C", "2025-03-25 09:00", 45.0, 45.0, 0.0, "purchase"),
    ]
)
AS_OF = "2025-03-31"


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", TX)
        yield eng


def test_calibration_cutoff() -> None:
    assert calibration_cutoff("2025-03-31", calibration_end=None, holdout_days=30) == dt.date(
        2025, 3, 1
    )
    assert calibration_cutoff(
        "2025-03-31", calibration_end="2025-02-28", holdout_days=30
    ) == dt.date(2025, 2, 28)
    with pytest.raises(ValueError, match="holdout is empty"):
        calibration_cutoff("2025-03-31", calibration_end="2025-03-31", holdout_days=30)


def test_model_summary_renames_and_keeps_units(engine: Engine) -> None:
    calibration = calibration_holdout(
        engine, calibration_end="2025-02-28", observation_end=AS_OF, unit="day"
    )
    summary = model_summary(calibration)
    assert summary.columns.tolist() == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
    ]
    assert summary.attrs["unit"] == "day"
    a = summary.set_index("customer_id").loc["A"]
    # by 2025-02-28: A bought on days 0 and 8 (01-02, 01-10): frequency 1, recency 8, T 57
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (1, 8.0, 57.0, 10.0)
    with pytest.raises(ValueError, match="frequency_cal"):
        model_summary(summary)


def test_tracking_counts_repeat_days_of_the_calibration_cohort(engine: Engine) -> None:
    summary = customer_summary(engine, observation_end=AS_OF, unit="day")

    fitted = fit_transactions_model(
        pd.DataFrame({"frequency": [1, 1, 1, 2, 0, 3] * 5, "recency": [8.0, 14.0, 5.0, 30.0, 0.0,
                      50.0] * 5, "T": [60.0, 40.0, 10.0, 70.0, 20.0, 80.0] * 5}),
        model="bgnbd", unit="day",
    )  # fmt: skip
    table = tracking_table(
        engine, fitted, summary, calibration_end="2025-03-01", observation_end=AS_OF, unit="day"
    )
    actual = table.set_index("date")["actual_cumulative_purchases"]
    # repeat days of A and B (C's first purchase is after the cohort end): 01-10, 02-15, 03-01
    assert actual.loc[pd.Timestamp("2025-01-09")] == 0
    assert actual.loc[pd.Timestamp("2025-01-10")] == 1
    assert actual.loc[pd.Timestamp("2025-02-15")] == 2
    assert actual.iloc[-1] == 3
    assert set(table["period"]) == {"calibration", "holdout"}
    assert np.all(np.diff(table["expected_cumulative_purchases"].to_numpy()) >= 0)


def test_value_groups_from_customers_rfm_and_first_purchase(engine: Engine, tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    summary = customer_summary(engine, observation_end=AS_OF, unit="week")
    groups = value_groups(run, summary)
    assert set(groups["acquisition_channel"]) == {"(unknown)"}
    assert set(groups["segment"]) == {"(unknown)"}
    run.write_table(
        "customers",
        pd.DataFrame({"customer_id": ["A", "B"], "acquisition_channel": ["social", ""]}),
    )
    run.write_table("rfm", pd.DataFrame({"customer_id": ["B"], "segment": ["Champions"]}))
    groups = value_groups(run, summary).set_index("customer_id")
    assert groups.loc["A", "acquisition_channel"] == "social"
    assert groups.loc["B", "acquisition_channel"] == "(unknown)"  # empty value
    assert groups.loc["B", "segment"] == "Champions"
    assert groups.loc["C", "cohort"] == "2025Q1"


def _segments(sizes: dict[str, int], seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Values (random CLV) and groups of customers in segments of the given sizes."""
    labels = [name for name, size in sizes.items() for _ in range(size)]
    ids = [f"C{i:04d}" for i in range(len(labels))]
    clv = np.random.default_rng(seed).gamma(2.0, 50.0, len(labels))
    return (
        pd.DataFrame({"customer_id": ids, "clv": clv}),
        pd.DataFrame({"customer_id": ids, "segment": labels}),
    )


SEGMENTS = {"Champions": 40, "Loyal": 25, "New": 4, "Promising": 6, "At risk": 9, "Lost": 3}


def test_clv_by_group_pools_small_groups_and_keeps_the_totals() -> None:
    values, groups = _segments(SEGMENTS)
    raw = value_by_group(values, groups, by="segment")
    table = clv_by_group(values, groups, by="segment", min_cell_size=10)
    assert small_counts_in_html(table.to_html()) == []
    assert list(table.index) == ["Champions", "Loyal", OTHER]
    other = table.loc[OTHER]
    assert other["customers"] == 22 and other["groups"] == 4  # New, Promising, At risk, Lost
    small = raw[raw["segment"].isin(["New", "Promising", "At risk", "Lost"])]
    assert other["clv_total"] == pytest.approx(small["clv_total"].sum())
    assert other["clv_mean"] == pytest.approx(small["clv_total"].sum() / 22)  # not NaN
    for column in ("customers", "clv_total", "clv_share", "customer_share"):
        assert table[column].sum() == pytest.approx(raw[column].sum()), column
    assert table["clv_share"].sum() == pytest.approx(1.0)
    assert table.loc["Champions", "clv_mean"] == pytest.approx(
        raw.set_index("segment").loc["Champions", "clv_mean"]
    )


def test_clv_by_group_pools_a_lone_small_group_with_the_smallest_other() -> None:
    values, groups = _segments({"a": 40, "b": 12, "c": 3})
    table = clv_by_group(values, groups, by="segment", min_cell_size=10)
    assert list(table.index) == ["a", OTHER]  # (other) is never one group alone
    assert table.loc[OTHER, "customers"] == 15 and table.loc[OTHER, "groups"] == 2
    # at 25, b and c (15) need a as well: every group is pooled, the row is the whole
    wider = clv_by_group(values, groups, by="segment", min_cell_size=25)
    assert list(wider.index) == [OTHER] and wider.loc[OTHER, "customers"] == 55
    assert wider.loc[OTHER, "clv_mean"] == pytest.approx(values["clv"].mean())
    assert small_counts_in_html(wider.to_html(), min_cell_size=25) == []


def test_clv_by_group_hides_everything_when_all_customers_are_too_few() -> None:
    values, groups = _segments({"a": 4, "b": 3})
    table = clv_by_group(values, groups, by="segment", min_cell_size=10)
    assert table["customers"].tolist() == ["<10"]
    assert table[["clv_total", "clv_mean", "clv_share"]].isna().all(axis=None)
    assert small_counts_in_html(table.to_html()) == []


def test_pool_groups_relabels_customers_for_the_intervals() -> None:
    _, groups = _segments(SEGMENTS)
    pooled = pool_groups(groups, by="segment", min_cell_size=10)
    assert len(pooled) == len(groups) and pooled["customer_id"].equals(groups["customer_id"])
    counts = pooled["segment"].value_counts()
    assert counts.to_dict() == {"Champions": 40, "Loyal": 25, OTHER: 22}
    assert (counts >= 10).all()
    assert groups["segment"].nunique() == 6  # the input is not changed


def test_describe_summary_and_spend_check_phrase_small_counts() -> None:
    summary = pd.DataFrame({"frequency": [0] * 30 + [2] * 3, "monetary_value": [0.0] * 30 +
                            [20.0, 30.0, 40.0]})  # fmt: skip
    summary.attrs["observation_end"] = "2025-12-31"
    calibration = pd.DataFrame({"frequency_holdout": [0] * 28 + [1] * 5})
    text = describe_summary(summary, calibration, unit="week", min_cell_size=10)
    assert "**33 customers**" in text and "fewer than 10 customers came back" in text
    assert "(9%)" not in text  # a share of a hidden count is left out with it
    assert ": fewer than 10 customers bought again in that holdout" in text
    assert small_counts_in_html(f"<p>{text}</p>") == []
    assert "8 customers" in describe_summary(
        summary.head(8), calibration.head(8), unit="week", min_cell_size=1
    )
    check = spend_check(summary, min_cell_size=10)
    assert "(fewer than 10 repeat customers)" in check
    assert small_counts_in_html(f"<p>{check}</p>") == []


def test_cutoff_fits_and_conclusion(engine: Engine) -> None:
    summary = customer_summary(engine, observation_end=AS_OF, unit="day")
    final = (fit_transactions_model(summary, model="bgnbd", unit="day"), fit_spend_model(summary))
    fits, base, samples = cutoff_fits(
        engine, final=final, as_of_date=AS_OF, holdout_days=[20], model="bgnbd", penalizer=0.0,
        unit="day", max_customers=1_000, seed=1,
    )  # fmt: skip
    assert base == "all data to 2025-03-31"
    assert list(samples) == list(fits)[1:] and not any(s.sampled for s in samples.values())
    assert list(fits)[0] == base and list(fits)[1].startswith("data to 2025-03-11")
    assert fits[base] is final
    # 3 customers do not identify a BG/NBD: the refit is never used, a named fallback is
    refit = fits[list(fits)[1]][0]
    assert refit.name != "bgnbd" and eligibility(refit).eligible
    assert list(fits)[1] == f"data to 2025-03-11 ({refit.label})"
    values = pd.DataFrame({"clv": [100.0, 50.0, 0.0, 850.0]})
    assert clv_conclusion(
        values, chosen="bgnbd", horizon_months=12, currency="EUR", top_decile=0.85,
        min_cell_size=10,
    ) == (
        "The fewer than 10 customers are worth €1.0k in discounted margin over the next 12 "
        "months (€250.00 each on average, model BG/NBD); the top 10% hold 85% of it."
    )  # fmt: skip
    assert clv_conclusion(
        values, chosen="bgnbd", horizon_months=12, currency="EUR", top_decile=0.85,
        min_cell_size=1,
    ).startswith("The 4 customers are worth")  # fmt: skip
    # a total of 0 has no top-decile share (NaN): the clause is left out, no "nan%"
    assert clv_conclusion(
        values * 0, chosen="empirical", horizon_months=12, currency="EUR",
        top_decile=float("nan"), min_cell_size=1,
    ).endswith("spend rate: no model converged).")  # fmt: skip


def test_clv_artifact_keeps_units_through_the_run_folder(tmp_path: Path) -> None:
    values = pd.DataFrame({"customer_id": ["A", "B"], "clv": [1.5, 2.5]})
    values.attrs = {"units": {"clv": "currency: margin over 12 months"}, "unit": "week"}
    groups = pd.DataFrame({"customer_id": ["A", "B"], "segment": ["Lost", "New"]})
    run = RunFolder(tmp_path / "run")
    run.write_table("clv", clv_artifact(values, groups))
    back = run.read_table("clv")
    assert back["segment"].tolist() == ["Lost", "New"]
    assert back.attrs["units"]["clv"] == "currency: margin over 12 months"


# -- the whole stage when the models fail -------------------------------------------------------
def _planted_no_dropout(n: int = 200, seed: int = 12) -> pd.DataFrame:
    """Purchases of buyers who never leave: Poisson at a Gamma(4, 4 x 30 days) rate (one order
    a month on average), first orders in the first half-year of 2023, observed to 2024-12-30."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(4.0, 1 / 4.0 / 30.0, n)  # orders per day
    first = rng.uniform(0, 180, n)  # days after 2023-01-01
    gaps = rng.exponential(1.0, (n, 60)) / rate[:, None]
    days = first[:, None] + np.cumsum(np.c_[np.zeros(n), gaps], axis=1)
    keep = days < 730
    return with_fact_columns(simulated_orders(days, keep, rng, id_digits=3))


def _run_stage(transactions: pd.DataFrame, run_dir: Path, *, as_of: str) -> tuple[dict, str]:
    """05_clv's calls, in the notebook's order (charts drawn and closed): metrics and page words."""
    import matplotlib.pyplot as plt

    import crmlib as crm

    unit, days, horizon, currency, k = "week", 7.0, 12, "EUR", 10
    valuation = crm.clv.Valuation(horizon_months=horizon, annual_discount_rate=0.1, margin=0.3,
                                  unit=unit, days_per_unit=days, as_of_date=as_of)  # fmt: skip
    run = RunFolder(run_dir)
    with Engine(threads=1) as engine:
        engine.register("transactions", transactions)
        cutoff = calibration_cutoff(as_of, calibration_end=None, holdout_days=182)
        summary = customer_summary(engine, observation_end=as_of, unit=unit)
        calibration = calibration_holdout(engine, calibration_end=cutoff, observation_end=as_of,
                                          unit=unit)  # fmt: skip
        words = [crm.clv.describe_summary(summary, calibration, unit=unit, min_cell_size=k)]
        choice = crm.clv.choose_model(calibration, models=["bgnbd", "mbgnbd", "paretonbd"],
                                      unit=unit, criterion="mae")  # fmt: skip
        tables = [crm.clv.fits_table(choice.fits, min_cell_size=k)]
        words += [crm.clv.describe_fits(choice.fits, min_cell_size=k),
                  crm.clv.describe_choice(choice)]  # fmt: skip
        predictions = crm.clv.holdout_predictions(choice.model, calibration, unit=unit)
        fig, axes = plt.subplots(1, 4)
        crm.clv.plot_period_transactions(crm.clv.period_transactions(
            choice.model, model_summary(calibration), min_cell_size=k), ax=axes[0])  # fmt: skip
        crm.clv.plot_calibration_holdout(predictions, min_cell_size=k, ax=axes[1])
        tables.append(crm.clv.errors_table(predictions, min_cell_size=k))
        crm.clv.plot_palive_matrix(crm.clv.palive_matrix(
            choice.model, max_frequency=20, max_recency=int(calibration["T_cal"].max()),
            T=int(calibration["T_cal"].max()), unit=unit), ax=axes[2])  # fmt: skip
        crm.clv.plot_palive_calibration(crm.clv.palive_calibration(choice.model, calibration),
                                        ax=axes[3])  # fmt: skip
        tracking = tracking_table(engine, choice.model, summary, calibration_end=cutoff,
                                  observation_end=as_of, unit=unit)  # fmt: skip
        crm.clv.plot_cumulative_tracking(tracking, ax=plt.subplots()[1], calibration_end=cutoff)
        final = crm.clv.fit_with_fallback(summary, model=choice.chosen, unit=unit)
        spend = crm.clv.spend_model(summary, final)
        words += [
            crm.clv.describe_fits({**final.fits, **spend.fits}, min_cell_size=k),
            crm.clv.describe_choice(final) + " " + crm.clv.describe_choice(spend),
            crm.clv.spend_check(summary, min_cell_size=k),
        ]
        values = crm.clv.customer_value(final.model, spend.model, summary, valuation=valuation)
        words.append(crm.clv.describe_clv(values, currency=currency, horizon_months=horizon,
                                          min_cell_size=k))  # fmt: skip
        groups = value_groups(run, summary)
        intervals = crm.clv.clv_intervals(
            final.model,
            spend.model,
            None,
            summary,
            crm.clv.pool_groups(groups, by="acquisition_channel", min_cell_size=k),
            by="acquisition_channel",
            valuation=valuation,
            draws=20,
            seed=1,
        )
        crm.clv.plot_clv_intervals(
            intervals, by="acquisition_channel", currency="EUR", min_cell_size=k,
            ax=plt.subplots()[1],
        )  # fmt: skip
        words.append(crm.clv.describe_intervals(intervals, by="acquisition_channel",
                                                currency=currency, min_cell_size=k))  # fmt: skip
        tables += [crm.clv.group_table(values, groups, by=by, currency=currency, min_cell_size=k)
                   for by in ("segment", "cohort")]  # fmt: skip
        grid = crm.clv.sensitivity(final.model, spend.model, summary, valuation=valuation,
                                   annual_discount_rates=[0.05], horizons_months=[6])  # fmt: skip
        refits = cutoff_fits(engine, final=(final.model, spend.model), as_of_date=as_of,
                             holdout_days=[91], model=final.chosen, penalizer=0.0, unit=unit,
                             max_customers=1_000, seed=1)  # fmt: skip
        cutoffs = crm.clv.cutoff_sensitivity(refits.fits, summary, base=refits.base,
                                             valuation=valuation,
                                             refit_samples=refits.samples)  # fmt: skip
        words += [
            crm.clv.describe_sensitivity(grid, currency="EUR"),
            crm.clv.describe_sensitivity(cutoffs, currency="EUR", intervals=intervals),
        ]
        top = crm.clv.top_decile_share(values)
        run.write_table("clv", crm.clv.clv_artifact(values, groups, model=final))
        conclusion = clv_conclusion(values, chosen=final.chosen, horizon_months=horizon,
                                    currency=currency, top_decile=top, min_cell_size=k)  # fmt: skip
        metrics = crm.clv.clv_metrics(
            values=values, choice=choice, final=final, spend=spend,
            holdout=crm.clv.holdout_metrics(predictions), top_decile=top, valuation=valuation,
            conclusion=conclusion,
        )  # fmt: skip
        plt.close("all")
    run.write_metrics("clv", metrics)
    page = "".join(f"<p>{text}</p>" for text in [*words, conclusion])
    page += "".join(table.to_html() for table in tables)
    assert small_counts_in_html(page, min_cell_size=k) == [], small_counts_in_html(page)
    return json.loads(json.dumps(metrics, allow_nan=False)), "\n\n".join([*words, conclusion])


def _no_reprs(page: str) -> None:
    """No stray Python reprs in the page's words (issue 14, item 6)."""
    assert not re.search(r"\bnan\b|\bNone\b|\[\]|Timestamp\(", page), page


def test_stage_completes_on_planted_no_dropout_buyers(tmp_path: Path) -> None:
    """Every candidate fails on buyers who never leave; the NBD values them, said in words."""
    metrics, page = _run_stage(_planted_no_dropout(), tmp_path / "run", as_of="2024-12-30")
    candidates = [r for r in metrics["comparison"] if r["role"] == "candidate"]
    assert [r["model"] for r in candidates] == ["bgnbd", "mbgnbd", "paretonbd"]
    assert not any(r["converged"] or r["eligible"] or r["chosen"] for r in candidates)
    assert metrics["model"] == "nbd" and metrics["converged"] is True
    assert metrics["fallback"]["step"] == "nbd"
    assert "dropout estimate collapsed" in metrics["fallback"]["reason"]
    # planted: one order a month = 7 / 30.4375 per week; the NBD's mean rate r / alpha
    rate = metrics["parameters"]["r"] / metrics["parameters"]["alpha"]
    assert rate == pytest.approx(7 / 30.4375, rel=0.15)  # 200 customers: SE ~ 4% (rate sd 50%)
    assert "Fallback (b), a model without dropout (NBD) is used" in page
    assert "every customer counts as active (P(alive) = 1)" in page
    assert metrics["clv_total"] > 0
    _no_reprs(page)
    artifact = RunFolder(tmp_path / "run").read_table("clv")
    assert (
        artifact.attrs["fallback"] == "nbd" and artifact.attrs["model_name"] == "NBD (no dropout)"
    )


def test_stage_completes_when_every_fit_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:  # fmt: skip
    """No optimization converges (the NBD's and Gamma-Gamma's neither): the page is still
    written, on each customer's observed spend rate, and says so."""
    real = fitting.minimize

    def always_fail(model: str, data: Any, penalizer: float, x0: Any, **kw: Any) -> Any:
        result = real(model, data, penalizer, x0, **kw)
        result.x = np.full(np.size(result.x), 40.0)  # at the edge: never an optimum
        return result

    monkeypatch.setattr(fitting, "minimize", always_fail)
    transactions = _planted_no_dropout(n=80, seed=3)
    metrics, page = _run_stage(transactions, tmp_path / "run", as_of="2024-12-30")
    assert metrics["model"] == "empirical" and metrics["fallback"]["step"] == "empirical"
    assert metrics["converged"] is None and metrics["log_likelihood"] is None
    assert metrics["spend_fallback"]["step"] == "observed_spend"
    assert [r["model"] for r in metrics["comparison"]] == [
        "bgnbd", "mbgnbd", "paretonbd", "nbd", "empirical"]  # fmt: skip
    assert "Fallback (c), each customer's observed spend rate is used" in page
    assert "No interval: the empirical CLV" in page
    assert "valued at each customer's observed spend rate: no model converged" in page
    _no_reprs(page)
    # the observed spend rate by hand for the whole base: repeat spend per week x horizon
    with Engine(threads=1) as engine:
        engine.register("transactions", transactions)
        summary = customer_summary(engine, observation_end="2024-12-30", unit="week")
    x, m, age = (summary[c].to_numpy(dtype=float) for c in ("frequency", "monetary_value", "T"))
    weekly = np.where(age > 0, x * m / np.where(age > 0, age, 1.0), 0.0)
    discount = sum(1.1 ** (-k / 12) for k in range(1, 13))
    expected = 0.3 * weekly.sum() * 365.25 / 12 / 7 * discount
    assert metrics["clv_total"] == pytest.approx(expected, rel=1e-9)
