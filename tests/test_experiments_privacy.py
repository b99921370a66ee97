"""The small-cell rule on every 07_ab_test table, chart and sentence (crmlib.privacy).

A hand-made experiment with an arm of 6 customers (and 3 customers exposed to two variants)
goes through the same calls as notebooks/07_ab_test.ipynb; nothing a page shows may give a
count of 1..9 customers, and the arm's statistics are not reported anywhere.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # tests only: no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import crmlib.experiments as ex  # noqa: E402
from crmlib.config import AbTestParams, load_params  # noqa: E402
from crmlib.engine import Engine  # noqa: E402
from crmlib.experiments.queries.data import ExperimentData  # noqa: E402
from crmlib.experiments.queries.outcomes import part_of  # noqa: E402
from crmlib.experiments.stage import AbAnalysis  # noqa: E402
from crmlib.experiments.text import arms_words, counts_words  # noqa: E402
from crmlib.privacy import HIDDEN, SmallCells, small_counts_in_html  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params" / "default.yaml")
AB = PARAMS.ab_test
K = PARAMS.privacy.min_cell_size
#: Customers per arm of the hand-made experiment: the sms arm is under the limit.
ARMS = {"control": 23, "treatment": 29, "sms": 6}
#: Customers assigned to two variants (excluded), under the limit too.
TWICE = 3
ASSIGNED = pd.Timestamp("2025-11-20 09:00:00")  # 30-day window closed, 90-day window open


def _tables() -> dict[str, pd.DataFrame]:
    """assignments, transactions, events and customers of the hand-made experiment."""
    rng = np.random.default_rng(20251231)
    assignments, orders, events, customers = [], [], [], []
    number = 0
    for variant, size in ARMS.items():
        for _ in range(size):
            number += 1
            customer = f"H{number:03d}"
            assignments.append((customer, "winback", variant, ASSIGNED, 1.5))
            channel = "web" if number % 3 else "shop"
            customers.append((customer, channel))
            # a pre-period order each, a purchase after assignment for about a third of them
            orders.append((customer, ASSIGNED - pd.Timedelta(days=40 + number), 30.0 + number))
            if rng.random() < (0.5 if variant != "control" else 0.25):
                day = float(rng.uniform(1.0, 25.0))
                orders.append((customer, ASSIGNED + pd.Timedelta(days=day), 20.0 + number))
            if rng.random() < 0.3:
                events.append((customer, ASSIGNED + pd.Timedelta(days=2), "open"))
    for extra in range(TWICE):  # assigned to two variants: excluded from the experiment
        customer = f"X{extra}"
        assignments += [(customer, "winback", "control", ASSIGNED, 1.5)]
        assignments += [(customer, "winback", "treatment", ASSIGNED, 1.5)]
        customers.append((customer, "web"))
    order_table = pd.DataFrame(orders, columns=["customer_id", "order_ts", "amount"])
    return {
        "assignments": pd.DataFrame(
            assignments, columns=["customer_id", "experiment_id", "variant", "assigned_ts", "cost"]
        ),
        "transactions": order_table.assign(gross_amount=order_table["amount"], is_purchase=True),
        "events": pd.DataFrame(events, columns=["customer_id", "event_ts", "event_type"]),
        "customers": pd.DataFrame(customers, columns=["customer_id", "acquisition_channel"]),
    }


@pytest.fixture(scope="module")
def small_data() -> Iterator[ExperimentData]:
    with Engine(threads=1) as engine:
        for name, table in _tables().items():
            engine.register(name, table)
        # the hand-made tables are assignments (ab_test.input set to them; auto picks them
        # too), dated for an as-of date of 2025-12-31
        params = PARAMS.model_copy(
            update={
                "as_of_date": dt.date(2025, 12, 31),
                "ab_test": AbTestParams.model_validate(
                    {**AB.model_dump(exclude_unset=True), "input": "assignments"}
                ),
            }
        )
        yield ex.experiment_data(engine, params=params)


@pytest.fixture(scope="module")
def small_analysis(small_data: ExperimentData) -> AbAnalysis:
    clv = pd.DataFrame({"customer_id": small_data.table["customer_id"].iloc[5:], "clv": 50.0})
    return ex.analyze_ab(small_data, settings=AB, currency="EUR", min_cell_size=K, clv=clv)


def _sentences(data: ExperimentData, analysis: AbAnalysis) -> dict[str, str]:
    """Every Markdown and printed text of the notebook, called as the notebook calls it."""
    return {
        "describe_data": ex.describe_data(data, min_cell_size=K),
        "describe_health": ex.describe_health(
            analysis.srm, analysis.balance, control=AB.control, min_cell_size=K
        ),
        "describe_results": ex.describe_results(
            analysis.results, analysis.verdicts, analysis.economics, currency="EUR",
            min_cell_size=K,
        ),
        "describe_money": ex.describe_money(analysis.economics, analysis.money_notes),
        "describe_power": ex.describe_power(
            analysis.power, analysis.sample_sizes, primary_metric=AB.primary_metric,
            power=AB.power, min_cell_size=K,
        ),
        "checks": ex.ab_checks(data, analysis).summary(),
        "ab_conclusion": ex.ab_conclusion(
            analysis.verdicts, analysis.economics, currency="EUR", min_cell_size=K
        ),
    }  # fmt: skip


def _tables_shown(analysis: AbAnalysis) -> dict[str, pd.DataFrame]:
    return {
        "effects": ex.effects_table(analysis.results, min_cell_size=K),
        "guardrails": ex.guardrails_table(analysis.guardrails, min_cell_size=K),
        "survival": ex.survival_table(analysis.rmst, control=AB.control, min_cell_size=K),
        "economics": ex.economics_table(analysis.economics, currency="EUR", min_cell_size=K),
    }


def test_the_hand_made_experiment_has_a_small_arm(small_data: ExperimentData) -> None:
    sizes = small_data.table.groupby("variant").size().to_dict()
    assert sizes == ARMS
    assert small_data.excluded_multiple_variants == {"winback": TWICE}
    # the analysis keeps the exact numbers: the rule applies to what a page shows
    assert small_data.has_timing and "acquisition_channel" in small_data.segments


def test_no_table_shows_a_count_under_the_limit(small_analysis: AbAnalysis) -> None:
    tables = _tables_shown(small_analysis)
    for name, table in tables.items():
        assert len(table), name
        assert small_counts_in_html(table.to_html(), min_cell_size=K) == [], name
    effects = tables["effects"]
    sms = effects.xs(("winback", "sms"), level=("Experiment", "Variant"))
    assert set(sms["Customers (variant / control)"]) == {"<10 / 23"}
    # every mean, difference, lift and p-value of the small arm's rows reads "–"
    values = sms.drop(columns="Customers (variant / control)")
    assert (values == HIDDEN).all().all()
    treatment = effects.xs(("winback", "treatment"), level=("Experiment", "Variant"))
    assert set(treatment["Customers (variant / control)"]) == {"29 / 23"}
    assert not (treatment == HIDDEN).any().any()
    guardrails = tables["guardrails"].loc[("winback", "sms")]
    assert (guardrails["Difference (95% CI)"] == HIDDEN).all()
    assert guardrails["Status"].str.startswith("not reported").all()
    survival = tables["survival"]
    assert survival.loc[("winback", "sms"), "Customers"] == "<10"
    assert survival.loc[("winback", "sms"), "Mean days without a purchase"] == HIDDEN
    assert survival.loc[("winback", "control"), "Customers"] == "23"
    economics = tables["economics"].loc[("winback", "sms")]
    assert (economics == HIDDEN).all()  # the campaign cost too: 1.5 x customers
    assert tables["economics"].loc[("winback", "treatment"), "Campaign cost"] != HIDDEN


def test_no_sentence_shows_a_count_under_the_limit(
    small_data: ExperimentData, small_analysis: AbAnalysis
) -> None:
    sentences = _sentences(small_data, small_analysis)
    total = sum(ARMS.values())
    for name, text in sentences.items():
        page = "".join(f"<p>{line}</p>" for line in text.splitlines())
        assert small_counts_in_html(page, min_cell_size=K) == [], name
        # no arm count of 1..9 beside an arm's name, no total that would reveal the small arm
        assert not re.search(r"\b(sms|control|treatment|winback) [1-9]\b", text), name
        assert f"{total}" not in text and f"{total + TWICE}" not in text, name
        assert not re.search(rf"\b{TWICE} customers\b", text), name
    health = sentences["describe_health"]
    assert "control 23, sms fewer than 10, treatment 29 customers" in health
    assert "the total is not given" in health
    assert "p = " not in health.splitlines()[0]  # the SRM p-value would reveal the arm
    assert "fewer than 10 customers were exposed to more than one variant" in (
        sentences["describe_data"].lower()
    )


def test_the_small_arms_verdict_says_too_small_to_report(
    small_data: ExperimentData, small_analysis: AbAnalysis
) -> None:
    sentences = _sentences(small_data, small_analysis)
    results = sentences["describe_results"]
    (sms,) = [line for line in results.splitlines() if line.startswith("- **winback / sms")]
    assert sms.startswith("- **winback / sms: not reported.**")
    assert "Too small to report" in sms and "sms fewer than 10, control 23" in sms
    # none of its statistics: no difference, p-value or money on its line, no effect bullets
    assert not re.search(r"points|p [=<]|€|ROI", sms)
    lines = results.splitlines()
    after = lines[lines.index(sms) + 1 :]
    assert not after or after[0].startswith("- **")
    # the other variant is reported in full
    assert "- **winback / treatment: " in results and "Holm-adjusted p" in results
    conclusion = sentences["ab_conclusion"]
    assert "Not reported, an arm of fewer than 10 customers: winback / sms." in conclusion
    assert "winback / sms:" not in conclusion
    power = sentences["describe_power"]
    assert "- **winback / sms:** too small to report" in power
    assert "with 23 control and 29 treatment customers" in power
    # the verdict itself stays in metrics.json with the exact arm sizes (not a page)
    metrics = ex.ab_metrics(
        small_analysis.results, small_analysis.verdicts, small_analysis.srm,
        small_analysis.economics, conclusion=conclusion, guardrails=small_analysis.guardrails,
    )  # fmt: skip
    assert metrics["experiments"]["winback"]["n"] == {"control": 23, "sms": 6, "treatment": 29}
    assert set(metrics["experiments"]["winback"]["variants"]) == {"sms", "treatment"}


def test_segment_rows_with_a_small_arm_are_left_out_and_said(
    small_analysis: AbAnalysis,
) -> None:
    segments = small_analysis.results[small_analysis.results["segment_col"].notna()]
    assert (segments[["n", "n_control"]] >= K).all().all()
    left_out = small_analysis.segments_left_out
    assert len(left_out) and set(left_out["variant"]) >= {"sms"}
    assert any("segment rows with fewer than 10 customers" in note for note in small_analysis.notes)
    fig, ax = plt.subplots()
    ex.plot_segment_forest(
        small_analysis.results, metric=AB.primary_metric, ax=ax, left_out=left_out,
        min_cell_size=K,
    )  # fmt: skip
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels and not any("sms" in label for label in labels)
    words = " ".join(text.get_text() for text in ax.texts)
    assert "Not drawn: " in words and "(sms)" in words and "fewer than 10 customers" in words
    # the overall reference line of the small arm is not drawn either
    assert not any("sms" in line.get_label() for line in ax.get_lines())
    plt.close(fig)


def test_charts_do_not_draw_the_small_arm_and_say_so(small_analysis: AbAnalysis) -> None:
    figure = ex.plot_lifts(small_analysis.results, min_cell_size=K)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == len(set(small_analysis.results["metric"]))
    for ax in panels:
        ticks = [label.get_text() for label in ax.get_yticklabels()]
        assert ticks == ["treatment"], ax.get_title()
    assert figure.get_supxlabel() == "Not drawn: sms (an arm of fewer than 10 customers)."
    plt.close(figure)
    fig, axes = plt.subplots(1, 2)
    ex.plot_cumulative_outcome(small_analysis.cumulative, ax=axes[0], min_cell_size=K)
    ex.plot_time_to_purchase(small_analysis.curves, ax=axes[1], min_cell_size=K)
    for ax in axes:
        drawn = {line.get_label() for line in ax.get_lines()}
        assert drawn == {"control", "treatment"}, ax.get_title()
        words = " ".join(text.get_text() for text in ax.texts)
        assert "Not drawn: sms (fewer than 10 customers)." in words
        assert not re.search(r"\b[1-9] customers", words)
    plt.close(fig)
    # with a limit of 1 customer every arm is drawn and nothing is said
    fig, ax = plt.subplots()
    ex.plot_cumulative_outcome(small_analysis.cumulative, ax=ax, min_cell_size=1)
    assert {line.get_label() for line in ax.get_lines()} == set(ARMS) and not ax.texts
    plt.close(fig)


def test_the_cumulative_curve_leaves_out_days_with_few_customers_observed() -> None:
    # 40 customers; from day 2 only 6 are still observed: those days are not drawn
    table = pd.DataFrame(
        {"experiment_id": "e", "variant": "control", "day": [0, 1, 2, 3],
         "customers": [40, 40, 6, 6], "purchasers": [0, 4, 3, 3],
         "share": [0.0, 0.1, 0.5, 0.5]}
    )  # fmt: skip
    fig, ax = plt.subplots()
    ex.plot_cumulative_outcome(table, ax=ax)
    (line,) = ax.get_lines()
    drawn = pd.Series(line.get_ydata(), dtype="float64")
    assert drawn.iloc[:2].tolist() == [0.0, 0.1] and drawn.iloc[2:].isna().all()
    assert "Days on which fewer than 10 customers" in " ".join(t.get_text() for t in ax.texts)
    plt.close(fig)


def test_words_helpers() -> None:
    rule = SmallCells(10)
    # complementary: with the total shown, a single hidden arm hides the next smallest too
    words = counts_words({"a": 40, "b": 3, "c": 20}, rule, total_shown=True)
    assert words == "a 40, b fewer than 10, c not shown"
    assert counts_words({"a": 40, "b": 3, "c": 5}, rule, total_shown=True) == (
        "a 40, b fewer than 10, c fewer than 10"
    )
    assert arms_words({"control": 431, "treatment": 448}, rule) == (
        "879 customers (control 431, treatment 448)"
    )
    assert "879" not in arms_words({"control": 870, "treatment": 9}, rule)
    # a part and its whole: the rest of a shown whole is protected as well
    assert part_of(5, 879, rule) == "fewer than 10 of 879 customers"
    assert part_of(872, 879, rule) == "all but fewer than 10 of 879 customers"
    assert part_of(40, 879, rule) == "40 of 879 customers"
    assert part_of(40, 52, rule, whole_shown=False) == "40 customers"
    assert part_of(52, 52, rule, whole_shown=False) == "all customers"
    for text in (part_of(3, 3, rule), part_of(2, 7, rule), part_of(5, 100, rule)):
        assert not small_counts_in_html(f"<p>{text}</p>") and not re.search(r"\b[2-7]\b", text)


def test_health_hides_small_segments_and_the_balance_of_a_small_arm() -> None:
    srm = pd.DataFrame(
        {
            "experiment_id": "winback",
            "segment_col": [None, "region", "region"],
            "segment": [None, "North", "South"],
            "n": [120, 60, 60],
            "counts": [
                {"control": 60, "email": 52, "sms": 8},
                {"control": 50, "email": 4, "sms": 6},
                {"control": 10, "email": 48, "sms": 2},
            ],
            "chi2": [50.0, 60.0, 70.0],
            "p_value": [1e-6, 1e-7, 1e-8],
            "srm": [True, True, True],
        }
    )
    balance = pd.DataFrame(
        {
            "experiment_id": "winback",
            "variant": ["email", "sms"],
            "covariate": "pre_orders",
            "mean": [3.1, 9.9],
            "control_mean": [3.0, 3.0],
            "smd": [0.5, 1.7],
            "imbalanced": [True, True],
        }
    )
    text = ex.describe_health(srm, balance, min_cell_size=K)
    assert small_counts_in_html("".join(f"<p>{line}</p>" for line in text.splitlines())) == []
    assert "control 60, email 52, sms fewer than 10 customers" in text
    assert "120" not in text and "p = " not in text.splitlines()[0]
    # both segments have a small arm: not named, counted
    assert "North" not in text and "South" not in text
    assert "2 segment(s) with an arm of fewer than 10 customers (not named)" in text
    # the email comparison is described, the sms one (8 customers) is not
    assert "**winback / email:** covariate 'pre_orders' is imbalanced" in text
    assert "winback / sms" not in text and "9.90" not in text
    # with a limit of 1 everything is shown exactly
    exact = ex.describe_health(srm, balance, min_cell_size=1)
    assert "120 customers (control 60, email 52, sms 8)" in exact and "region = North" in exact
