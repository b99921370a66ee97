"""Tests of left-censored cohorts: data that begin mid-history, planted truth, the sample, params."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import DEFAULT_PARAMS
from contract_tables import contract_transactions

from crmlib import cohorts as C
from crmlib.cohorts.queries.data_start import DataStart
from crmlib.config import load_params
from crmlib.engine import Engine
from crmlib.errors import ConfigError
from crmlib.privacy import small_counts_in_html

D = dt.date
AS_OF = "2025-06-30"
FIRST = "\u2264 2024-01 (present at start)"
#: months of the new cohorts: 2024-01 .. 2025-06 (18 complete months up to AS_OF)
MONTHS = pd.period_range("2024-01", "2025-06", freq="M")
#: new customers per monthly cohort, and how many of them buy again exactly 3 and 6 months later:
#: flat around 20 and 15 (no trend by construction: a repeating pattern, not a slope)
NEW_PER_COHORT = 100
BACK_AT_3 = [20 + d for d in (-2, 1, 0, 2, -1)]
BACK_AT_6 = [15 + d for d in (1, -1, 0, -2, 2)]
#: customers who were already buying before the data begin, all seen first in 2024-01
OLD_CUSTOMERS = 200


def _planted(
    *, old_back: int, old_in_february: int = 0, signups: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Transactions (and customers) of a shop whose data begin on 2024-01-01, mid-history.

    New customers: NEW_PER_COHORT per month, first order on a day of their month; of cohort m,
    BACK_AT_3[m % 5] buy again 3 months later and BACK_AT_6[m % 5] 6 months later (distinct
    customers), so new cohorts' retention has no trend. Old customers (OLD_CUSTOMERS, bought
    before the data): first seen in 2024-01, each buys again 3 days later (day bracket 1-7),
    and ``old_back`` of them buy in 2024-04 (k = 3) and 2024-07 (k = 6). ``old_in_february``
    more old customers are first seen in 2024-02. Signups: None (no customers table), "old"
    (old customers signed up in 2022, new ones on their first order's day), "new" (everyone
    on their first order's day: the data begin with the business), "sparse" (10% known).
    """
    rows: list[tuple[Any, ...]] = []
    signup: dict[str, str] = {}

    def buy(customer: str, ts: str) -> None:
        rows.append((f"O{len(rows)}", customer, ts, 50.0, 50.0, 0.0, "purchase"))

    for m, month in enumerate(MONTHS):
        for i in range(NEW_PER_COHORT):
            customer = f"N{m:02d}-{i:03d}"
            first = f"{month.year}-{month.month:02d}-{2 + i % 25:02d} 10:00"
            buy(customer, first)
            signup[customer] = first
            if i < BACK_AT_3[m % 5] and m + 3 < len(MONTHS):
                later = MONTHS[m + 3]
                buy(customer, f"{later.year}-{later.month:02d}-15 10:00")
            if BACK_AT_3[m % 5] <= i < BACK_AT_3[m % 5] + BACK_AT_6[m % 5] and m + 6 < len(MONTHS):
                later = MONTHS[m + 6]
                buy(customer, f"{later.year}-{later.month:02d}-15 10:00")
    for i in range(OLD_CUSTOMERS + old_in_february):
        customer = f"OLD-{i:03d}"
        month = "2024-01" if i < OLD_CUSTOMERS else "2024-02"
        day = 1 + i % 20
        buy(customer, f"{month}-{day:02d} {'00:00' if i == 0 else '09:00'}")
        buy(customer, f"{month}-{day + 3:02d} 09:00")  # day 3: within bracket 1-7
        signup[customer] = "2022-06-01 12:00" if signups == "old" else f"{month}-{day:02d} 08:00"
        if i < old_back:
            buy(customer, "2024-04-20 09:00")
            buy(customer, "2024-07-20 09:00")
    transactions = contract_transactions(rows)
    if signups is None:
        return transactions, None
    ids = sorted(signup)
    known = [signup[c] if signups != "sparse" or n % 10 == 0 else None for n, c in enumerate(ids)]
    customers = pd.DataFrame(
        {
            "customer_id": pd.array(ids, dtype="str"),
            "signup_ts": pd.to_datetime(pd.Series(known)).astype("datetime64[us]"),
            "acquisition_channel": pd.array(["web"] * len(ids), dtype="str"),
        }
    )
    return transactions, customers


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as con:
        yield con


