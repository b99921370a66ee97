"""Time to first purchase after assignment: Kaplan-Meier curves, RMST and purchases by day.

Per experiment x variant: the Kaplan-Meier curve of the time to first purchase, the restricted
mean time to purchase and its difference against control, and the empirical cumulative share of
customers with a purchase by each day. The Kaplan-Meier estimate is :mod:`crmlib.survival`'s,
shared with 03_cohorts.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.survival import kaplan_meier, restricted_mean

__all__ = [
    "CURVE_COLUMNS",
    "RMST_COLUMNS",
    "time_to_purchase_curves",
    "rmst_difference",
    "CUMULATIVE_COLUMNS",
    "cumulative_outcome",
]

log = logging.getLogger(__name__)


_TABLE = "experiment outcomes"


#: Columns of :func:`time_to_purchase_curves`, in order.
CURVE_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "variant",
    "day",
    "at_risk",
    "events",
    "survival",
    "customers",
)


#: Columns of :func:`rmst_difference`, in order.
RMST_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "variant",
    "horizon_days",
    "n",
    "rmst_days",
    "rmst_se",
    "control_rmst_days",
    "rmst_diff_days",
    "ci_low",
    "ci_high",
    "p_value",
    "note",
)


def _durations(
    outcomes: pd.DataFrame, *, variant_col: str
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Event or censoring time and the event flag per row; the experiment x variant groups."""
    require_columns(
        outcomes,
        ["experiment_id", variant_col, "days_to_purchase", "observed_days_total"],
        table_name=_TABLE,
    )
    purchased = outcomes["days_to_purchase"].notna().to_numpy()
    time = np.where(
        purchased,
        outcomes["days_to_purchase"].to_numpy(dtype=np.float64),
        outcomes["observed_days_total"].to_numpy(dtype=np.float64),
    )
    bad = ~np.isfinite(time) | (time < 0)
    if bad.any():
        experiment = outcomes["experiment_id"].to_numpy()[bad.argmax()]
        raise DataContractError(
            f"{_TABLE}: experiment '{experiment}': column 'observed_days_total' is missing or "
            f"negative on {int(bad.sum())} row(s) without a purchase; expected the days from "
            "assignment to the as_of day"
        )
    durations = pd.DataFrame(
        {
            "experiment_id": outcomes["experiment_id"].astype(str).to_numpy(),
            "variant": outcomes[variant_col].astype(str).to_numpy(),
            "time": time,
            "event": purchased,
        }
    )
    pairs = durations[["experiment_id", "variant"]].drop_duplicates()
    groups = sorted(
        (str(e), str(v)) for e, v in zip(pairs["experiment_id"], pairs["variant"], strict=True)
    )
    return durations, groups


def time_to_purchase_curves(
    outcomes: pd.DataFrame, *, variant_col: str = "variant"
) -> pd.DataFrame:
    """Kaplan-Meier curves of the time to first purchase, per experiment x variant.

    Transforms the outcome table of :func:`crmlib.experiments.experiment_outcomes` (one row
    per customer and experiment) into one row per experiment x variant x day on which at
    least one customer made a first purchase. A customer without a purchase by the as_of day
    is censored at ``observed_days_total`` (still in the risk set up to then, never an event),
    so open windows are used for as long as they were observed.

    Parameters
    ----------
    outcomes : pd.DataFrame
        One row per customer and experiment with experiment_id, ``variant_col``,
        days_to_purchase (NaN without a purchase) and observed_days_total.
    variant_col : str, default "variant"
        The column that holds the arm.

    Returns
    -------
    pd.DataFrame
        :data:`CURVE_COLUMNS`: ``day`` (days since assignment, float), ``at_risk`` (customers
        without a purchase and still observed just before ``day``), ``events`` (first
        purchases on ``day``), ``survival`` (share not yet purchased just after ``day``) and
        ``customers`` (the arm's customers), ordered by experiment_id, variant, day. Equal to
        statsmodels' ``SurvfuncRight``.

    Raises
    ------
    DataContractError
        A missing column, or a customer without a purchase and without a usable
        observed_days_total (names the experiment).

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete observations.
    Journal of the American Statistical Association 53, 457-481.

    Examples
    --------
    >>> outcomes = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": "email",
    ...     "days_to_purchase": [2.0, np.nan, 5.0, np.nan],
    ...     "observed_days_total": [40.0, 3.0, 40.0, 40.0],
    ... })
    >>> time_to_purchase_curves(outcomes)[["day", "at_risk", "events", "survival"]]
       day  at_risk  events  survival
    0  2.0        4       1     0.750
    1  5.0        2       1     0.375
    """
    durations, groups = _durations(outcomes, variant_col=variant_col)
    pieces = []
    for experiment, variant in groups:
        rows = durations[
            (durations["experiment_id"] == experiment) & (durations["variant"] == variant)
        ]
        km = kaplan_meier(rows["time"].to_numpy(), rows["event"].to_numpy())
        pieces.append(
            pd.DataFrame(
                {
                    "experiment_id": experiment,
                    "variant": variant,
                    "day": km.time,
                    "at_risk": km.at_risk,
                    "events": km.events,
                    "survival": km.survival,
                    "customers": len(rows),
                }
            )
        )
    if not pieces:
        return pd.DataFrame({column: [] for column in CURVE_COLUMNS})
    return pd.concat(pieces, ignore_index=True)[list(CURVE_COLUMNS)]


