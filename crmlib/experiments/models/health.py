"""Experiment health before effects: sample-ratio mismatch per experiment and segment, balance.

A failed health check means the randomization or the data pipeline is broken, so the effects of
that experiment cannot be read causally; the report says that first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS

__all__ = [
    "srm_test",
    "BALANCE_THRESHOLD",
    "SRM_COLUMNS",
    "BALANCE_COLUMNS",
    "covariate_balance",
    "srm_table",
]

log = logging.getLogger(__name__)


SRM_ALPHA = 0.001


def srm_test(
    counts: Mapping[str, int] | Sequence[int],
    expected_shares: Mapping[str, float] | Sequence[float] | None = None,
) -> dict[str, Any]:
    """Sample-ratio-mismatch check: chi-square goodness of fit of the arm sizes.

    Parameters
    ----------
    counts : mapping or sequence of int
        Customers per arm (``{"control": 5012, "email": 4988}`` or ``[5012, 4988]``).
    expected_shares : mapping or sequence of float, optional
        Planned allocation, same keys or order as ``counts``; rescaled to sum to 1.
        Default: equal shares.

    Returns
    -------
    dict
        ``chi2``, ``df``, ``p_value``, ``srm`` (True when ``p_value < 0.001``, the usual
        threshold that keeps false alarms rare), ``observed`` and ``expected`` counts.

    Examples
    --------
    >>> result = srm_test({"control": 5000, "email": 5100})
    >>> result["srm"], round(result["p_value"], 3)
    (False, 0.32)
    >>> srm_test([1000, 1300])["srm"]
    True
    """
    if isinstance(counts, Mapping):
        names = [str(name) for name in counts]
        observed = np.array([counts[name] for name in counts], dtype=np.float64)
    else:
        names = [str(position) for position in range(len(counts))]
        observed = np.asarray(counts, dtype=np.float64)
    if len(observed) < 2 or np.any(observed < 0) or observed.sum() <= 0:
        raise ValueError(f"counts={list(observed)}: expected >= 2 non-negative arm sizes")
    if expected_shares is None:
        shares = np.full(len(observed), 1.0 / len(observed))
    elif isinstance(expected_shares, Mapping):
        if isinstance(counts, Mapping) and set(expected_shares) == set(counts):
            shares = np.array([expected_shares[name] for name in counts], dtype=np.float64)
        else:
            raise ValueError(
                f"expected_shares keys {sorted(expected_shares)}: expected the arms of counts "
                f"{names}"
            )
    else:
        shares = np.asarray(expected_shares, dtype=np.float64)
    if len(shares) != len(observed) or np.any(shares <= 0):
        raise ValueError(
            f"expected_shares={list(shares)}: expected {len(observed)} positive shares"
        )
    expected = observed.sum() * shares / shares.sum()
    chi2, p_value = stats.chisquare(observed, expected)
    srm = bool(p_value < SRM_ALPHA)
    if srm:
        log.warning("sample ratio mismatch: observed %s, expected %s", observed, expected)
    return {
        "chi2": float(chi2),
        "df": len(observed) - 1,
        "p_value": float(p_value),
        "srm": srm,
        "observed": dict(zip(names, observed.astype(int).tolist(), strict=True)),
        "expected": dict(zip(names, expected.tolist(), strict=True)),
    }


#: Absolute standardized mean difference above which a covariate is called imbalanced (the
#: usual rule of thumb, Austin 2009).
BALANCE_THRESHOLD = 0.1


#: Columns of :func:`srm_table`, in order.
SRM_COLUMNS: tuple[str, ...] = (
    "experiment_id", "segment_col", "segment", "n", "counts", "chi2", "p_value", "srm",
)  # fmt: skip


#: Columns of :func:`covariate_balance`, in order.
BALANCE_COLUMNS: tuple[str, ...] = (
    "experiment_id", "variant", "covariate", "mean", "control_mean", "smd", "imbalanced",
)  # fmt: skip


def srm_table(
    outcomes: pd.DataFrame,
    *,
    variant_col: str = "variant",
    experiment_col: str = "experiment_id",
    segment_cols: Sequence[str] = (),
    srm_alpha: float = DEFAULTS.ab_test.srm_alpha,
) -> pd.DataFrame:
    """Sample-ratio mismatch test per experiment (and within each segment), equal shares expected.

    Transforms one row per assigned customer into one row per experiment (× segment): *experiment_id,
    segment_col, segment, n, counts* (a dict: variant -> customers, sorted by variant; exact, for
    the analysis; a page shows them through :func:`crmlib.experiments.describe_health`), *chi2,
    p_value, srm* (p < ``srm_alpha``). Segment rows test the same split inside the segment; the overall rows
    come first with segment_col and segment empty.

    Examples
    --------
    >>> table = pd.DataFrame({"experiment_id": "e", "variant": ["control"] * 50 + ["b"] * 50})
    >>> srm_table(table)[["experiment_id", "n", "srm"]].to_dict("records")
    [{'experiment_id': 'e', 'n': 100, 'srm': False}]
    """
    require_columns(outcomes, [experiment_col, variant_col, *segment_cols], table_name="outcomes")
    rows: list[dict[str, object]] = []
    for segment_col in (None, *segment_cols):
        keys = [experiment_col] if segment_col is None else [experiment_col, segment_col]
        counts = outcomes.groupby([*keys, variant_col], observed=True).size().unstack(fill_value=0)
        for key, row in counts.iterrows():
            observed = {str(k): int(v) for k, v in row.items() if v > 0}
            key_tuple = key if isinstance(key, tuple) else (key,)
            test = (
                srm_test(observed)
                if len(observed) > 1
                else {"chi2": np.nan, "p_value": np.nan, "srm": False}
            )
            rows.append(
                {
                    "experiment_id": str(key_tuple[0]),
                    "segment_col": segment_col,
                    "segment": None if segment_col is None else str(key_tuple[1]),
                    "n": int(sum(observed.values())),
                    "counts": dict(sorted(observed.items())),
                    "chi2": float(test["chi2"]),
                    "p_value": float(test["p_value"]),
                    "srm": bool(float(test["p_value"]) < srm_alpha)
                    if np.isfinite(test["p_value"])
                    else False,
                }
            )
    return pd.DataFrame(rows, columns=list(SRM_COLUMNS))


def covariate_balance(
    outcomes: pd.DataFrame,
    *,
    covariates: Sequence[str],
    control: str = DEFAULTS.ab_test.control,
    variant_col: str = "variant",
    experiment_col: str = "experiment_id",
) -> pd.DataFrame:
    """Standardized mean difference of each pre-period covariate, each variant against control.

    One row per experiment × variant × covariate: *mean, control_mean, smd* =
    (mean − control mean) / sqrt((var + control var) / 2) (0 when both variances are 0) and
    *imbalanced* (|smd| > :data:`BALANCE_THRESHOLD`). Randomization makes the expected SMD 0;
    with n customers per arm its sd is about sqrt(2 / n).

    References
    ----------
    .. [1] Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline
       covariates between treatment groups. Statistics in Medicine 28(25), 3083-3107.

    Examples
    --------
    >>> table = pd.DataFrame({"experiment_id": "e", "variant": ["control", "control", "b", "b"],
    ...                       "pre_spend": [1.0, 3.0, 2.0, 4.0]})
    >>> covariate_balance(table, covariates=["pre_spend"])["smd"].round(3).tolist()
    [0.707]
    """
    require_columns(outcomes, [experiment_col, variant_col, *covariates], table_name="outcomes")
    stats = outcomes.groupby([experiment_col, variant_col], observed=True)[list(covariates)].agg(
        ["mean", "var"]
    )
    rows: list[dict[str, object]] = []
    for experiment, per_variant in stats.groupby(level=0):
        variants = per_variant.index.get_level_values(1)
        if control not in variants:
            continue
        base = per_variant.xs(control, level=1).iloc[0]
        for variant in (v for v in variants if v != control):
            arm = per_variant.xs(variant, level=1).iloc[0]
            for covariate in covariates:
                pooled = np.sqrt((arm[(covariate, "var")] + base[(covariate, "var")]) / 2.0)
                diff = arm[(covariate, "mean")] - base[(covariate, "mean")]
                smd = float(diff / pooled) if pooled > 0 else 0.0
                rows.append(
                    {
                        "experiment_id": str(experiment),
                        "variant": str(variant),
                        "covariate": covariate,
                        "mean": float(arm[(covariate, "mean")]),
                        "control_mean": float(base[(covariate, "mean")]),
                        "smd": smd,
                        "imbalanced": abs(smd) > BALANCE_THRESHOLD,
                    }
                )
    return pd.DataFrame(rows, columns=list(BALANCE_COLUMNS))