def _register(engine: Engine, transactions: pd.DataFrame, customers: pd.DataFrame | None) -> None:
    engine.register("transactions", transactions)
    if customers is not None:
        engine.register("customers", customers)


def _retention(engine: Engine, first_cohort: str = "auto") -> pd.DataFrame:
    return C.cohort_retention(
        engine, as_of_date=AS_OF, dimensions=(), min_cell_size=1, first_cohort=first_cohort
    )


# -- planted truth: a block of pre-existing customers in the first cohort --------------------
@pytest.mark.parametrize(
    ("old_back", "naive_direction"),
    [(120, "worse"), (2, "better")],
    ids=["old-customers-retain-better", "old-customers-retain-worse"],
)
def test_trend_leaves_out_the_customers_present_at_the_start(
    engine: Engine, old_back: int, naive_direction: str
) -> None:
    _register(engine, *_planted(old_back=old_back))
    start = C.data_start(engine, as_of_date=AS_OF)
    assert start.data_start == D(2024, 1, 1)
    assert start.flagged == (D(2024, 1, 1),) and start.reason == "no_evidence"
    assert start.first_size == OLD_CUSTOMERS + NEW_PER_COHORT
    # size signal, by hand: 300 customers in 31 days of January vs the median of the next six
    # months' 100 customers per 29, 31, 30, 31, 30, 31 days
    per_day = sorted(NEW_PER_COHORT / days for days in (29, 31, 30, 31, 30, 31))
    assert start.size_ratio == pytest.approx(300 / 31 / ((per_day[2] + per_day[3]) / 2), rel=1e-9)

    tidy = _retention(engine)
    flagged = tidy.loc[tidy["present_at_start"], "cohort_label"].unique().tolist()
    assert flagged == [FIRST]
    assert not tidy.loc[tidy["cohort_start"] > D(2024, 1, 1), "present_at_start"].any()
    trends = C.cohort_trends(tidy, k=(3, 6))
    # k = 3 is observed for cohorts 2024-01 .. 2025-03 (15), k = 6 for 2024-01 .. 2024-12 (12);
    # the first is left out
    assert trends["n_cohorts"].tolist() == [14, 11]
    assert (trends["left_out"] == FIRST).all()
    # planted: new cohorts have no trend, so every interval covers 0
    assert ((trends["pp_ci_lower"] < 0) & (trends["pp_ci_upper"] > 0)).all()
    text = C.describe_trends(trends)
    assert text.startswith("**No measurable trend:**")
    assert f"*Left out:* **{FIRST}**" in text and "not an acquisition cohort" in text
    assert "measurably" not in text

    # the same data read as if they began with the business: the old block drags the first
    # cohort, and the trend test reads it as newer cohorts retaining worse (or better)
    naive = C.cohort_trends(_retention(engine, "new_customers"), k=(3,))
    assert naive["n_cohorts"].iloc[0] == 15 and naive["left_out"].iloc[0] == ""
    assert (naive["pp_per_year"].iloc[0] < 0) == (naive_direction == "worse")
    assert f"**Newer cohorts retain measurably {naive_direction}**" in C.describe_trends(naive)


