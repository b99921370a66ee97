"""Do newer cohorts retain better? A retention trend across cohorts and the gap between channels."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError

__all__ = ["TrendResult", "ChannelGap", "retention_trend", "channel_gap"]

log = logging.getLogger(__name__)

_Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class TrendResult:
    """The change in k-period retention per year of acquisition, from a binomial GLM."""

    k: int
    n_cohorts: int
    customers: int
    first_cohort: pd.Timestamp
    last_cohort: pd.Timestamp
    mean_retention: float
    #: average marginal change in retention per year, in percentage points, with its 95% CI
    pp_per_year: float
    pp_ci_lower: float
    pp_ci_upper: float
    odds_ratio_per_year: float
    or_ci_lower: float
    or_ci_upper: float
    p_value: float
    dispersion: float
    dispersion_method: str
    #: labels of the cohorts left out as the customers present at the start (oldest first)
    left_out: tuple[str, ...] = ()

    def describe(self, *, unit: str = DEFAULTS.cohorts.period) -> str:
        """One sentence with the numbers, for a notebook's conclusion."""
        direction = "rose" if self.pp_per_year > 0 else "fell"
        sign = "" if self.pp_ci_lower >= 0 or self.pp_ci_upper <= 0 else " (not significant)"
        return (
            f"{self.k}-{unit} retention {direction} by {abs(self.pp_per_year):.1f} pp per year "
            f"of acquisition (95% CI {self.pp_ci_lower:.1f} to {self.pp_ci_upper:.1f} pp; "
            f"p = {self.p_value:.3g}; {self.n_cohorts} cohorts){sign}."
        )


@dataclass(frozen=True)
class ChannelGap:
    """Best minus worst acquisition channel's pooled k-period retention, with a 95% CI."""

    k: int
    best: str
    worst: str
    best_retention: float
    worst_retention: float
    best_customers: int
    worst_customers: int
    gap_pp: float
    ci_lower_pp: float
    ci_upper_pp: float
    n_cohorts: int

    def describe(self, *, unit: str = DEFAULTS.cohorts.period) -> str:
        """One sentence with the numbers."""
        return (
            f"{self.k}-{unit} retention was {100 * self.best_retention:.1f}% for {self.best} "
            f"and {100 * self.worst_retention:.1f}% for {self.worst}: a gap of "
            f"{self.gap_pp:.1f} pp (95% CI {self.ci_lower_pp:.1f} to {self.ci_upper_pp:.1f} pp; "
            f"{self.n_cohorts} cohorts)."
        )


def _present_at_start(rows: pd.DataFrame) -> pd.Series:
    """Whether each row belongs to a cohort of the customers present at the start."""
    if "present_at_start" not in rows.columns:
        return pd.Series(False, index=rows.index)
    return rows["present_at_start"].astype("boolean").fillna(False).astype("bool")


def _left_out_labels(rows: pd.DataFrame) -> tuple[str, ...]:
    """Labels (or starts) of the cohorts of the customers present at the start, oldest first."""
    flagged = rows[_present_at_start(rows)].sort_values("cohort_start")
    column = "cohort_label" if "cohort_label" in flagged.columns else "cohort_start"
    return tuple(str(v) for v in flagged.drop_duplicates("cohort_start")[column])


def _at_k(
    cohort_retention: pd.DataFrame, *, k: int, definition: str, needed: list[str]
) -> pd.DataFrame:
    """The rows at k periods since acquisition (observed, one definition) of a tidy table,
    without the cohorts of the customers present at the start."""
    missing = [c for c in needed if c not in cohort_retention.columns]
    if missing:
        raise DataContractError(
            f"cohort retention: columns {missing} are missing; found "
            f"{list(cohort_retention.columns)}, expected {needed}"
        )
    rows = cohort_retention
    if "periods_since" in rows.columns:
        rows = rows[rows["periods_since"] == k]
    if "definition" in rows.columns:
        rows = rows[rows["definition"] == definition]
    if "observed" in rows.columns:
        rows = rows[rows["observed"].astype("bool")]
    rows = rows[(rows["cohort_size"] > 0) & ~_present_at_start(rows)]
    if (rows["customers"] > rows["cohort_size"]).any() or (rows["customers"] < 0).any():
        raise DataContractError("cohort retention: 'customers' must be in [0, cohort_size]")
    return rows


