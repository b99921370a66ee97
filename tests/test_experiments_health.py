"""Tests of experiment health: SRM per experiment and segment, covariate balance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlib.errors import DataContractError
from crmlib.experiments.models.health import covariate_balance, srm_table


def _table() -> pd.DataFrame:
    # experiment "e": 500/500 overall, but segment "mobile" is 300 control / 200 treatment and
    # segment "web" 200 / 300: each segment is mismatched, the total is not
    variant = ["control"] * 300 + ["treatment"] * 200 + ["control"] * 200 + ["treatment"] * 300
    segment = ["mobile"] * 500 + ["web"] * 500
    return pd.DataFrame({"experiment_id": "e", "variant": variant, "device": segment})


def test_srm_overall_and_within_segments_equal_scipy() -> None:
    table = srm_table(_table(), segment_cols=["device"])
    overall = table[table["segment_col"].isna()].iloc[0]
    assert (overall["n"], overall["srm"]) == (1000, False)
    assert overall["p_value"] == pytest.approx(1.0)
    mobile = table[table["segment"] == "mobile"].iloc[0]
    # scipy's chi-square goodness of fit against equal shares, computed independently
    expected = stats.chisquare([300, 200])
    assert mobile["chi2"] == pytest.approx(expected.statistic, rel=1e-12)
    assert mobile["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert mobile["srm"] and mobile["counts"] == {"control": 300, "treatment": 200}
    assert table["srm"].sum() == 2


def test_balance_by_hand_and_under_randomization() -> None:
    table = pd.DataFrame(
        {"experiment_id": "e", "variant": ["control"] * 3 + ["b"] * 3,
         "pre_orders": [1.0, 2.0, 3.0, 2.0, 3.0, 4.0]}
    )  # fmt: skip
    row = covariate_balance(table, covariates=["pre_orders"]).iloc[0]
    # means 3 vs 2, both sample variances 1: smd = 1 / sqrt((1 + 1) / 2) = 1
    assert (row["mean"], row["control_mean"], row["smd"], row["imbalanced"]) == (
        3.0,
        2.0,
        1.0,
        True,
    )
    rng = np.random.default_rng(7)
    n = 4000
    randomized = pd.DataFrame(
        {"experiment_id": "e", "variant": rng.permutation(["control", "b"] * n),
         "pre_spend": rng.gamma(2.0, 50.0, 2 * n)}
    )  # fmt: skip
    smd = covariate_balance(randomized, covariates=["pre_spend"])["smd"].iloc[0]
    assert abs(smd) < 4 * np.sqrt(2 / n)  # sd of the SMD under randomization is about sqrt(2/n)


def test_missing_columns_are_named() -> None:
    with pytest.raises(DataContractError, match="pre_spend"):
        covariate_balance(_table(), covariates=["pre_spend"])
    with pytest.raises(DataContractError, match="region"):
        srm_table(_table(), segment_cols=["region"])