def test_page_sentences_say_what_is_left_out(engine: Engine) -> None:
    _register(engine, *_planted(old_back=120))
    start = C.data_start(engine, as_of_date=AS_OF)
    text = C.describe_data_start(start)
    assert text.startswith("**The first cohort is the customers present at the start.**")
    assert "The data begin on 2024-01-01" in text and f"**{FIRST}**" in text
    assert "300 customers are 3.0 times as many per day as in the next 6 cohorts" in text
    assert "`cohorts.first_cohort: new_customers`" in text  # the way out when the shop is new
    tidy = _retention(engine)
    retention_text = C.describe_cohort_retention(tidy, k=(3,))
    assert (
        retention_text.startswith("Over 17 acquisition cohorts") and "*Left out:*" in retention_text
    )
    # the heatmap's rows carry the label
    assert C.display_matrix(tidy).index[0] == FIRST
    # "recent vs before": 2024-01 .. 2024-12 reached k = 6; the latest 6 are 2024-07 .. 2024-12
    # and the ones before them 2024-02 .. 2024-06, not the first cohort
    recent = C.describe_cohort_retention(tidy, k=(6,))
    assert "(2024-07 to 2024-12)" in recent and "for 2024-02 to 2024-06" in recent


def test_pooled_figures_leave_out_the_customers_present_at_the_start(engine: Engine) -> None:
    _register(engine, *_planted(old_back=120))
    brackets = C.bracket_retention(
        engine, as_of_date=AS_OF, brackets=[(1, 7)], dimensions=(), min_cell_size=1
    )
    assert brackets.loc[brackets["cohort_start"] == D(2024, 1, 1), "present_at_start"].all()
    # only old customers bought again within a week (day 3): without them, 0%; with them
    # (the naive reading), 200 of the 18 x 100 + 200 customers whose week has elapsed
    assert C.bracket_table(brackets, min_cell_size=1).loc["all", "days 1\u20137"] == "0.0%"
    naive = C.bracket_retention(
        engine,
        as_of_date=AS_OF,
        brackets=[(1, 7)],
        dimensions=(),
        min_cell_size=1,
        first_cohort="new_customers",
    )
    overall = naive[naive["dimension"] == "all"]
    assert overall["customers"].sum() == OLD_CUSTOMERS
    share = OLD_CUSTOMERS / overall["cohort_size"].sum()
    assert C.bracket_table(naive, min_cell_size=1).loc["all", "days 1\u20137"] == f"{share:.1%}"
    # definitions table, pooled over cohorts at k = 3: new cohorts only
    tidy = _retention(engine)
    on = tidy[
        (tidy["definition"] == "on") & (tidy["periods_since"] == 3) & ~tidy["present_at_start"]
    ]
    expected = on["customers"].sum() / on["cohort_size"].sum()
    assert C.definition_table(tidy, k=(3,)).loc["active in month k", "month 3"] == f"{expected:.1%}"


# -- evidence: signup dates, params ------------------------------------------------------------
def test_signup_dates_before_the_data_confirm_it(engine: Engine) -> None:
    _register(engine, *_planted(old_back=120, signups="old"))
    start = C.data_start(engine, as_of_date=AS_OF)
    assert start.present_at_start and start.reason == "signups"
    # 200 of the 300 signed up in 2022; new customers sign up on their first order's day
    assert start.signup_known == 1.0
    assert start.signed_up_before == pytest.approx(200 / 300)
    assert start.signed_up_before_next == 0.0
    assert "Signup dates confirm it: 66.7% of its customers" in C.describe_data_start(start)


def test_signup_dates_show_a_real_first_cohort(engine: Engine) -> None:
    # everyone signed up on their first order's day: the data begin with the business, and the
    # large first cohort is a launch, not left-censoring
    _register(engine, *_planted(old_back=120, signups="new"))
    start = C.data_start(engine, as_of_date=AS_OF)
    assert not start.present_at_start and start.reason == "signups"
    assert start.signed_up_before == 0.0
    tidy = _retention(engine)
    assert not tidy["present_at_start"].any()
    assert C.display_matrix(tidy).index[0] == "2024-01"
    text = C.describe_data_start(start)
    assert "The first cohort, 2024-01, is read as an acquisition cohort like the others" in text
    assert "(a large first cohort, e.g. a launch)" in text


def test_too_few_signup_dates_are_no_evidence(engine: Engine) -> None:
    _register(engine, *_planted(old_back=120, signups="sparse"))
    start = C.data_start(engine, as_of_date=AS_OF)
    assert start.present_at_start and start.reason == "no_evidence"
    assert start.signup_known == pytest.approx(0.1, abs=0.02)