def rmst_difference(
    outcomes: pd.DataFrame,
    *,
    control: str = DEFAULTS.ab_test.control,
    horizon_days: float,
    alpha: float = DEFAULTS.ab_test.alpha,
) -> pd.DataFrame:
    """Restricted mean time to first purchase per variant and its difference against control.

    The RMST up to ``horizon_days`` is the area under the Kaplan-Meier curve of
    :func:`time_to_purchase_curves` from day 0 to the horizon: the mean number of days,
    out of the first ``horizon_days``, a customer spends without a purchase. A campaign that
    speeds up purchases lowers it (a negative difference). Its variance is the standard
    Greenwood-based one; the difference of independent arms has a normal CI and z-test.

    Parameters
    ----------
    outcomes : pd.DataFrame
        One row per customer and experiment, as for :func:`time_to_purchase_curves`.
    control : str, default ``ab_test.control``
        The control variant of every experiment.
    horizon_days : float
        Upper limit of the restricted mean (days since assignment).
    alpha : float, default ``ab_test.alpha``
        Two-sided level; the CIs are ``1 - alpha``.

    Returns
    -------
    pd.DataFrame
        :data:`RMST_COLUMNS`, one row per experiment x variant (the control included, with
        NaN differences), ordered by experiment_id, variant. An arm whose follow-up ends
        before the horizon with customers still at risk has NaN RMST and a ``note``: the
        curve is not known up to the horizon (windows still open).

    Raises
    ------
    ValueError
        A bad ``horizon_days`` or ``alpha``.
    DataContractError
        A missing column, or an experiment without its control (names the experiment).

    References
    ----------
    Royston, P. & Parmar, M. K. B. (2013). Restricted mean survival time: an alternative to
    the hazard ratio for the design and analysis of randomized trials with a time-to-event
    outcome. BMC Medical Research Methodology 13, 152.
    Klein, J. P. & Moeschberger, M. L. (2003). Survival Analysis, 2nd ed., section 4.5.

    Examples
    --------
    >>> outcomes = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": ["control"] * 3 + ["email"] * 3,
    ...     "days_to_purchase": [np.nan, 8.0, np.nan, 2.0, 4.0, np.nan],
    ...     "observed_days_total": 30.0,
    ... })
    >>> rmst_difference(outcomes, horizon_days=10)[["variant", "rmst_days", "rmst_diff_days"]]
       variant  rmst_days  rmst_diff_days
    0  control   9.333333             NaN
    1    email   5.333333            -4.0
    """
    if not np.isfinite(horizon_days) or horizon_days <= 0:
        raise ValueError(f"horizon_days={horizon_days}: expected a positive number of days")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha}: expected a level in (0, 1), e.g. 0.05")
    durations, groups = _durations(outcomes, variant_col="variant")
    z = float(stats.norm.ppf(1 - alpha / 2))
    rows = []
    for experiment, variant in groups:
        arm = durations[
            (durations["experiment_id"] == experiment) & (durations["variant"] == variant)
        ]
        time, event = arm["time"].to_numpy(), arm["event"].to_numpy()
        rmst, var = restricted_mean(time, event, float(horizon_days))
        note = ""
        still_at_risk = int(((time >= time.max()) & ~event).sum()) if len(time) else 0
        if time.max() < horizon_days and still_at_risk:
            rmst, var = np.nan, np.nan
            note = (
                f"follow-up ends on day {time.max():.1f}, before the {horizon_days}-day horizon, "
                "with customers still without a purchase: RMST unknown (windows still open)"
            )
        rows.append(
            {
                "experiment_id": experiment,
                "variant": variant,
                "horizon_days": float(horizon_days),
                "n": len(time),
                "rmst_days": rmst,
                "rmst_se": float(np.sqrt(var)),
                "note": note,
            }
        )
    table = pd.DataFrame(rows)
    controls = table[table["variant"] == control].set_index("experiment_id")
    for experiment in sorted(set(table["experiment_id"])):
        if experiment not in controls.index:
            raise DataContractError(
                f"{_TABLE}: experiment '{experiment}': column 'variant' has no control "
                f"'{control}'; expected it in every experiment"
            )
    control_rmst = table["experiment_id"].map(controls["rmst_days"]).to_numpy(np.float64)
    control_se = table["experiment_id"].map(controls["rmst_se"]).to_numpy(np.float64)
    is_control = (table["variant"] == control).to_numpy()
    diff = np.where(is_control, np.nan, table["rmst_days"].to_numpy() - control_rmst)
    se = np.sqrt(table["rmst_se"].to_numpy() ** 2 + control_se**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(se > 0, se, np.nan)
        p_value = 2 * stats.norm.sf(np.abs(diff / se))
    table["control_rmst_days"] = control_rmst
    table["rmst_diff_days"] = diff
    table["ci_low"] = diff - z * se
    table["ci_high"] = diff + z * se
    table["p_value"] = p_value
    for row in table.itertuples(index=False):
        if row.note:
            log.info("experiment '%s' variant '%s': %s", row.experiment_id, row.variant, row.note)
    return table[list(RMST_COLUMNS)]


#: Columns of :func:`cumulative_outcome`, in order.
CUMULATIVE_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "variant",
    "day",
    "customers",
    "purchasers",
    "share",
)