def retention_trend(
    cohort_sizes_and_retained: pd.DataFrame,
    *,
    k: int,
    definition: str = "on",
    dispersion: Literal["pearson", "binomial"] = "pearson",
) -> TrendResult:
    """Do newer cohorts retain better? The yearly trend of k-period retention across cohorts.

    Transforms one row per acquisition cohort (*cohort_start, cohort_size, customers*: the
    cohort's customers retained k periods after acquisition) into a :class:`TrendResult`.
    The tidy table of :func:`crmlib.cohorts.cohort_retention` (one row per cohort x
    periods_since x dimension x definition) is accepted once filtered to one dimension: rows
    are kept where ``periods_since == k``, ``definition == definition`` and ``observed``.
    Cohorts marked ``present_at_start`` (the customers already there when the data begin,
    see :func:`crmlib.cohorts.data_start`) are not acquisition cohorts and are left out;
    their labels are in ``TrendResult.left_out``.

    Model: a binomial GLM with logit link of retained / cohort_size on
    ``x = (months from the first cohort's start) / 12`` (years), each cohort weighted by its
    size. Reported:

    - ``pp_per_year``: the average marginal effect of one more year of acquisition on the
      retention probability, ``mean_i(b * p_i * (1 - p_i))`` weighted by cohort size, in
      percentage points; 95% CI by the delta method;
    - ``odds_ratio_per_year`` = exp(b) with its Wald 95% CI; ``p_value`` of b (Wald z);
    - overdispersion: cohorts vary more than binomial sampling explains (seasonality,
      campaigns), so by default (``dispersion="pearson"``) the covariance is scaled by the
      quasi-binomial dispersion Pearson chi2 / (n_cohorts - 2) (statsmodels ``scale="X2"``);
      ``"binomial"`` fixes it at 1 (only for checks: it overstates precision).

    Parameters
    ----------
    cohort_sizes_and_retained : pd.DataFrame
        One row per cohort where period k is observed.
    k : int
        Periods since acquisition.
    definition : str, default "on"
        Which retention definition to keep when the table has a ``definition`` column.
    dispersion : {"pearson", "binomial"}, default "pearson"

    Returns
    -------
    TrendResult

    Raises
    ------
    DataContractError
        Missing columns, more than one row per cohort, or too few cohorts (3 with
        ``"pearson"``, 2 otherwise).

    References
    ----------
    .. [1] McCullagh, P. & Nelder, J. A. (1989). Generalized Linear Models, 2nd ed.,
       sections 4.5 (binomial) and 4.5.2 (overdispersion, Pearson estimate of dispersion).
    .. [2] Williams, R. (2012). Using the margins command to estimate and interpret
       adjusted predictions and marginal effects. Stata Journal 12(2), 308-331
       (average marginal effects, delta-method standard errors).
    """
    rows = _at_k(
        cohort_sizes_and_retained,
        k=k,
        definition=definition,
        needed=["cohort_start", "cohort_size", "customers"],
    )
    left_out = _left_out_labels(cohort_sizes_and_retained)
    if rows["cohort_start"].duplicated().any():
        raise DataContractError(
            "cohort retention: several rows per cohort_start at k="
            f"{k}; filter to one dimension value first"
        )
    minimum = 3 if dispersion == "pearson" else 2
    if len(rows) < minimum:
        without = (
            f" (besides the customers present at the start, left out: {', '.join(left_out)})"
            if left_out
            else ""
        )
        raise DataContractError(
            f"cohort retention: {len(rows)} cohorts observed at k={k}{without}; the trend "
            f"needs >= {minimum}"
        )
    rows = rows.sort_values("cohort_start")
    starts = pd.to_datetime(rows["cohort_start"])
    months = (starts.dt.year - starts.dt.year.min()) * 12 + starts.dt.month
    years = ((months - months.min()) / 12.0).to_numpy(dtype="float64")
    size = rows["cohort_size"].to_numpy(dtype="float64")
    retained = rows["customers"].to_numpy(dtype="float64")
    exog = sm.add_constant(years, has_constant="add")
    scale: str | float = "X2" if dispersion == "pearson" else 1.0
    # proportions with var_weights = cohort size, not a (successes, failures) endog: with the
    # latter, statsmodels 0.15 computes scale="X2" on the wrong scale (~1/mean cohort size)
    fit = sm.GLM(retained / size, exog, family=sm.families.Binomial(), var_weights=size).fit(
        scale=scale
    )
    intercept, slope = (float(v) for v in fit.params)
    cov = np.asarray(fit.cov_params())
    se_slope = float(np.sqrt(cov[1, 1]))

    prob = 1.0 / (1.0 + np.exp(-(intercept + slope * years)))
    weights = size / size.sum()
    density = prob * (1.0 - prob)
    ame = float(np.sum(weights * slope * density))
    # d(b p(1-p))/d(a, b) = (b p(1-p)(1-2p), p(1-p) + b p(1-p)(1-2p) x), averaged
    gradient = np.array(
        [
            np.sum(weights * slope * density * (1 - 2 * prob)),
            np.sum(weights * (density + slope * density * (1 - 2 * prob) * years)),
        ]
    )
    se_ame = float(np.sqrt(gradient @ cov @ gradient))
    result = TrendResult(
        k=int(k),
        n_cohorts=len(rows),
        customers=int(size.sum()),
        first_cohort=starts.iloc[0],
        last_cohort=starts.iloc[-1],
        mean_retention=float(retained.sum() / size.sum()),
        pp_per_year=100 * ame,
        pp_ci_lower=100 * (ame - _Z95 * se_ame),
        pp_ci_upper=100 * (ame + _Z95 * se_ame),
        odds_ratio_per_year=float(np.exp(slope)),
        or_ci_lower=float(np.exp(slope - _Z95 * se_slope)),
        or_ci_upper=float(np.exp(slope + _Z95 * se_slope)),
        p_value=float(2 * stats.norm.sf(abs(slope) / se_slope)),
        dispersion=float(fit.scale),
        dispersion_method="quasi-binomial, Pearson chi2/df"
        if dispersion == "pearson"
        else "binomial (dispersion 1)",
        left_out=left_out,
    )
    log.info("retention trend at k=%d: %s", k, result.describe())
    return result