@pytest.mark.parametrize(
    ("signups", "first_cohort", "present"),
    [("old", "new_customers", False), ("new", "present_at_start", True)],
    ids=["declared-new", "declared-present"],
)
def test_params_override_the_evidence(
    engine: Engine, signups: str, first_cohort: str, present: bool
) -> None:
    _register(engine, *_planted(old_back=120, signups=signups))
    start = C.data_start(engine, as_of_date=AS_OF, first_cohort=first_cohort)
    assert start.present_at_start is present and start.reason == "params"
    assert f"`cohorts.first_cohort: {first_cohort}`" in C.describe_data_start(start)
    assert bool(_retention(engine, first_cohort)["present_at_start"].any()) is present


def test_second_cohort_caveat(engine: Engine) -> None:
    # 60 more old customers are first seen in February: by size (160 in 29 days vs 100 a
    # month after it) and by signups (60 of 160 signed up before the data) it holds some too
    _register(engine, *_planted(old_back=120, old_in_february=60))
    start = C.data_start(engine, as_of_date=AS_OF)
    assert start.second_label == "2024-02" and start.second_size_ratio is not None
    assert start.second_size_ratio > 1.5
    assert "The next cohort, 2024-02, likely holds some such customers too" in start.describe()
    with Engine(threads=1) as other:
        _register(other, *_planted(old_back=120, old_in_february=60, signups="old"))
        start = C.data_start(other, as_of_date=AS_OF)
        assert start.second_signed_up_before_data == pytest.approx(60 / 160)
        assert "37.5% of its customers with a signup date signed up before" in start.describe()
    with Engine(threads=1) as other:
        _register(other, *_planted(old_back=120))  # February holds only new customers
        assert C.data_start(other, as_of_date=AS_OF).second_label is None


def test_signup_basis_flags_cohorts_signed_up_before_the_data(engine: Engine) -> None:
    transactions, customers = _planted(old_back=120, signups="old")
    assert customers is not None
    _register(engine, transactions, customers)
    start = C.data_start(engine, as_of_date=AS_OF, cohort_basis="signup")
    # old customers signed up in 2022-06: that cohort is the customers present at the start;
    # 2024-01's customers signed up on or after the data's first day
    assert start.flagged == (D(2022, 6, 1),) and start.flagged_customers == OLD_CUSTOMERS
    assert start.flagged_labels() == ["2022-06 (present at start)"]
    tidy = C.cohort_retention(
        engine, as_of_date=AS_OF, dimensions=(), min_cell_size=1, cohort_basis="signup"
    )
    june = tidy[tidy["cohort_start"] == D(2022, 6, 1)]
    # 2022-06 .. 2023-12 (19 months) are before the data: not observed, blank in the matrix
    assert june.loc[~june["observed"], "periods_since"].max() == 18
    assert june.loc[june["observed"], "periods_since"].min() == 19
    row = C.cohort_matrix(tidy).loc["2022-06 (present at start)"]
    assert row.iloc[:19].isna().all() and row.iloc[19] == 1.0
    trends = C.cohort_trends(tidy, k=(3,))
    assert trends["left_out"].iloc[0] == "2022-06 (present at start)"
    text = C.describe_data_start(start)
    assert text.startswith("**Cohorts that signed up before the data begin")
    assert "Their months before the data begin are blank" in text