def cumulative_outcome(
    outcomes: pd.DataFrame, *, metric: str = "repurchase", days: int = DEFAULTS.ab_test.window_days
) -> pd.DataFrame:
    """Share of customers with a first purchase by each day since assignment, per arm.

    Transforms the outcome table of :func:`crmlib.experiments.experiment_outcomes` (one row
    per customer and experiment, with days_to_purchase and observed_days_total) into one row
    per experiment x variant x day 0..``days``: ``customers`` observed for at least that
    many days (``observed_days_total >= day``; the others are left out of that day's
    denominator, not counted as non-buyers), ``purchasers`` among them whose first purchase
    came by that day (``days_to_purchase <= day``) and ``share = purchasers / customers``
    (NaN without customers). This is the empirical curve, not a Kaplan-Meier estimate
    (:func:`crmlib.experiments.time_to_purchase_curves`).

    Parameters
    ----------
    outcomes : pd.DataFrame
        One row per customer and experiment with experiment_id, variant, days_to_purchase
        (NaN without a purchase) and observed_days_total.
    metric : str, default "repurchase"
        The outcome accumulated; only ``"repurchase"`` (a first purchase) is defined by day.
    days : int, default ``ab_test.window_days``
        The last day shown.

    Returns
    -------
    pd.DataFrame
        :data:`CUMULATIVE_COLUMNS`, ordered by experiment_id, variant, day.

    Examples
    --------
    >>> outcomes = pd.DataFrame({
    ...     "experiment_id": "e", "variant": ["control", "control", "email", "email"],
    ...     "days_to_purchase": [np.nan, 2.5, 1.0, np.nan],
    ...     "observed_days_total": [5.0, 5.0, 5.0, 1.5],
    ... })
    >>> cumulative_outcome(outcomes, days=3).query("variant == 'email'")["share"].tolist()
    [0.0, 0.5, 1.0, 1.0]
    """
    if metric != "repurchase":
        raise ValueError(
            f"metric='{metric}': only 'repurchase' (the first purchase, from days_to_purchase) "
            "accumulates by day"
        )
    if days < 0:
        raise ValueError(f"days={days}: expected a non-negative number of days")
    require_columns(
        outcomes,
        ["experiment_id", "variant", "days_to_purchase", "observed_days_total"],
        table_name="experiment outcomes",
    )
    keys = pd.MultiIndex.from_arrays(
        [outcomes["experiment_id"].astype(str), outcomes["variant"].astype(str)]
    )
    codes, groups = pd.factorize(keys, sort=True)
    width = days + 2
    observed = outcomes["observed_days_total"].to_numpy(np.float64)
    purchase = outcomes["days_to_purchase"].to_numpy(np.float64)
    seen = np.isfinite(observed) & (observed >= 0)
    # Customer counted on the days 0..floor(observed) (capped at days); purchaser from
    # ceil(days_to_purchase) on. Difference arrays: +1 where an interval starts, -1 after it ends.
    last = np.minimum(np.floor(np.where(seen, observed, -1.0)), days).astype(np.int64)
    first = np.ceil(np.where(np.isfinite(purchase), np.maximum(purchase, 0.0), days + 1.0))
    first = np.minimum(first, days + 1).astype(np.int64)
    customers = np.zeros((len(groups), width), dtype=np.int64)
    buyers = np.zeros((len(groups), width), dtype=np.int64)
    counted = seen & (last >= 0)
    np.add.at(customers, (codes[counted], 0), 1)
    np.add.at(customers, (codes[counted], last[counted] + 1), -1)
    bought = counted & (first <= last)
    np.add.at(buyers, (codes[bought], first[bought]), 1)
    np.add.at(buyers, (codes[bought], last[bought] + 1), -1)
    customers = customers.cumsum(axis=1)[:, : days + 1]
    buyers = buyers.cumsum(axis=1)[:, : days + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(customers > 0, buyers / customers, np.nan)
    n_groups = len(groups)
    table = pd.DataFrame(
        {
            "experiment_id": np.repeat(groups.get_level_values(0).to_numpy(), days + 1),
            "variant": np.repeat(groups.get_level_values(1).to_numpy(), days + 1),
            "day": np.tile(np.arange(days + 1, dtype=np.int64), n_groups),
            "customers": customers.ravel(),
            "purchasers": buyers.ravel(),
            "share": share.ravel().astype(np.float64),
        }
    )
    return table[list(CUMULATIVE_COLUMNS)]
