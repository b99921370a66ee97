"""Tests of lifecycle accounting: hand-counted states and flows, identities on the sample, plots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from contract_tables import purchase_transactions

from crmlib import kpis as K
from crmlib.cohorts.plots import plot_growth_accounting, plot_transition_matrix
from crmlib.cohorts.queries.lifecycle import (
    LIFECYCLE_COLUMNS,
    TRANSITION_FROM_STATES,
    TRANSITION_TO_STATES,
    lifecycle,
    transition_matrix,
)
from crmlib.engine import Engine
from crmlib.errors import DataContractError, StageInputMissing

ROOT = Path(__file__).resolve().parents[1]
D = dt.date
NAN = float("nan")


def _transactions(rows: list[tuple[str, str, str, float, bool]]) -> pd.DataFrame:
    """:func:`purchase_transactions` with the amount columns the purchase facts are built from
    (``crmlib.facts``): a negative amount is a refund."""
    frame = purchase_transactions(rows)
    return frame.assign(
        gross_amount=frame["amount"].clip(lower=0.0), refund_amount=frame["amount"].clip(upper=0.0)
    )


# A: Jan, Feb, May. B: Jan, Mar. C: a cancelled order in Jan (net 0, not a purchase), a
# purchase in Feb. D: Apr. E: only a return row (never active). F: a purchase after as_of.
TINY = _transactions(
    [
        ("O1", "A", "2025-01-03 10:00", 10.0, True),
        ("O2", "B", "2025-01-20 10:00", 20.0, True),
        ("O3", "C", "2025-01-25 10:00", 0.0, False),
        ("O4", "A", "2025-02-01 00:00", 15.0, True),
        ("O5", "A", "2025-02-14 00:00", 15.0, True),
        ("O6", "C", "2025-02-28 23:59", 30.0, True),
        ("O7", "B", "2025-03-10 10:00", 25.0, True),
        ("R1", "E", "2025-03-11 10:00", -5.0, False),
        ("O8", "D", "2025-04-30 10:00", 40.0, True),
        ("O9", "A", "2025-05-31 23:00", 50.0, True),
        ("O10", "F", "2025-06-01 09:00", 60.0, True),
    ]
)
TINY_AS_OF = "2025-05-31"

# fmt: off
EXPECTED = pd.DataFrame(
    [
        # new current resurrected dormant active active_prev net quick lost acquired
        # Jan: A, B new
        ("2025-01", 2, 0, 0, 0, 2, 0, 2, NAN, 0, 2),
        # Feb: A current, C new, B dormant
        ("2025-02", 1, 1, 0, 1, 2, 2, 0, 1.0, 0, 3),
        # Mar: B resurrected (from dormant); A and C dormant
        ("2025-03", 0, 0, 1, 2, 1, 2, -1, 0.5, 0, 3),
        # Apr: D new; B dormant; A, C lost (inactive in Mar and Apr)
        ("2025-04", 1, 0, 0, 1, 1, 1, 0, 1.0, 2, 4),
        # May: A resurrected (from lost); D dormant; B, C lost. F's June order is after as_of
        ("2025-05", 0, 0, 1, 1, 1, 1, 0, 1.0, 2, 4),
    ],
    columns=["period_label", "new", "current", "resurrected", "dormant", "active",
             "active_previous", "net_change", "quick_ratio", "lost", "acquired"],
)
# Flows counted at t (Feb..May), summed:
#   new -> current: A (Feb); new -> dormant: B (Feb), C (Mar), D (May)
#   current -> dormant: A (Mar); resurrected -> dormant: B (Apr)
#   dormant -> resurrected: B (Mar); dormant -> lost: A, C (Apr), B (May)
#   lost -> resurrected: A (May); lost -> lost: C (May)
EXPECTED_MATRIX = pd.DataFrame(
    [[1, 0, 3, 0], [0, 0, 1, 0], [0, 0, 1, 0], [0, 1, 0, 3], [0, 1, 0, 1]],
    index=pd.Index(TRANSITION_FROM_STATES, name="from_state"),
    columns=pd.Index(TRANSITION_TO_STATES, name="to_state"),
    dtype="int64",
)
# fmt: on


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", TINY)
        yield eng


def test_lifecycle_hand_counted(engine: Engine) -> None:
    result = lifecycle(engine, as_of_date=TINY_AS_OF)
    assert list(result.columns) == list(LIFECYCLE_COLUMNS)
    assert result["period_start"].tolist() == [dt.date(2025, m, 1) for m in range(1, 6)]
    assert result["is_complete"].all()
    pd.testing.assert_frame_equal(
        result[list(EXPECTED.columns)], EXPECTED, check_dtype=False, check_exact=False
    )


def test_weekly_same_day_orders_and_a_refund_only_week() -> None:
    # P: two orders on Mon 2024-02-26 and one on the leap day (one ISO week), a refund only in
    # the week of 2024-03-04 (not activity: dormant), a purchase in the week of 2024-03-11
    orders = _transactions(
        [
            ("O1", "P", "2024-02-26 09:00", 10.0, True),
            ("O2", "P", "2024-02-26 18:00", 10.0, True),
            ("O3", "P", "2024-02-29 12:00", 10.0, True),
            ("R1", "P", "2024-03-05 12:00", -10.0, False),
            ("O4", "P", "2024-03-11 12:00", 10.0, True),
        ]
    )
    with Engine(threads=1) as eng:
        eng.register("transactions", orders)
        result = lifecycle(eng, as_of_date="2024-03-17", period="week")
    assert result["period_start"].tolist() == [D(2024, 2, 26), D(2024, 3, 4), D(2024, 3, 11)]
    assert result["new"].tolist() == [1, 0, 0]
    assert result["dormant"].tolist() == [0, 1, 0]
    assert result["resurrected"].tolist() == [0, 0, 1]
    assert result["active"].tolist() == [1, 0, 1]
    _assert_identities(result)


def test_lifecycle_identities_and_partial_period(engine: Engine) -> None:
    result = lifecycle(engine, as_of_date="2025-05-15")  # A's May order is after as_of
    assert result["is_complete"].tolist() == [True] * 4 + [False]
    last = result.iloc[-1]
    assert (last["active"], last["dormant"], last["lost"]) == (0, 1, 3)  # D dormant; A, B, C lost
    _assert_identities(result)


def test_transition_matrix_summed_and_one_period(engine: Engine) -> None:
    matrix = transition_matrix(engine, as_of_date=TINY_AS_OF)
    pd.testing.assert_frame_equal(matrix, EXPECTED_MATRIX)
    # rows sum to the t-1 state counts over the pairs (Jan..Apr as t-1)
    states = lifecycle(engine, as_of_date=TINY_AS_OF).iloc[:-1]
    for state in TRANSITION_FROM_STATES:
        assert matrix.loc[state].sum() == states[state].sum(), state
    april = transition_matrix(engine, as_of_date=TINY_AS_OF, from_period="2025-03")
    assert april.loc["resurrected", "dormant"] == 1
    assert april.loc["dormant", "lost"] == 2
    assert int(april.to_numpy().sum()) == 3
    same = transition_matrix(engine, as_of_date=TINY_AS_OF, from_period="2025-03-17")
    pd.testing.assert_frame_equal(same, april)


def test_transition_matrix_skips_incomplete_period(engine: Engine) -> None:
    # as_of mid-May: May is partial, so only t = Feb, Mar, Apr count
    matrix = transition_matrix(engine, as_of_date="2025-05-15")
    assert matrix.loc["lost", "resurrected"] == 0
    assert matrix.loc["new", "dormant"] == 2
    with pytest.raises(ValueError, match="from_period"):
        transition_matrix(engine, as_of_date="2025-05-15", from_period="2025-04")
    with pytest.raises(ValueError, match="from_period"):
        transition_matrix(engine, as_of_date=TINY_AS_OF, from_period="2024-06")


def test_lifecycle_bad_inputs() -> None:
    with Engine(threads=1) as eng:
        with pytest.raises(StageInputMissing, match="transactions"):
            lifecycle(eng, as_of_date=TINY_AS_OF)
        eng.register("transactions", TINY.drop(columns="is_purchase"))
        with pytest.raises(DataContractError, match="is_purchase"):
            lifecycle(eng, as_of_date=TINY_AS_OF)
    with Engine(threads=1) as eng:
        eng.register("transactions", TINY)
        with pytest.raises(ValueError, match="period"):
            lifecycle(eng, as_of_date=TINY_AS_OF, period="day")
        empty = lifecycle(eng, as_of_date="2024-12-31")
        assert empty.empty and list(empty.columns) == list(LIFECYCLE_COLUMNS)


def _assert_identities(result: pd.DataFrame) -> None:
    np.testing.assert_array_equal(
        result["active"], result["new"] + result["current"] + result["resurrected"]
    )
    np.testing.assert_array_equal(
        result["active"].shift(1, fill_value=0), result["current"] + result["dormant"]
    )
    np.testing.assert_array_equal(result["active_previous"], result["current"] + result["dormant"])
    np.testing.assert_array_equal(
        result["net_change"], result["new"] + result["resurrected"] - result["dormant"]
    )
    np.testing.assert_array_equal(
        result["net_change"], result["active"] - result["active_previous"]
    )
    np.testing.assert_array_equal(
        result["acquired"], result["active"] + result["dormant"] + result["lost"]
    )
    ratio = (result["new"] + result["resurrected"]) / result["dormant"].where(result["dormant"] > 0)
    np.testing.assert_allclose(result["quick_ratio"], ratio)


# -- the real sample ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    """01_ingest on params/default.yaml into a temporary run folder: (engine, as_of_date)."""
    from crmlib.config import load_params
    from crmlib.ingest import run_ingest
    from crmlib.io import RunFolder

    params_file = ROOT / "params" / "default.yaml"
    if not (ROOT / "data" / "sample" / "transactions.csv.gz").is_file():
        pytest.fail("data/sample is missing: regenerate it with `python -m crmlib.synth`")
    run = RunFolder(tmp_path_factory.mktemp("lifecycle") / "sample")
    params = load_params(params_file)
    run_ingest(params, run)
    with Engine(threads=2) as eng:
        run.register(eng, "transactions")
        yield eng, str(params.as_of_date)


@pytest.mark.parametrize("period", ["week", "month", "quarter"], ids=["week", "month", "quarter"])
def test_identities_on_sample(sample_engine: tuple[Engine, str], period: str) -> None:
    engine, as_of = sample_engine
    result = lifecycle(engine, as_of_date=as_of, period=period)
    assert len(result) > 3 and result["active"].sum() > 0
    _assert_identities(result)
    # the states agree with the KPI stage's classification of active customers
    kpis = K.kpis_by_period(engine, as_of_date=as_of, period=period)
    np.testing.assert_array_equal(result["new"], kpis["new_customers"])
    np.testing.assert_array_equal(result["current"], kpis["returning_customers"])
    np.testing.assert_array_equal(result["resurrected"], kpis["reactivated_customers"])
    matrix = transition_matrix(engine, as_of_date=as_of, period=period)
    pairs = result[result["is_complete"]].index
    pairs = pairs[pairs > 0]
    for state in TRANSITION_FROM_STATES:
        assert matrix.loc[state].sum() == result.loc[pairs - 1, state].sum(), state


def test_plots(engine: Engine) -> None:
    result = lifecycle(engine, as_of_date="2025-05-15")
    fig, (left, right) = plt.subplots(1, 2)
    ax = plot_growth_accounting(result, ax=left)
    assert ax is left
    assert ax.get_title() and ax.get_xlabel() == "Period" and ax.get_ylabel() == "Customers"
    ax = plot_transition_matrix(transition_matrix(engine, as_of_date=TINY_AS_OF), ax=right)
    assert ax is right and ax.get_title()
    assert ax.get_xlabel() == "State in period t" and ax.get_ylabel() == "State in period t-1"
    plt.close(fig)
