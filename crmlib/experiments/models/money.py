"""Campaign economics of an A/B test: incremental revenue, profit, ROI and cost per retained customer."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.experiments.models.effects import proportion_effect, welch_effect

__all__ = ["ECONOMICS_COLUMNS", "CLV_COLUMNS", "campaign_economics", "with_clv_lift"]

log = logging.getLogger(__name__)


_TABLE = "experiment outcomes"


_CLV_TABLE = "clv"


#: Columns of :func:`campaign_economics`, in order (``clv_*`` only when ``clv`` is given).
ECONOMICS_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "variant",
    "n",
    "n_control",
    "incremental_revenue_per_customer",
    "incremental_revenue_per_customer_ci_low",
    "incremental_revenue_per_customer_ci_high",
    "incremental_revenue_total",
    "incremental_revenue_total_ci_low",
    "incremental_revenue_total_ci_high",
    "incremental_profit",
    "incremental_profit_ci_low",
    "incremental_profit_ci_high",
    "cost_total",
    "net_profit",
    "net_profit_ci_low",
    "net_profit_ci_high",
    "roi",
    "roi_ci_low",
    "roi_ci_high",
    "incremental_retained",
    "incremental_retained_ci_low",
    "incremental_retained_ci_high",
    "cost_per_incremental_retained",
    "cost_per_incremental_retained_ci_low",
    "cost_per_incremental_retained_ci_high",
    "note",
)


#: The CLV lift columns :func:`campaign_economics` adds when given ``clv``.
CLV_COLUMNS: tuple[str, ...] = (
    "clv_net_lift_per_customer",
    "clv_net_lift_per_customer_ci_low",
    "clv_net_lift_per_customer_ci_high",
)


def _arm_stats(outcomes: pd.DataFrame, value_col: str) -> pd.DataFrame:
    """n, mean, var (ddof=1) of ``value_col`` per experiment x variant."""
    grouped = outcomes.groupby(["experiment_id", "variant"], sort=True)[value_col]
    return pd.DataFrame(
        {"n": grouped.size(), "mean": grouped.mean(), "var": grouped.var(ddof=1)}
    ).reset_index()


def _treated_vs_control(arms: pd.DataFrame, control: str) -> pd.DataFrame:
    """One row per experiment x non-control variant, the control's columns suffixed ``_c``."""
    control_arms = arms[arms["variant"] == control].drop(columns="variant")
    treated = arms[arms["variant"] != control]
    return treated.merge(control_arms, on="experiment_id", suffixes=("", "_c"), how="inner")


def _check(
    outcomes: pd.DataFrame,
    *,
    control: str,
    margin: float,
    alpha: float,
    value_cols: list[str],
    retention_col: str | None,
) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha}: expected a level in (0, 1), e.g. 0.05")
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin={margin}: expected a non-negative profit margin, e.g. 0.3")
    require_columns(
        outcomes,
        ["experiment_id", "customer_id", "variant", "cost", *value_cols],
        table_name=_TABLE,
    )
    if retention_col is not None:
        values = outcomes[retention_col].dropna().to_numpy(np.float64)
        if not np.isin(values, [0.0, 1.0]).all():
            raise DataContractError(
                f"{_TABLE}: column '{retention_col}' (the retention metric) has values other "
                "than 0 and 1; expected a yes/no metric (1 = the customer was retained)"
            )
    for experiment, rows in outcomes.groupby("experiment_id", sort=True):
        variants = set(rows["variant"])
        if control not in variants or len(variants) < 2:
            raise DataContractError(
                f"{_TABLE}: experiment '{experiment}': column 'variant' has "
                f"{sorted(map(str, variants))}; expected the control '{control}' and at least "
                "one other variant"
            )
        for column in value_cols:
            missing = int(rows[column].isna().sum())
            if missing:
                raise DataContractError(
                    f"{_TABLE}: experiment '{experiment}': column '{column}' has {missing} "
                    "missing value(s); expected a number on every row"
                )


