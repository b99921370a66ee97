"""Tests for the 07_ab_test report helpers: verdicts, words, metrics, artifact and charts."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlib.errors import DataContractError
from crmlib.experiments import campaign_economics, guardrails_table
from crmlib.experiments.models.effects import RESULT_COLUMNS, analyze_experiment
from crmlib.experiments.models.survival import CUMULATIVE_COLUMNS, cumulative_outcome
from crmlib.experiments.models.verdicts import (
    GUARDRAIL_COLUMNS,
    VERDICT_COLUMNS,
    VERDICTS,
    guardrail_specs,
    judge_guardrails,
    verdicts,
)
from crmlib.experiments.plots import (
    plot_cumulative_outcome,
    plot_lift,
    plot_segment_forest,
)
from crmlib.experiments.stage import ab_artifact, ab_metrics
from crmlib.experiments.text import ab_conclusion, describe_health, describe_results

GUARDRAILS = {"unsubscribes": 0.005}


def make_results(
    *,
    lift: tuple[float, float, float] = (0.057, 0.02, 0.094),
    p_adjusted: float = 0.004,
    guardrail: tuple[float, float, float] = (0.001, -0.001, 0.003),
    variant: str = "email",
    experiment: str = "winback",
) -> pd.DataFrame:
    """Overall rows of one variant: the primary metric, a guardrail and a continuous metric."""
    return pd.DataFrame(
        {
            "experiment_id": experiment,
            "variant": variant,
            "metric": ["repurchase", "unsubscribes", "net_revenue"],
            "segment_col": None,
            "segment": None,
            "n": 500,
            "n_control": 480,
            "abs_diff": [lift[0], guardrail[0], 2.5],
            "abs_ci_low": [lift[1], guardrail[1], 0.1],
            "abs_ci_high": [lift[2], guardrail[2], 4.9],
            "p_adjusted": [p_adjusted, 0.5, 0.04],
            "metric_kind": ["binary", "binary", "continuous"],
        }
    )


def make_srm(*, p_value: float = 0.62, flagged: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "experiment_id": ["winback", "winback"],
            "segment_col": [None, "region"],
            "segment": [None, "North"],
            "n": [980, 400],
            "counts": [{"control": 480, "email": 500}, {"control": 190, "email": 210}],
            "chi2": [0.4, 1.0],
            "p_value": [p_value, 0.3],
            "srm": [flagged, False],
        }
    )


def make_economics(
    net: tuple[float, float, float] = (800.0, 100.0, 1500.0), *, variant: str = "email"
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "experiment_id": ["winback"],
            "variant": [variant],
            "n": [500],
            "n_control": [480],
            "net_profit": [net[0]],
            "net_profit_ci_low": [net[1]],
            "net_profit_ci_high": [net[2]],
            "roi": [net[0] / 1000.0],
        }
    )


EMPTY_BALANCE = pd.DataFrame(
    columns=["experiment_id", "variant", "covariate", "mean", "control_mean", "smd", "imbalanced"]
)


def run_verdicts(
    results: pd.DataFrame | None = None,
    *,
    srm: pd.DataFrame | None = None,
    balance: pd.DataFrame | None = None,
    economics: pd.DataFrame | None = None,
) -> pd.DataFrame:
    return verdicts(
        make_results() if results is None else results,
        srm=make_srm() if srm is None else srm,
        balance=EMPTY_BALANCE if balance is None else balance,
        economics=make_economics() if economics is None else economics,
        guardrails=GUARDRAILS,
        currency="EUR",
    )


def test_verdict_ship_states_lift_guardrail_and_profit() -> None:
    table = run_verdicts()
    assert list(table.columns) == list(VERDICT_COLUMNS)
    row = table.iloc[0]
    assert (row["experiment_id"], row["variant"], row["verdict"]) == ("winback", "email", "ship")
    assert row["reasons"].startswith(
        "the lift in repurchase 5.7 points (2.0 to 9.4) is significant (adjusted p = 0.004)"
    )
    assert "guardrail 'unsubscribes' is non-inferior" in row["reasons"]
    assert (
        "net profit €800 (€100 to €1.5k) is above zero across its whole interval" in row["reasons"]
    )
    assert row["guardrails"] == "unsubscribes: non-inferior"
    assert row["primary_diff"] == pytest.approx(0.057)


@pytest.mark.parametrize(
    ("results", "economics", "reason"),
    [
        (
            make_results(lift=(-0.05, -0.09, -0.01), p_adjusted=0.01),
            make_economics(),
            "the lift in repurchase -5.0 points (-9.0 to -1.0) is significantly negative "
            "(adjusted p = 0.010)",
        ),
        (
            make_results(guardrail=(0.007, 0.004, 0.010)),
            make_economics(),
            "guardrail 'unsubscribes' is inferior: it moved 0.7 points (0.4 to 1.0), "
            "a rise beyond the tolerated 0.5 points",
        ),
        (
            make_results(),
            make_economics((-900.0, -1500.0, -300.0)),
            "net profit -€900 (-€1.5k to -€300) is below zero across its whole interval",
        ),
    ],
    ids=["negative-lift", "inferior-guardrail", "loss-for-sure"],
)
def test_verdict_do_not_ship(results: pd.DataFrame, economics: pd.DataFrame, reason: str) -> None:
    row = run_verdicts(results, economics=economics).iloc[0]
    assert row["verdict"] == "do not ship"
    assert row["reasons"] == reason


@pytest.mark.parametrize(
    ("results", "economics", "reason"),
    [
        (
            make_results(lift=(0.057, -0.0004, 0.113), p_adjusted=0.06),
            make_economics(),
            "the lift in repurchase 5.7 points (-0.0 to 11.3) includes zero",
        ),
        (
            make_results(guardrail=(0.004, 0.0, 0.008)),
            make_economics(),
            "guardrail 'unsubscribes' is inconclusive",
        ),
        (
            make_results(lift=(0.03, 0.001, 0.059), p_adjusted=0.09),
            make_economics(),
            "is not significant after the Holm correction (adjusted p = 0.090; the interval is not corrected for the other comparisons)",
        ),
    ],
    ids=["ci-includes-zero", "guardrail-unclear", "holm"],
)
def test_verdict_inconclusive(results: pd.DataFrame, economics: pd.DataFrame, reason: str) -> None:
    row = run_verdicts(results, economics=economics).iloc[0]
    assert row["verdict"] == "inconclusive"
    assert reason in row["reasons"]


def test_verdict_unhealthy_says_srm_first_and_overrides_a_winner() -> None:
    row = run_verdicts(srm=make_srm(p_value=1e-6, flagged=True)).iloc[0]
    assert row["verdict"] == "unhealthy"
    assert row["reasons"] == (
        "sample-ratio mismatch (p < 0.001): the split is not what was planned; "
        "effects cannot be trusted"
    )
    assert row["srm_p_value"] == pytest.approx(1e-6)


def test_verdict_mentions_imbalanced_covariates_and_ignores_segment_rows() -> None:
    segment = (
        make_results()
        .iloc[[0]]
        .assign(segment_col="region", segment="North", abs_diff=-0.5, p_adjusted=0.0001)
    )
    balance = pd.DataFrame(
        {
            "experiment_id": ["winback", "winback"],
            "variant": ["email", "email"],
            "covariate": ["pre_spend", "pre_orders"],
            "mean": [120.0, 2.0],
            "control_mean": [100.0, 2.0],
            "smd": [0.25, 0.01],
            "imbalanced": [True, False],
        }
    )
    row = run_verdicts(pd.concat([make_results(), segment]), balance=balance).iloc[0]
    assert row["verdict"] == "ship"
    assert row["reasons"].endswith(
        "covariates imbalanced between the arms (|SMD| > 0.1): pre_spend; read the effects "
        "with care"
    )
    assert row["imbalanced_covariates"] == "pre_spend"


def test_verdict_without_economics_row_or_primary_metric_is_inconclusive() -> None:
    results = make_results()
    results = results[results["metric"] != "repurchase"]
    row = run_verdicts(results, economics=make_economics(variant="sms")).iloc[0]
    assert row["verdict"] == "inconclusive"
    assert row["reasons"].startswith("the primary metric 'repurchase' was not analysed")
    assert "net profit unknown" in row["reasons"]


def test_verdict_one_row_per_variant_in_order() -> None:
    results = pd.concat([make_results(variant="sms"), make_results(variant="email")])
    economics = pd.concat([make_economics(variant="sms"), make_economics(variant="email")])
    table = run_verdicts(results, economics=economics)
    assert table["variant"].tolist() == ["email", "sms"]


def test_verdict_bad_inputs() -> None:
    with pytest.raises(DataContractError, match="p_adjusted"):
        run_verdicts(make_results().drop(columns="p_adjusted"))
    with pytest.raises(ValueError, match="alpha"):
        verdicts(
            make_results(),
            srm=make_srm(),
            balance=EMPTY_BALANCE,
            economics=make_economics(),
            guardrails=GUARDRAILS,
            alpha=1.5,
            currency="EUR",
        )


def test_describe_health_flags_srm_and_imbalance() -> None:
    balance = pd.DataFrame(
        {
            "experiment_id": ["winback"],
            "variant": ["email"],
            "covariate": ["pre_spend"],
            "mean": [120.0],
            "control_mean": [100.0],
            "smd": [0.25],
            "imbalanced": [True],
        }
    )
    text = describe_health(make_srm(p_value=1e-6, flagged=True), balance)
    first = text.splitlines()[0]
    assert first.startswith("- **winback:** 980 customers (control 480, email 500); ")
    assert "sample-ratio mismatch (p < 0.001)" in first
    assert "'pre_spend' is imbalanced (SMD +0.25" in text
    healthy = describe_health(make_srm(), EMPTY_BALANCE)
    assert "the split matches the plan (sample-ratio test p = 0.620)" in healthy
    assert describe_health(make_srm().iloc[0:0], EMPTY_BALANCE).startswith("No experiment")


def test_describe_results_and_conclusion() -> None:
    results = pd.concat([make_results(), make_results(variant="sms", p_adjusted=0.3)])
    economics = pd.concat([make_economics(), make_economics(variant="sms")])
    table = run_verdicts(results, economics=economics)
    text = describe_results(results, table, economics, currency="USD")
    assert "- **winback / email: ship.** The lift in repurchase" in text
    assert "    - net_revenue: 2.50 (0.10 to 4.90), Holm-adjusted p = 0.040" in text
    assert "    - net profit $800 ($100 to $1.5k), ROI 80%" in text
    conclusion = ab_conclusion(table, economics, currency="EUR")
    assert conclusion == (
        "1 experiment, 2 variants tested against control. Ship winback / email: repurchase "
        "5.7 points (2.0 to 9.4), net profit €800 (€100 to €1.5k), ROI 80%. Inconclusive, keep "
        "testing or stop: winback / sms: repurchase 5.7 points (2.0 to 9.4), net profit €800 "
        "(€100 to €1.5k), ROI 80%."
    )
    unhealthy = run_verdicts(srm=make_srm(p_value=1e-6, flagged=True))
    words = ab_conclusion(unhealthy, make_economics(), currency="EUR")
    assert "Not readable: winback failed the sample-ratio check" in words
    assert "No variant is ready to ship." in words


def test_ab_metrics_is_jsonable() -> None:
    economics = make_economics((np.nan, np.nan, np.nan))
    table = run_verdicts(economics=economics)
    metrics = ab_metrics(make_results(), table, make_srm(), economics, conclusion="Keep testing.")
    json.dumps(metrics, allow_nan=False)
    experiment = metrics["experiments"]["winback"]
    assert experiment["n"] == {"control": 480, "email": 500}
    assert experiment["srm_p_value"] == pytest.approx(0.62)
    email = experiment["variants"]["email"]
    assert email["verdict"] == "effect positive, profit uncertain"
    assert email["primary"] == {
        "metric": "repurchase",
        "diff": pytest.approx(0.057),
        "ci": [pytest.approx(0.02), pytest.approx(0.094)],
    }
    assert email["net_profit"] == {"value": None, "ci": [None, None]}
    assert metrics["verdicts"]["effect positive, profit uncertain"] == 1
    assert set(metrics["verdicts"]) == set(VERDICTS)
    assert metrics["conclusion"] == "Keep testing."


def test_ab_artifact_order_dtypes_and_no_customer_ids() -> None:
    customers = pd.DataFrame(
        {
            "experiment_id": "E1",
            "customer_id": [f"CUST-{i}" for i in range(8)],
            "variant": ["control"] * 4 + ["email"] * 4,
            "region": ["N", "S"] * 4,
            "repurchase": [0, 1, 0, 0, 1, 1, 0, 1],
            "net_revenue": [0.0, 20.0, 0.0, 0.0, 25.0, 30.0, 0.0, 15.0],
        }
    )
    results = analyze_experiment(
        customers, metrics=["repurchase", "net_revenue"], segment_cols=["region"]
    )
    artifact = ab_artifact(results.iloc[::-1])
    assert list(artifact.columns) == list(RESULT_COLUMNS)
    assert artifact["metric"].tolist()[:3] == ["net_revenue"] * 3
    assert artifact["segment"].tolist()[:3] == [None, "N", "S"]
    assert artifact[["n", "n_control"]].dtypes.astype(str).tolist() == ["int64", "int64"]
    assert artifact["abs_diff"].dtype == np.float64
    assert artifact["cuped"].dtype == bool
    assert "customer_id" not in artifact.columns
    assert not artifact.astype(str).apply(lambda col: col.str.contains("CUST-")).any().any()


def test_cumulative_outcome_by_hand() -> None:
    outcomes = pd.DataFrame(
        {
            "experiment_id": "winback",
            "variant": ["control"] * 3 + ["email"] * 3,
            # control: a buyer on day 1.5, one who never buys, one observed for 2.5 days only
            "days_to_purchase": [1.5, np.nan, np.nan, 0.5, 3.0, np.nan],
            "observed_days_total": [10.0, 10.0, 2.5, 10.0, 10.0, 10.0],
        }
    )
    table = cumulative_outcome(outcomes, days=4)
    assert list(table.columns) == list(CUMULATIVE_COLUMNS)
    control = table[table["variant"] == "control"]
    # day 0: 3 observed, none bought; day 2: still 3 observed, 1 bought; day 3: 2 observed.
    assert control["customers"].tolist() == [3, 3, 3, 2, 2]
    assert control["purchasers"].tolist() == [0, 0, 1, 1, 1]
    email = table[table["variant"] == "email"]
    assert email["purchasers"].tolist() == [0, 1, 1, 2, 2]
    assert email["share"].tolist() == pytest.approx([0.0, 1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert table["day"].tolist() == [0, 1, 2, 3, 4] * 2


def test_cumulative_outcome_bad_inputs() -> None:
    outcomes = pd.DataFrame({"experiment_id": ["e"], "variant": ["control"]})
    with pytest.raises(DataContractError, match="days_to_purchase"):
        cumulative_outcome(outcomes)
    with pytest.raises(ValueError, match="net_revenue"):
        cumulative_outcome(outcomes, metric="net_revenue")


def test_plots_title_labels() -> None:
    results = pd.concat(
        [
            make_results(),
            make_results().iloc[[0, 0]].assign(segment_col="region", segment=["North", "South"]),
        ]
    )
    fig, axes = plt.subplots(1, 3)
    try:
        ax = plot_lift(results, metrics=["repurchase", "unsubscribes"], ax=axes[0])
        assert ax is axes[0]
        assert ax.get_title() == "Effect of each variant against control, by metric"
        assert "percentage points" in ax.get_xlabel()
        labels = [label.get_text() for label in ax.get_yticklabels()]
        assert labels == ["repurchase (points): email", "unsubscribes (points): email"]
        forest = plot_segment_forest(results, metric="repurchase", ax=axes[1])
        assert forest.get_title() == "Effect on repurchase by segment"
        assert forest.get_xlabel() == "Difference in repurchase vs control (percentage points)"
        assert [label.get_text() for label in forest.get_yticklabels()] == [
            "region = North",
            "region = South",
        ]
        curve = cumulative_outcome(
            pd.DataFrame(
                {
                    "experiment_id": "e",
                    "variant": ["control", "email"],
                    "days_to_purchase": [np.nan, 1.0],
                    "observed_days_total": [5.0, 5.0],
                }
            ),
            days=3,
        )
        line = plot_cumulative_outcome(curve, ax=axes[2])
        assert line.get_title() == "First purchase after assignment by day, by variant"
        assert (line.get_xlabel(), line.get_ylabel()) == (
            "Days since assignment",
            "Customers with a purchase",
        )
    finally:
        plt.close(fig)


# -- ship needs the profit interval above zero ----------------------------------------------------
def _hand_outcomes() -> pd.DataFrame:
    """Six customers per arm; revenue mean 40 (variant) vs 20 (control), both variances 80."""
    return pd.DataFrame(
        {
            "experiment_id": "winback",
            "customer_id": [f"C{i}" for i in range(12)],
            "variant": ["control"] * 6 + ["email"] * 6,
            "cost": np.nan,
            "spend": [10.0, 20.0, 30.0, 10.0, 20.0, 30.0, 30.0, 40.0, 50.0, 30.0, 40.0, 50.0],
            "bought": [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        }
    )


@pytest.mark.parametrize(
    ("cost_per_contact", "verdict", "words"),
    [
        (3.0, "ship", "net profit €42 (€7 to €77) is above zero across its whole interval"),
        (
            5.0,
            "effect positive, profit uncertain",
            "net profit €30 (-€5 to €65) is not above zero across its whole interval",
        ),
        (
            None,
            "effect positive, profit uncertain",
            "net profit unknown: the campaign cost is not known (set ab_test.cost_per_contact",
        ),
    ],
    ids=["profit-above-zero", "profit-spans-zero", "cost-unknown"],
)
def test_ship_needs_the_net_profit_interval_above_zero(
    cost_per_contact: float | None, verdict: str, words: str
) -> None:
    economics = campaign_economics(
        _hand_outcomes(),
        margin=0.5,
        cost_per_contact=cost_per_contact,
        revenue_col="spend",
        retention_col="bought",
    )
    row = economics.iloc[0]
    # by hand: Welch se = sqrt(80/6 + 80/6), Welch-Satterthwaite df = 10 (equal variances and
    # sizes), CI of the difference 20 +- t(0.975, 10) se; x 6 customers x margin 0.5 - cost
    half_width = stats.t.ppf(0.975, 10) * np.sqrt(80 / 6 + 80 / 6)
    cost = 6 * (cost_per_contact if cost_per_contact is not None else np.nan)
    expected = [3.0 * (20.0 + shift) - cost for shift in (0.0, -half_width, half_width)]
    got = [row["net_profit"], row["net_profit_ci_low"], row["net_profit_ci_high"]]
    if cost_per_contact is None:
        assert np.isnan(got).all()
    else:
        assert got == pytest.approx(expected, rel=1e-12)
    table = run_verdicts(economics=economics)  # the primary lift is significant, guards fine
    assert table["verdict"].tolist() == [verdict]
    assert words in table["reasons"].iloc[0]


def test_without_economics_the_verdict_names_the_revenue_metric() -> None:
    row = run_verdicts(economics=make_economics().iloc[0:0]).iloc[0]
    assert row["verdict"] == "effect positive, profit uncertain"
    assert "net profit unknown: no campaign economics" in row["reasons"]
    assert "ab_test.revenue_metric" in row["reasons"]
    conclusion = ab_conclusion(run_verdicts(economics=make_economics((10.0, -5.0, 25.0))),
                               make_economics((10.0, -5.0, 25.0)), currency="EUR")  # fmt: skip
    assert "Effect positive, profit uncertain" in conclusion and "Ship" not in conclusion


# -- guardrails are judged in their own bad direction ---------------------------------------------
def _retention_drops() -> pd.DataFrame:
    """Hand table: 60 of 100 control customers retained, 45 of 100 in the variant."""
    return pd.DataFrame(
        {
            "experiment_id": "winback",
            "variant": ["control"] * 100 + ["email"] * 100,
            "repurchase": [1.0] * 30 + [0.0] * 70 + [1.0] * 45 + [0.0] * 55,
            "retained": [1.0] * 60 + [0.0] * 40 + [1.0] * 45 + [0.0] * 55,
        }
    )


def test_retention_guardrail_is_judged_as_lower_is_worse_and_shown() -> None:
    results = analyze_experiment(_retention_drops(), metrics=["repurchase", "retained"])
    retained = results[results["metric"] == "retained"].iloc[0]
    # by hand: -0.15 +- 1.959964 sqrt(0.6 x 0.4 / 100 + 0.45 x 0.55 / 100) (unpooled Wald)
    half = 1.959964 * np.sqrt(0.6 * 0.4 / 100 + 0.45 * 0.55 / 100)
    assert (retained["abs_diff"], retained["abs_ci_low"], retained["abs_ci_high"]) == (
        pytest.approx((-0.15, -0.15 - half, -0.15 + half), abs=1e-6)
    )
    lower = {"retained": {"margin": 0.02, "worse": "lower"}}
    judged = judge_guardrails(results, lower)
    assert list(judged.columns) == list(GUARDRAIL_COLUMNS)
    assert judged[["metric", "worse", "status"]].to_dict("records") == [
        {"metric": "retained", "worse": "lower", "status": "inferior"}
    ]
    # the older {metric: margin} form means higher is worse: a fall looks harmless that way
    assert judge_guardrails(results, {"retained": 0.02})["status"].tolist() == ["non-inferior"]
    srm = make_srm().iloc[[0]].assign(counts=[{"control": 100, "email": 100}])
    table = verdicts(results, srm=srm, balance=EMPTY_BALANCE, economics=make_economics(),
                     guardrails=lower, currency="EUR")  # fmt: skip
    assert table["verdict"].tolist() == ["do not ship"]
    assert table["reasons"].iloc[0] == (
        "guardrail 'retained' is inferior: it moved -15.0 points (-28.7 to -1.3), a fall "
        "beyond the tolerated 2.0 points"
    )
    assert table["guardrails"].iloc[0] == "retained: inferior"
    page = guardrails_table(judged).loc[("winback", "email", "retained")]
    assert page.to_dict() == {
        "Bad news is": "a fall",
        "Tolerated worsening": "2.0 points",
        "Difference (95% CI)": "-15.0 points (-28.7 to -1.3)",
        "Status": "inferior: worse beyond the tolerance",
    }
    metrics = ab_metrics(results, table, srm, make_economics(), conclusion="", guardrails=judged)
    assert (
        metrics["experiments"]["winback"]["variants"]["email"]["guardrails"]["retained"]["status"]
        == "inferior"
    )


def test_an_unmeasured_guardrail_is_said_and_blocks_ship() -> None:
    judged = judge_guardrails(make_results(), {"complaints": {"margin": 0.01, "worse": "higher"}})
    assert judged["status"].tolist() == ["inconclusive"]
    assert judged["words"].tolist() == ["guardrail 'complaints' was not measured"]
    assert guardrails_table(judged)["Status"].tolist() == [
        "not measured: no result for this metric"
    ]
    row = verdicts(make_results(), srm=make_srm(), balance=EMPTY_BALANCE,
                   economics=make_economics(), guardrails={"complaints": 0.01},
                   currency="EUR").iloc[0]  # fmt: skip
    assert row["verdict"] == "inconclusive"
    assert "guardrail 'complaints' was not measured" in row["reasons"]


@pytest.mark.parametrize(
    ("guardrails", "match"),
    [({"x": 0.0}, "positive margin"), ({"x": {"margin": 0.1, "worse": "up"}}, "'up'"),
     ({"x": "big"}, "expected a margin")],
    ids=["zero-margin", "bad-direction", "not-a-number"],
)  # fmt: skip
def test_guardrail_specs_bad_input(guardrails: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        guardrail_specs(guardrails)
