"""Time to first purchase after assignment: Kaplan-Meier curves and RMST differences per variant."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter
from scipy import stats

from crmlib.checks import require_columns
from crmlib.errors import DataContractError
from crmlib.experiments._report_plots import caption
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "CURVE_COLUMNS",
    "RMST_COLUMNS",
    "time_to_purchase_curves",
    "rmst_difference",
    "plot_time_to_purchase",
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


def _kaplan_meier(
    time: np.ndarray, event: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct event times, customers at risk, events and the survival just after each."""
    days = np.unique(time[event])
    sorted_times = np.sort(time)
    at_risk = len(time) - np.searchsorted(sorted_times, days, side="left")
    event_times = np.sort(time[event])
    events = np.searchsorted(event_times, days, side="right") - np.searchsorted(
        event_times, days, side="left"
    )
    survival = np.cumprod(1.0 - events / at_risk)
    return days, at_risk.astype(np.int64), events.astype(np.int64), survival


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
        days, at_risk, events, survival = _kaplan_meier(
            rows["time"].to_numpy(), rows["event"].to_numpy()
        )
        pieces.append(
            pd.DataFrame(
                {
                    "experiment_id": experiment,
                    "variant": variant,
                    "day": days,
                    "at_risk": at_risk,
                    "events": events,
                    "survival": survival,
                    "customers": len(rows),
                }
            )
        )
    if not pieces:
        return pd.DataFrame({column: [] for column in CURVE_COLUMNS})
    return pd.concat(pieces, ignore_index=True)[list(CURVE_COLUMNS)]


def _rmst(time: np.ndarray, event: np.ndarray, horizon_days: float) -> tuple[float, float]:
    """Restricted mean time to purchase up to the horizon and its Greenwood-based variance.

    ``RMST = int_0^h S(t) dt``; ``Var = sum_{t_j <= h} A_j^2 d_j / (Y_j (Y_j - d_j))`` with
    ``A_j = int_{t_j}^h S(t) dt`` (Klein & Moeschberger 2003, section 4.5).
    """
    days, at_risk, events, survival = _kaplan_meier(time, event)
    keep = days <= horizon_days
    days, at_risk, events, survival = days[keep], at_risk[keep], events[keep], survival[keep]
    edges = np.concatenate([[0.0], days, [horizon_days]])
    levels = np.concatenate([[1.0], survival])
    areas = levels * np.diff(edges)
    rmst = float(areas.sum())
    # A_j: area under S from t_j to the horizon (the pieces after the j-th step)
    tail = np.cumsum(areas[::-1])[::-1][1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(at_risk > events, tail**2 * events / (at_risk * (at_risk - events)), 0.0)
    return rmst, float(terms.sum())


def rmst_difference(
    outcomes: pd.DataFrame,
    *,
    control: str = "control",
    horizon_days: float,
    alpha: float = 0.05,
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
    control : str, default "control"
        The control variant of every experiment.
    horizon_days : float
        Upper limit of the restricted mean (days since assignment).
    alpha : float, default 0.05
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
        rmst, var = _rmst(time, event, float(horizon_days))
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


def plot_time_to_purchase(
    curves: pd.DataFrame, *, ax: plt.Axes | None = None, min_cell_size: int = MIN_CELL_SIZE
) -> plt.Axes:
    """Step chart of the share of customers not yet purchased, one line per experiment x variant.

    The small-cell rule (``min_cell_size``): an arm of 1..k-1 customers is not drawn, and a
    line stops before the first day on which fewer than k of its customers were still at
    risk (a step there would be a rate on that few customers); a caption under the chart says
    what was left out.

    Parameters
    ----------
    curves : pd.DataFrame
        As returned by :func:`time_to_purchase_curves`.
    ax : matplotlib Axes, optional
        Where to draw; default the current axes.
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``.

    Returns
    -------
    matplotlib Axes
        With a title, labelled axes and a percent y axis.

    Examples
    --------
    >>> curves = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": ["control", "email"], "day": [3.0, 2.0],
    ...     "at_risk": [10, 10], "events": [1, 2], "survival": [0.9, 0.8],
    ...     "customers": [10, 10],
    ... })
    >>> fig, ax = plt.subplots()
    >>> plot_time_to_purchase(curves, ax=ax).get_title()
    'Time to first purchase after assignment, by variant'
    >>> plt.close(fig)
    """
    require_columns(
        curves,
        ["experiment_id", "variant", "day", "at_risk", "survival", "customers"],
        table_name="curves",
    )
    ax = ax or plt.gca()
    rule = SmallCells(min_cell_size)
    several = curves["experiment_id"].nunique() > 1
    left_out: list[str] = []
    cut = False
    for (experiment, variant), rows in curves.groupby(["experiment_id", "variant"], sort=True):
        label = f"{experiment}: {variant}" if several else str(variant)
        if rule.is_small(rows["customers"].iloc[0]):
            left_out.append(label)
            continue
        # the line stops at the first step whose risk set is small
        reported = np.cumprod(~rule.is_small(rows["at_risk"].to_numpy())).astype(bool)
        cut = cut or not reported.all()
        days = np.concatenate([[0.0], rows["day"].to_numpy(np.float64)[reported]])
        survival = np.concatenate([[1.0], rows["survival"].to_numpy(np.float64)[reported]])
        ax.step(days, survival, where="post", label=label)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set(
        title="Time to first purchase after assignment, by variant",
        xlabel="Days since assignment",
        ylabel="Customers without a purchase yet",
    )
    if ax.get_lines():
        ax.legend(fontsize="small")
    words = []
    if left_out:
        words.append(f"Not drawn: {', '.join(left_out)} (fewer than {min_cell_size:,} customers).")
    if cut:
        words.append(
            f"A line stops where fewer than {min_cell_size:,} of its customers were still "
            "without a purchase and observed."
        )
    if words:
        caption(ax, " ".join(words))
    return ax