def _cost_per_retained(
    cost_total: np.ndarray, lift: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cost / lift, its CI from the lift's CI (NaN unless the whole lift CI is above 0)."""
    defined = (low > 0) & np.isfinite(cost_total)
    with np.errstate(divide="ignore", invalid="ignore"):
        point = np.where(defined, cost_total / lift, np.nan)
        ci_low = np.where(defined, cost_total / high, np.nan)
        ci_high = np.where(defined, cost_total / low, np.nan)
    return point, ci_low, ci_high


def campaign_economics(
    outcomes: pd.DataFrame,
    *,
    control: str = DEFAULTS.ab_test.control,
    margin: float = DEFAULTS.ab_test.margin,
    cost_per_contact: float | None = DEFAULTS.ab_test.cost_per_contact,
    clv: pd.DataFrame | None = None,
    alpha: float = DEFAULTS.ab_test.alpha,
    revenue_col: str = "net_revenue",
    retention_col: str | None = DEFAULTS.ab_test.retention_metric,
) -> pd.DataFrame:
    """Money made and spent by each variant of each experiment, against its control.

    Transforms the outcome table of :func:`crmlib.experiments.experiment_outcomes` (one row
    per customer and experiment) into one row per experiment x non-control variant:

    - ``incremental_revenue_per_customer``: difference in mean ``revenue_col`` (variant minus
      control), Welch CI (:func:`crmlib.experiments.welch_effect`, as scipy);
    - ``incremental_revenue_total``: the per-customer figure x ``n`` (customers in the
      variant), CI scaled the same way; ``incremental_profit``: that x ``margin``;
    - ``cost_total``: the sum of the variant's ``cost``, or ``cost_per_contact`` x ``n`` when
      given. The cost is known, not estimated: it shifts or scales CIs, it adds no variance;
    - ``net_profit = incremental_profit - cost_total``; ``roi = net_profit / cost_total``
      (NaN when the cost is 0 or unknown);
    - ``incremental_retained``: difference in the ``retention_col`` share x ``n`` (unpooled
      Wald CI, :func:`crmlib.experiments.proportion_effect`); NaN without a retention metric;
    - ``cost_per_incremental_retained = cost_total / incremental_retained``. Its CI is the
      lift's CI mapped through ``cost_total / x`` (exact for a known cost, since the map is
      monotone on a CI that excludes 0). When the lift's CI reaches 0 or below, the cost
      per retained customer is unbounded: point and CI are NaN and ``note`` says so;
    - with ``clv``: ``clv_net_lift_per_customer``, the difference in mean projected CLV
      (Welch CI) minus the cost per treated customer (``cost_total / n``).

    Outcomes of open windows are partial (``window_closed`` False): ``note`` counts them.

    Parameters
    ----------
    outcomes : pd.DataFrame
        One row per customer and experiment with experiment_id, customer_id, variant, cost,
        the revenue and the retention column (``window_closed`` optional).
    control : str, default ``ab_test.control``
        The control variant of every experiment.
    margin : float, default ``ab_test.margin``
        Profit margin on net revenue.
    cost_per_contact : float, optional
        Cost of one contact; replaces the ``cost`` column (default ``ab_test.cost_per_contact``:
        None, the column).
    clv : pd.DataFrame, optional
        One row per customer with customer_id and clv (projected customer lifetime value).
    alpha : float, default ``ab_test.alpha``
        Two-sided level; the CIs are ``1 - alpha``.
    revenue_col : str, default "net_revenue"
        Revenue per customer in the outcome window (``ab_test.revenue_metric``).
    retention_col : str or None, default ``ab_test.retention_metric``
        The yes/no metric counted as a retained customer (``ab_test.retention_metric``);
        None: the ``incremental_retained`` and cost-per-retained columns are NaN.

    Returns
    -------
    pd.DataFrame
        :data:`ECONOMICS_COLUMNS` (plus ``clv_net_lift_per_customer`` and its CI with
        ``clv``), ordered by experiment_id, variant. ``note`` is "" or ``"; "``-joined
        remarks (unknown cost, unbounded cost per retained customer, open windows).

    Raises
    ------
    ValueError
        A bad ``alpha``, ``margin`` or ``cost_per_contact``.
    DataContractError
        A missing column, an experiment without its control or another variant, a missing
        revenue or retention value, a retention column with values other than 0/1, or a
        customer without a CLV (names the experiment and the column).

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. Biometrika 34, 28-35.

    Examples
    --------
    >>> outcomes = pd.DataFrame({
    ...     "experiment_id": "winback", "customer_id": [f"C{i}" for i in range(8)],
    ...     "variant": ["control"] * 4 + ["email"] * 4,
    ...     "cost": [np.nan] * 4 + [2.0] * 4,
    ...     "net_revenue": [0.0, 20.0, 0.0, 10.0, 30.0, 40.0, 0.0, 50.0],
    ...     "repurchase": [0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0],
    ... })
    >>> row = campaign_economics(outcomes, margin=0.5).iloc[0]
    >>> float(row["incremental_revenue_total"]), float(row["cost_total"]), float(row["roi"])
    (90.0, 8.0, 4.625)
    """
    value_cols = [revenue_col] + ([retention_col] if retention_col is not None else [])
    _check(
        outcomes,
        control=control,
        margin=margin,
        alpha=alpha,
        value_cols=value_cols,
        retention_col=retention_col,
    )
    if cost_per_contact is not None and (not np.isfinite(cost_per_contact) or cost_per_contact < 0):
        raise ValueError(f"cost_per_contact={cost_per_contact}: expected a non-negative amount")
    revenue = _treated_vs_control(_arm_stats(outcomes, revenue_col), control)
    repurchase = _treated_vs_control(
        _arm_stats(outcomes, revenue_col if retention_col is None else retention_col), control
    )
    grouped = outcomes.groupby(["experiment_id", "variant"], sort=True)
    cost_info = pd.DataFrame(
        {
            "cost_sum": grouped["cost"].sum(min_count=1),
            "cost_missing": grouped["cost"].agg(lambda values: int(values.isna().sum())),
        }
    ).reset_index()
    if "window_closed" in outcomes.columns:
        cost_info["open_windows"] = (
            (~outcomes["window_closed"].astype(bool))
            .groupby([outcomes["experiment_id"], outcomes["variant"]], sort=True)
            .sum()
            .to_numpy()
        )
    else:
        cost_info["open_windows"] = 0
    table = revenue.merge(cost_info, on=["experiment_id", "variant"], how="left")

    n = table["n"].to_numpy(dtype=np.float64)
    rev = welch_effect(
        table["mean"], table["var"], n, table["mean_c"], table["var_c"], table["n_c"], alpha=alpha
    )
    ret = proportion_effect(
        repurchase["mean"] * repurchase["n"],
        repurchase["n"],
        repurchase["mean_c"] * repurchase["n_c"],
        repurchase["n_c"],
        alpha=alpha,
    )
    if retention_col is None:  # no retention metric: the retained columns are unknown
        ret = ret._replace(**{name: np.full(len(table), np.nan) for name in ret._fields})
    if cost_per_contact is not None:
        cost_total = cost_per_contact * n
    else:
        cost_total = np.where(
            table["cost_missing"].to_numpy() > 0, np.nan, table["cost_sum"].to_numpy(np.float64)
        )
    profit = [margin * n * values for values in (rev.abs_diff, rev.abs_ci_low, rev.abs_ci_high)]
    net = [values - cost_total for values in profit]
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = [np.where(cost_total > 0, values / cost_total, np.nan) for values in net]
    retained = [n * values for values in (ret.abs_diff, ret.abs_ci_low, ret.abs_ci_high)]
    per_retained = _cost_per_retained(cost_total, *retained)

    result = pd.DataFrame(
        {
            "experiment_id": table["experiment_id"].astype(str),
            "variant": table["variant"].astype(str),
            "n": table["n"].astype("int64"),
            "n_control": table["n_c"].astype("int64"),
            "incremental_revenue_per_customer": rev.abs_diff,
            "incremental_revenue_per_customer_ci_low": rev.abs_ci_low,
            "incremental_revenue_per_customer_ci_high": rev.abs_ci_high,
            "incremental_revenue_total": n * rev.abs_diff,
            "incremental_revenue_total_ci_low": n * rev.abs_ci_low,
            "incremental_revenue_total_ci_high": n * rev.abs_ci_high,
            "incremental_profit": profit[0],
            "incremental_profit_ci_low": profit[1],
            "incremental_profit_ci_high": profit[2],
            "cost_total": cost_total,
            "net_profit": net[0],
            "net_profit_ci_low": net[1],
            "net_profit_ci_high": net[2],
            "roi": roi[0],
            "roi_ci_low": roi[1],
            "roi_ci_high": roi[2],
            "incremental_retained": retained[0],
            "incremental_retained_ci_low": retained[1],
            "incremental_retained_ci_high": retained[2],
            "cost_per_incremental_retained": per_retained[0],
            "cost_per_incremental_retained_ci_low": per_retained[1],
            "cost_per_incremental_retained_ci_high": per_retained[2],
        }
    )
    result["note"] = [
        _note(
            cost_missing=int(missing) if cost_per_contact is None else 0,
            n=int(size),
            lift_low=float(low),
            open_windows=int(still_open),
            retention=retention_col is not None,
        )
        for missing, size, low, still_open in zip(
            table["cost_missing"], table["n"], retained[1], table["open_windows"], strict=True
        )
    ]
    if clv is not None:
        result = with_clv_lift(result, outcomes, clv, control=control, alpha=alpha)
    for row in result.itertuples(index=False):
        if row.note:
            log.info("experiment '%s' variant '%s': %s", row.experiment_id, row.variant, row.note)
    return result.reset_index(drop=True)


def _note(
    *, cost_missing: int, n: int, lift_low: float, open_windows: int, retention: bool = True
) -> str:
    notes = []
    if cost_missing:
        notes.append(
            f"cost unknown for {cost_missing} of {n} customers: cost_total, net_profit and roi "
            "are unknown (set the cost per contact in params)"
        )
    if not retention:
        notes.append("no retention metric: incremental retained customers are not computed")
    elif not lift_low > 0:
        notes.append(
            "the CI of the retention lift reaches 0: cost per incremental retained customer "
            "has no upper bound and is left blank"
        )
    if open_windows:
        notes.append(f"{open_windows} of {n} outcome windows still open: outcomes are partial")
    return "; ".join(notes)


def with_clv_lift(
    economics: pd.DataFrame,
    outcomes: pd.DataFrame,
    clv: pd.DataFrame,
    *,
    control: str = DEFAULTS.ab_test.control,
    alpha: float = DEFAULTS.ab_test.alpha,
) -> pd.DataFrame:
    """``economics`` with :data:`CLV_COLUMNS` (before ``note``): the CLV lift net of cost.

    The difference in mean CLV (variant minus control, Welch CI) over the customers of
    ``outcomes``, minus the cost per treated customer of ``economics`` (``cost_total / n``).
    ``outcomes`` may be a subset of the customers ``economics`` was computed on (e.g. those
    with a CLV); every one of them needs a CLV (DataContractError otherwise). An
    experiment x variant without both arms in ``outcomes`` gets NaN.
    """
    lift = _clv_lift(outcomes, clv, control=control, alpha=alpha)
    keys = ["experiment_id", "variant"]
    aligned = economics[keys].merge(lift, on=keys, how="left", validate="1:1")
    per_customer_cost = economics["cost_total"].to_numpy(np.float64) / economics["n"].to_numpy(
        np.float64
    )
    result = economics.drop(columns=[c for c in CLV_COLUMNS if c in economics]).copy()
    for column in CLV_COLUMNS:
        result.insert(
            len(result.columns) - 1,
            column,
            aligned[column].to_numpy(np.float64) - per_customer_cost,
        )
    return result


def _clv_lift(
    outcomes: pd.DataFrame, clv: pd.DataFrame, *, control: str, alpha: float
) -> pd.DataFrame:
    """Difference in mean CLV (variant minus control) per experiment x variant, Welch CI.

    One row per experiment x variant: experiment_id, variant and :data:`CLV_COLUMNS` (the
    difference and its CI, before any cost).
    """
    require_columns(clv, ["customer_id", "clv"], table_name=_CLV_TABLE)
    values = clv.drop_duplicates("customer_id").set_index("customer_id")["clv"]
    with_clv = outcomes[["experiment_id", "variant", "customer_id"]].assign(
        clv=outcomes["customer_id"].map(values).astype("float64")
    )
    missing = with_clv[with_clv["clv"].isna()]
    if len(missing):
        experiment = missing["experiment_id"].iloc[0]
        raise DataContractError(
            f"{_CLV_TABLE}: column 'clv' has no value for {len(missing)} assigned customer(s) "
            f"of experiment '{experiment}' (the first '{missing['customer_id'].iloc[0]}'); "
            "expected a CLV for every customer"
        )
    arms = _treated_vs_control(_arm_stats(with_clv, "clv"), control)
    est = welch_effect(
        arms["mean"],
        arms["var"],
        arms["n"],
        arms["mean_c"],
        arms["var_c"],
        arms["n_c"],
        alpha=alpha,
    )
    return pd.DataFrame(
        {
            "experiment_id": arms["experiment_id"].astype(str).to_numpy(),
            "variant": arms["variant"].astype(str).to_numpy(),
            CLV_COLUMNS[0]: est.abs_diff,
            CLV_COLUMNS[1]: est.abs_ci_low,
            CLV_COLUMNS[2]: est.abs_ci_high,
        }
    )