# -- the committed sample and bad input --------------------------------------------------------
def test_sample_first_cohort_is_a_real_cohort(sample_ingested: tuple[Any, Any]) -> None:
    params, run = sample_ingested
    with Engine(threads=1) as engine:
        run.register(engine, "transactions", "customers")
        start = C.data_start(engine, as_of_date=params.as_of_date)
        # data/sample begins at the business's start (synth start 2023-01-01), and no customer
        # of the first cohort signed up before it: an acquisition cohort like the others
        assert start.data_start == D(2023, 1, 1)
        assert not start.present_at_start and start.reason == "signups"
        assert start.signed_up_before == 0.0
        assert start.size_ratio == pytest.approx(1.0, abs=0.2)  # not larger than the next
        tidy = C.cohort_retention(engine, as_of_date=params.as_of_date, dimensions=())
        assert not tidy["present_at_start"].any()
        # every cohort that reached k = 3 is in the trend: 2023-01 .. 2025-09
        assert C.cohort_trends(tidy, k=(3,))["n_cohorts"].iloc[0] == 33
    with Engine(threads=1) as engine:
        # the same transactions without a customers table: nothing shows the data begin with
        # the business, so the first cohort is flagged, and the page says its size is normal
        run.register(engine, "transactions")
        start = C.data_start(engine, as_of_date=params.as_of_date)
        assert start.present_at_start and start.reason == "no_evidence"
        assert "not larger, which would also fit data that begin with the business" in (
            start.describe()
        )


def test_metrics_carry_the_data_start(engine: Engine) -> None:
    _register(engine, *_planted(old_back=120))
    start = C.data_start(engine, as_of_date=AS_OF)
    tidy = _retention(engine)
    metrics = C.cohort_metrics(
        tidy,
        trends=C.cohort_trends(tidy, k=(3,)),
        lifecycle=None,
        rates=None,
        data_start=start,
    )
    found = json.loads(json.dumps(metrics, allow_nan=False))["data_start"]
    assert found["data_start"] == "2024-01-01" and found["present_at_start"] is True
    assert found["cohorts_left_out"] == [FIRST] and found["customers_left_out"] == 300
    assert metrics["cohorts"]["first"] == FIRST


def test_unknown_first_cohort_rule_names_the_key(engine: Engine, tmp_path: Path) -> None:
    _register(engine, *_planted(old_back=0))
    with pytest.raises(ValueError, match="cohorts.first_cohort"):
        C.data_start(engine, as_of_date=AS_OF, first_cohort="maybe")
    with pytest.raises(ValueError, match="cohorts.first_cohort"):
        _retention(engine, "maybe")
    text = DEFAULT_PARAMS.read_text(encoding="utf-8")
    assert text.count("first_cohort: auto") == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("first_cohort: auto", "first_cohort: maybe"), encoding="utf-8")
    with pytest.raises(ConfigError, match="cohorts.first_cohort"):
        load_params(bad)


def test_no_transactions_up_to_as_of(engine: Engine) -> None:
    _register(engine, *_planted(old_back=0))
    start = C.data_start(engine, as_of_date="2023-06-30")
    assert start.data_start is None and not start.present_at_start
    assert C.describe_data_start(start) == "There are no cohorts up to `as_of_date`."
    assert C.describe_data_start(None).startswith("*Section skipped:*")


def test_a_small_first_cohort_is_described_without_its_count() -> None:
    # the 300-customer shop: 4 customers in the first cohort, one of whom signed up before
    first = D(2023, 1, 1)
    start = DataStart(
        D(2023, 1, 6), "month", "first_order", "auto", reason="signups", flagged=(first,),
        first_start=first, first_label="2023-01", first_size=4, flagged_customers=4,
        size_ratio=0.9, next_cohorts=6, signup_known=1.0, signed_up_before=0.25,
        signed_up_before_next=0.0, first_with_signup=4, next_with_signup=48,
    )  # fmt: skip
    text = C.describe_data_start(start)
    assert "It holds fewer than 10 customers, 0.9 times as many per day" in text
    assert (
        "Signup dates confirm it: \u2013 of its customers with a signup date (\u2013 of them"
        in text
    )
    assert "against 0.0% of the next cohorts' customers" in text  # 48 customers: shown
    assert "(\u2013: a share of fewer than 10 customers, not shown.)" in text
    assert "25.0%" not in text and "4 customers" not in text
    assert small_counts_in_html(f"<p>{text}</p>") == []
    # at a limit of 4 the cohort may be described
    loose = C.describe_data_start(start, min_cell_size=4)
    assert "Its 4 customers are 0.9 times" in loose and "25.0% of its customers" in loose