def _newcombe_diff(
    x1: float, n1: float, x2: float, n2: float, *, level: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score CI (method 10) of p1 - p2 from two Wilson intervals."""
    z = float(stats.norm.ppf(0.5 + level / 2))

    def wilson(x: float, n: float) -> tuple[float, float]:
        p = x / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return centre - half, centre + half

    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1)
    l2, u2 = wilson(x2, n2)
    diff = p1 - p2
    lower = diff - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = diff + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return float(lower), float(upper)


def channel_gap(
    cohort_retention: pd.DataFrame,
    *,
    k: int,
    channel_col: str = "dimension_value",
    dimension: str | None = "acquisition_channel",
    definition: str = "on",
    min_customers: int = 30,
) -> ChannelGap:
    """The best and the worst acquisition channel at k periods, and the gap between them.

    Transforms one row per cohort x channel (*cohort_start, <channel_col>, cohort_size,
    customers* retained at k; the tidy table of :func:`crmlib.cohorts.cohort_retention` is
    filtered to ``dimension``, ``periods_since == k``, ``definition`` and ``observed``) into
    a :class:`ChannelGap`. Each channel's retention is pooled over the cohorts where k is
    observed (sum of retained / sum of cohort sizes); channels with fewer than
    ``min_customers`` customers are left out, and so are cohorts marked ``present_at_start``
    (not acquisition cohorts, see :func:`crmlib.cohorts.data_start`). The 95% CI of the gap (best - worst) is
    Newcombe's hybrid score interval (method 10), equal to statsmodels'
    ``confint_proportions_2indep(method="newcomb")``. The interval treats the two channels as
    chosen in advance: picking the extremes after looking makes the gap an upward-biased
    estimate, so read it as descriptive. Pooling treats customers as independent across
    cohorts.

    Parameters
    ----------
    cohort_retention : pd.DataFrame
        One row per cohort and channel.
    k : int
        Periods since acquisition.
    channel_col : str, default "dimension_value"
    dimension : str or None, default "acquisition_channel"
        Kept rows when the table has a ``dimension`` column.
    definition : str, default "on"
    min_customers : int, default 30

    Returns
    -------
    ChannelGap

    Raises
    ------
    DataContractError
        Missing columns, or fewer than two channels with ``min_customers`` customers.

    References
    ----------
    .. [1] Newcombe, R. G. (1998). Interval estimation for the difference between
       independent proportions: comparison of eleven methods. Statistics in Medicine 17,
       873-890.
    """
    rows = _at_k(
        cohort_retention,
        k=k,
        definition=definition,
        needed=["cohort_start", channel_col, "cohort_size", "customers"],
    )
    if dimension is not None and "dimension" in rows.columns:
        rows = rows[rows["dimension"] == dimension]
    pooled = rows.groupby(channel_col, observed=True)[["customers", "cohort_size"]].sum()
    pooled = pooled[pooled["cohort_size"] >= min_customers]
    if len(pooled) < 2:
        raise DataContractError(
            f"cohort retention: {len(pooled)} channels with >= {min_customers} customers "
            f"observed at k={k}; the gap needs 2"
        )
    retention = pooled["customers"] / pooled["cohort_size"]
    best, worst = str(retention.idxmax()), str(retention.idxmin())
    x1, n1 = float(pooled.loc[best, "customers"]), float(pooled.loc[best, "cohort_size"])
    x2, n2 = float(pooled.loc[worst, "customers"]), float(pooled.loc[worst, "cohort_size"])
    lower, upper = _newcombe_diff(x1, n1, x2, n2)
    return ChannelGap(
        k=int(k),
        best=best,
        worst=worst,
        best_retention=x1 / n1,
        worst_retention=x2 / n2,
        best_customers=int(n1),
        worst_customers=int(n2),
        gap_pp=100 * (x1 / n1 - x2 / n2),
        ci_lower_pp=100 * lower,
        ci_upper_pp=100 * upper,
        n_cohorts=int(rows["cohort_start"].nunique()),
    )
