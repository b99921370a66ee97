"""Effects of every variant on every metric of every experiment: CUPED, CIs, corrected p-values.

The estimators work on summary statistics held in numpy arrays of any (broadcastable) shape,
so one call can analyse thousands of simulated experiments at once; :func:`analyze_experiment`
calls the same functions with scalars, one row per customer in, one row per experiment x
variant x metric (x segment) out.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from statsmodels.stats.multitest import fdrcorrection

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError

__all__ = [
    "EffectEstimate",
    "arm_moments",
    "proportion_effect",
    "welch_effect",
    "ratio_effect",
    "cuped_theta",
    "RESULT_COLUMNS",
    "analyze_experiment",
]

log = logging.getLogger(__name__)


FloatArray = NDArray[np.float64]


class EffectEstimate(NamedTuple):
    """Treatment-vs-control estimates, each an array (or 0-d array) of the input's shape."""

    mean: FloatArray
    control_mean: FloatArray
    abs_diff: FloatArray
    abs_ci_low: FloatArray
    abs_ci_high: FloatArray
    rel_lift: FloatArray
    rel_ci_low: FloatArray
    rel_ci_high: FloatArray
    p_value: FloatArray
    se: FloatArray


def _f(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def arm_moments(values: ArrayLike, *, axis: int = -1) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``(n, mean, var)`` of ``values`` along ``axis``; ``var`` uses ``ddof=1``.

    Examples
    --------
    >>> n, mean, var = arm_moments([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])
    >>> n.tolist(), mean.tolist(), var.tolist()
    ([3.0, 3.0], [2.0, 1.0], [1.0, 3.0])
    """
    array = _f(values)
    n = np.full(np.delete(array.shape, axis % array.ndim), array.shape[axis], dtype=np.float64)
    mean = array.mean(axis=axis)
    var = array.var(axis=axis, ddof=1) if array.shape[axis] > 1 else np.full_like(mean, np.nan)
    return n, mean, var


def _relative(
    mean_t: FloatArray,
    mean_c: FloatArray,
    var_mean_t: FloatArray,
    var_mean_c: FloatArray,
    z: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Relative lift ``mean_t / mean_c - 1`` and its delta-method CI (independent arms)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean_t / mean_c
        se = np.sqrt(var_mean_t / mean_c**2 + mean_t**2 * var_mean_c / mean_c**4)
        se = np.where(se > 0, se, np.nan)
    return ratio - 1.0, ratio - 1.0 - z * se, ratio - 1.0 + z * se


def proportion_effect(
    count_t: ArrayLike,
    n_t: ArrayLike,
    count_c: ArrayLike,
    n_c: ArrayLike,
    *,
    alpha: float = 0.05,
) -> EffectEstimate:
    """Difference of two proportions: unpooled Wald CI, p-value from the pooled z-test.

    Parameters
    ----------
    count_t, n_t, count_c, n_c : array-like
        Successes and customers in the treatment and the control arm (broadcastable arrays).
    alpha : float, default 0.05
        Two-sided level; the CIs are ``1 - alpha``.

    Returns
    -------
    EffectEstimate
        ``abs_*`` on the difference ``p_t - p_c``; ``rel_*`` on ``p_t / p_c - 1`` (delta
        method). A zero standard error gives NaN for the p-value and the CI.

    Examples
    --------
    >>> est = proportion_effect(60, 500, 45, 500)
    >>> round(float(est.abs_diff), 3), round(float(est.p_value), 4)
    (0.03, 0.1218)
    """
    x_t, m_t, x_c, m_c = _f(count_t), _f(n_t), _f(count_c), _f(n_c)
    z = float(stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_t, p_c = x_t / m_t, x_c / m_c
        var_t, var_c = p_t * (1 - p_t) / m_t, p_c * (1 - p_c) / m_c
        diff = p_t - p_c
        se = np.sqrt(var_t + var_c)
        se = np.where(se > 0, se, np.nan)
        pooled = (x_t + x_c) / (m_t + m_c)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / m_t + 1 / m_c))
        se0 = np.where(se0 > 0, se0, np.nan)
        p_value = 2 * stats.norm.sf(np.abs(diff / se0))
    rel, rel_low, rel_high = _relative(p_t, p_c, var_t, var_c, z)
    return EffectEstimate(
        p_t, p_c, diff, diff - z * se, diff + z * se, rel, rel_low, rel_high, _f(p_value), se
    )


def welch_effect(
    mean_t: ArrayLike,
    var_t: ArrayLike,
    n_t: ArrayLike,
    mean_c: ArrayLike,
    var_c: ArrayLike,
    n_c: ArrayLike,
    *,
    alpha: float = 0.05,
) -> EffectEstimate:
    """Difference of two means by Welch's t-test (unequal variances), as scipy computes it.

    Parameters
    ----------
    mean_t, var_t, n_t, mean_c, var_c, n_c : array-like
        Mean, sample variance (``ddof=1``) and size of the treatment and control arms.
    alpha : float, default 0.05
        Two-sided level; the CIs are ``1 - alpha``.

    Returns
    -------
    EffectEstimate
        ``abs_*`` from the Welch t distribution with Welch-Satterthwaite degrees of freedom
        (``scipy.stats.ttest_ind(equal_var=False)``); ``rel_*`` by the delta method with a
        normal quantile. A zero standard error gives NaN for the p-value and the CIs.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. Biometrika 34, 28-35.

    Examples
    --------
    >>> est = welch_effect(10.5, 4.0, 100, 10.0, 9.0, 120)
    >>> round(float(est.abs_diff), 2), round(float(est.p_value), 4)
    (0.5, 0.1419)
    """
    m_t, v_t, k_t = _f(mean_t), _f(var_t), _f(n_t)
    m_c, v_c, k_c = _f(mean_c), _f(var_c), _f(n_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        vm_t, vm_c = v_t / k_t, v_c / k_c
        se = np.sqrt(vm_t + vm_c)
        se = np.where(se > 0, se, np.nan)
        dof = (vm_t + vm_c) ** 2 / (vm_t**2 / (k_t - 1) + vm_c**2 / (k_c - 1))
        diff = m_t - m_c
        t_crit = stats.t.ppf(1 - alpha / 2, dof)
        p_value = 2 * stats.t.sf(np.abs(diff / se), dof)
    z = float(stats.norm.ppf(1 - alpha / 2))
    rel, rel_low, rel_high = _relative(m_t, m_c, vm_t, vm_c, z)
    return EffectEstimate(
        m_t,
        m_c,
        diff,
        diff - t_crit * se,
        diff + t_crit * se,
        rel,
        rel_low,
        rel_high,
        _f(p_value),
        se,
    )


def _ratio_var(
    num_mean: FloatArray,
    den_mean: FloatArray,
    num_var: FloatArray,
    den_var: FloatArray,
    cov: FloatArray,
    n: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num_mean / den_mean
        var = (num_var - 2 * ratio * cov + ratio**2 * den_var) / (n * den_mean**2)
    return ratio, var


def ratio_effect(
    num_mean_t: ArrayLike,
    den_mean_t: ArrayLike,
    num_var_t: ArrayLike,
    den_var_t: ArrayLike,
    cov_t: ArrayLike,
    n_t: ArrayLike,
    num_mean_c: ArrayLike,
    den_mean_c: ArrayLike,
    num_var_c: ArrayLike,
    den_var_c: ArrayLike,
    cov_c: ArrayLike,
    n_c: ArrayLike,
    *,
    alpha: float = 0.05,
) -> EffectEstimate:
    """Difference of two ratio metrics (sum of numerator / sum of denominator) by the delta method.

    Each arm's ratio ``R = mean(num) / mean(den)`` over customers has variance
    ``(var(num) - 2 R cov(num, den) + R^2 var(den)) / (n mean(den)^2)``; the difference and the
    relative lift use normal quantiles, the p-value a z-test.

    References
    ----------
    Deng, A., Knoblich, U. & Lu, J. (2018). Applying the delta method in metric analytics:
    a practical guide with novel ideas. KDD 2018.

    Examples
    --------
    >>> est = ratio_effect(30.0, 1.5, 400.0, 0.5, 8.0, 200, 25.0, 1.4, 380.0, 0.5, 7.0, 200)
    >>> round(float(est.mean), 2), round(float(est.control_mean), 2)
    (20.0, 17.86)
    """
    z = float(stats.norm.ppf(1 - alpha / 2))
    r_t, var_t = _ratio_var(
        _f(num_mean_t), _f(den_mean_t), _f(num_var_t), _f(den_var_t), _f(cov_t), _f(n_t)
    )
    r_c, var_c = _ratio_var(
        _f(num_mean_c), _f(den_mean_c), _f(num_var_c), _f(den_var_c), _f(cov_c), _f(n_c)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = r_t - r_c
        se = np.sqrt(var_t + var_c)
        se = np.where(se > 0, se, np.nan)
        p_value = 2 * stats.norm.sf(np.abs(diff / se))
    rel, rel_low, rel_high = _relative(r_t, r_c, var_t, var_c, z)
    return EffectEstimate(
        r_t, r_c, diff, diff - z * se, diff + z * se, rel, rel_low, rel_high, _f(p_value), se
    )


def cuped_theta(
    outcome: ArrayLike, covariate: ArrayLike, *, axis: int = -1
) -> tuple[FloatArray, FloatArray]:
    """CUPED slope ``theta = cov(Y, X) / var(X)`` and ``mean(X)`` along ``axis``.

    Pass every arm of an experiment together (pooled); the adjusted outcome is
    ``Y - theta * (X - mean(X))``. A covariate with zero variance gives ``theta = NaN``.

    References
    ----------
    Deng, A., Xu, Y., Kohavi, R. & Walker, T. (2013). Improving the sensitivity of online
    controlled experiments by utilizing pre-experiment data. WSDM 2013.

    Examples
    --------
    >>> theta, x_mean = cuped_theta([2.0, 4.0, 6.0, 9.0], [1.0, 2.0, 3.0, 4.0])
    >>> round(float(theta), 2), float(x_mean)
    (2.3, 2.5)
    """
    y, x = _f(outcome), _f(covariate)
    x_mean = x.mean(axis=axis)
    x_dev = x - np.expand_dims(x_mean, axis)
    y_dev = y - np.expand_dims(y.mean(axis=axis), axis)
    cov = (x_dev * y_dev).sum(axis=axis)
    var = (x_dev**2).sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(var > 0, cov / var, np.nan)
    return _f(theta), _f(x_mean)


RESULT_COLUMNS = [
    "experiment_id",
    "variant",
    "metric",
    "segment_col",
    "segment",
    "n",
    "n_control",
    "mean",
    "control_mean",
    "abs_diff",
    "abs_ci_low",
    "abs_ci_high",
    "rel_lift",
    "rel_ci_low",
    "rel_ci_high",
    "p_value",
    "p_adjusted",
    "cuped",
    "covariate",
    "variance_reduction",
    "raw_mean",
    "raw_control_mean",
    "raw_abs_diff",
    "raw_abs_ci_low",
    "raw_abs_ci_high",
    "raw_p_value",
    "metric_kind",
    "note",
]


_TABLE = "experiment table"


_SINGLE_EXPERIMENT = "experiment"


_MISSING_SEGMENT = "(missing)"


_ESTIMATE_FIELDS = [
    "mean",
    "control_mean",
    "abs_diff",
    "abs_ci_low",
    "abs_ci_high",
    "rel_lift",
    "rel_ci_low",
    "rel_ci_high",
    "p_value",
]


#: The unadjusted estimate kept beside a CUPED one (the same numbers when CUPED is not applied).
_RAW_FIELDS = {
    "raw_mean": "mean",
    "raw_control_mean": "control_mean",
    "raw_abs_diff": "abs_diff",
    "raw_abs_ci_low": "abs_ci_low",
    "raw_abs_ci_high": "abs_ci_high",
    "raw_p_value": "p_value",
}


def _covariate_map(
    covariates: str | Mapping[str, str] | None, metrics: Sequence[str]
) -> dict[str, str]:
    if covariates is None:
        return {}
    if isinstance(covariates, str):
        return dict.fromkeys(metrics, covariates)
    unknown = [metric for metric in covariates if metric not in metrics]
    if unknown:
        raise DataContractError(
            f"{_TABLE}: covariates given for '{unknown[0]}', which is not among the metrics "
            f"{list(metrics)}; CUPED applies to binary and continuous metrics only"
        )
    return dict(covariates)


def _ratio_map(
    ratio_metrics: Mapping[str, tuple[str, str]] | Sequence[tuple[str, str]] | None,
) -> dict[str, tuple[str, str]]:
    if ratio_metrics is None:
        return {}
    if isinstance(ratio_metrics, Mapping):
        pairs = {str(name): pair for name, pair in ratio_metrics.items()}
    else:
        pairs = {f"{pair[0]}/{pair[1]}": pair for pair in ratio_metrics}
    for name, pair in pairs.items():
        if len(pair) != 2:
            raise DataContractError(
                f"{_TABLE}: ratio metric '{name}' is {pair!r}; expected (numerator_col, "
                "denominator_col)"
            )
    return {name: (str(pair[0]), str(pair[1])) for name, pair in pairs.items()}


def _is_binary(values: pd.Series) -> bool:
    unique = pd.unique(values.to_numpy(dtype=np.float64))
    return bool(np.isin(unique, [0.0, 1.0]).all())


def _check_experiment(
    frame: pd.DataFrame,
    experiment: str,
    *,
    variant_col: str,
    control: Hashable,
    value_cols: Sequence[str],
) -> None:
    for column in [variant_col, *value_cols]:
        missing = int(frame[column].isna().sum())
        if missing:
            raise DataContractError(
                f"experiment '{experiment}': column '{column}' has {missing} missing value(s); "
                "expected a value for every customer (fill or drop them before the analysis)"
            )
    for column in value_cols:
        if not pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(
            frame[column]
        ):
            raise DataContractError(
                f"experiment '{experiment}': column '{column}' has dtype {frame[column].dtype}; "
                "expected numbers"
            )
    found = sorted(map(str, pd.unique(frame[variant_col])))
    if control not in set(pd.unique(frame[variant_col])):
        raise DataContractError(
            f"experiment '{experiment}': column '{variant_col}' has no control arm "
            f"'{control}'; found {found}, expected one of them to be '{control}' "
            "(pass control=...)"
        )
    if len(found) < 2:
        raise DataContractError(
            f"experiment '{experiment}': column '{variant_col}' has only the control arm "
            f"'{control}'; expected at least one variant"
        )


def _empty_variants(table: pd.DataFrame, variant_col: str, experiments: list[str]) -> None:
    column = table[variant_col]
    if isinstance(column.dtype, pd.CategoricalDtype):
        counts = column.value_counts()
        empty = [str(level) for level, count in counts.items() if count == 0]
        if empty:
            raise DataContractError(
                f"experiment(s) {experiments}: column '{variant_col}' declares variant(s) "
                f"{empty} with no customers; expected every variant to have customers "
                "(drop unused categories if they are not part of the test)"
            )


def _estimate(
    y_t: np.ndarray,
    y_c: np.ndarray,
    kind: str,
    alpha: float,
) -> EffectEstimate:
    if kind == "binary":
        return proportion_effect(y_t.sum(), len(y_t), y_c.sum(), len(y_c), alpha=alpha)
    return _welch(y_t, y_c, alpha)


def _var(values: np.ndarray) -> float:
    return float(values.var(ddof=1)) if len(values) > 1 else float("nan")


def _welch(y_t: np.ndarray, y_c: np.ndarray, alpha: float) -> EffectEstimate:
    return welch_effect(
        y_t.mean(), _var(y_t), len(y_t), y_c.mean(), _var(y_c), len(y_c), alpha=alpha
    )


def _ratio(
    num_t: np.ndarray, den_t: np.ndarray, num_c: np.ndarray, den_c: np.ndarray, alpha: float
) -> EffectEstimate:
    def moments(num: np.ndarray, den: np.ndarray) -> list[float]:
        cov = float(np.cov(num, den, ddof=1)[0, 1]) if len(num) > 1 else float("nan")
        return [num.mean(), den.mean(), _var(num), _var(den), cov, len(num)]

    return ratio_effect(*moments(num_t, den_t), *moments(num_c, den_c), alpha=alpha)


def _nan_row(note: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys([*_ESTIMATE_FIELDS, *_RAW_FIELDS], np.nan)
    row.update(cuped=False, covariate=None, variance_reduction=0.0, note=note)
    return row


def _population_rows(
    population: pd.DataFrame,
    *,
    experiment: str,
    variants: list[Hashable],
    variant_col: str,
    control: Hashable,
    metric: str,
    kind: str,
    covariate: str | None,
    ratio: tuple[str, str] | None,
    alpha: float,
) -> list[dict[str, Any]]:
    """One row per variant for one metric on one population (all customers or a segment)."""
    arm = population[variant_col].to_numpy()
    is_control = arm == control
    if ratio is not None:
        values = population[list(ratio)].to_numpy(dtype=np.float64)
        outcome = values[:, 0]
    else:
        outcome = population[metric].to_numpy(dtype=np.float64)
    adjusted: np.ndarray | None = None
    theta = np.nan
    if covariate is not None and len(population) > 1:
        x = population[covariate].to_numpy(dtype=np.float64)
        theta_array, x_mean = cuped_theta(outcome, x)
        theta = float(theta_array)
        if np.isnan(theta):
            log.info(
                "experiment '%s': covariate '%s' has no variance; CUPED skipped for '%s'",
                experiment,
                covariate,
                metric,
            )
        else:
            adjusted = outcome - theta * (x - float(x_mean))
    rows: list[dict[str, Any]] = []
    for variant in variants:
        is_variant = arm == variant
        n_t, n_c = int(is_variant.sum()), int(is_control.sum())
        base = {"variant": variant, "n": n_t, "n_control": n_c}
        if n_t == 0 or n_c == 0:
            arm_name = "control" if n_c == 0 else f"variant '{variant}'"
            rows.append(base | _nan_row(f"no customers in the {arm_name} here"))
            continue
        note = ""
        if ratio is not None:
            estimate = _ratio(
                values[is_variant, 0],
                values[is_variant, 1],
                values[is_control, 0],
                values[is_control, 1],
                alpha,
            )
            if values[is_variant, 1].sum() == 0 or values[is_control, 1].sum() == 0:
                note = f"denominator '{ratio[1]}' sums to 0 in an arm: ratio not defined"
        else:
            estimate = _estimate(outcome[is_variant], outcome[is_control], kind, alpha)
        unadjusted = {raw: float(getattr(estimate, name)) for raw, name in _RAW_FIELDS.items()}
        cuped = False
        reduction = 0.0
        if adjusted is not None:
            raw = _welch(outcome[is_variant], outcome[is_control], alpha)
            estimate = _welch(adjusted[is_variant], adjusted[is_control], alpha)
            cuped = True
            with np.errstate(divide="ignore", invalid="ignore"):
                reduction = float(1 - (estimate.se / raw.se) ** 2)
            if np.isnan(reduction):
                reduction = 0.0
        if not note and min(n_t, n_c) < 2:
            note = "fewer than 2 customers in an arm: no variance, p-value not defined"
        elif not note and np.isnan(estimate.p_value):
            note = "metric is constant in this comparison: no variance, p-value not defined"
        if note:
            log.info(
                "experiment '%s', metric '%s', variant '%s': %s", experiment, metric, variant, note
            )
        row = {field: float(getattr(estimate, field)) for field in _ESTIMATE_FIELDS}
        rows.append(
            base
            | row
            | unadjusted
            | {
                "cuped": cuped,
                "covariate": covariate if cuped else None,
                "variance_reduction": reduction,
                "note": note,
            }
        )
    return rows


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values.

    The same numbers as ``statsmodels.stats.multitest.multipletests(method="holm")``, which
    runs a full ``gc.collect()`` on every call (seconds for many experiments).
    """
    order = np.argsort(p_values, kind="stable")
    steps = np.arange(len(p_values), 0, -1)
    adjusted_sorted = np.minimum(np.maximum.accumulate(p_values[order] * steps), 1.0)
    adjusted = np.empty_like(adjusted_sorted)
    adjusted[order] = adjusted_sorted
    return adjusted


def _adjust(results: pd.DataFrame) -> pd.Series:
    """Holm across variants x metrics (overall rows), BH across segments (segment rows)."""
    adjusted = pd.Series(np.nan, index=results.index, dtype=np.float64)
    overall = results["segment_col"].isna()
    for _, group in results[overall].groupby("experiment_id", sort=False):
        valid = group["p_value"].dropna()
        if len(valid):
            adjusted.loc[valid.index] = _holm(valid.to_numpy(dtype=np.float64))
    segment_groups = results[~overall].groupby(
        ["experiment_id", "variant", "metric", "segment_col"], sort=False
    )
    for _, group in segment_groups:
        valid = group["p_value"].dropna()
        if len(valid):
            adjusted.loc[valid.index] = fdrcorrection(valid.to_numpy(dtype=np.float64))[1]
    return adjusted


def analyze_experiment(
    table: pd.DataFrame,
    *,
    variant_col: str = "variant",
    control: Hashable = DEFAULTS.ab_test.control,
    metrics: Sequence[str],
    covariates: str | Mapping[str, str] | None = None,
    segment_cols: Sequence[str] | None = None,
    experiment_col: str = "experiment_id",
    alpha: float = DEFAULTS.ab_test.alpha,
    ratio_metrics: Mapping[str, tuple[str, str]] | Sequence[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Estimate the effect of every variant against control on every metric.

    Transforms *experiment_id, variant, metric columns, optional covariates and segments*
    (one row per customer per experiment) into a tidy table with one row per experiment x
    variant (not control) x metric, plus one row per segment level when ``segment_cols``.

    Parameters
    ----------
    table : pd.DataFrame
        One row per customer (per experiment): the arm, outcome columns and optional
        pre-period covariates. Without ``experiment_col`` the whole table is one experiment,
        reported as ``"experiment"``.
    variant_col : str, default "variant"
        Column holding the arm of each customer.
    control : hashable, default ``ab_test.control``
        The control arm's value in ``variant_col``.
    metrics : sequence of str
        Outcome columns. A column holding only 0/1 is ``binary`` (difference of proportions,
        unpooled Wald CI, pooled z-test p-value); any other numeric column is ``continuous``
        (Welch t-test CI and p-value).
    covariates : str or mapping of str to str, optional
        Pre-period covariate for CUPED: one column for all metrics, or ``{metric: column}``.
        ``theta = cov(Y, X) / var(X)`` pooled over all arms of the population analysed (the
        experiment, or the segment), ``Y_adj = Y - theta (X - mean X)``, then Welch on
        ``Y_adj``. Skipped (``cuped`` False) when the covariate has no variance.
        The unadjusted estimate stays beside it in the ``raw_*`` columns.
    segment_cols : sequence of str, optional
        Columns to break effects down by; a missing segment value becomes ``"(missing)"``.
    experiment_col : str, default "experiment_id"
        Column identifying the experiment.
    alpha : float, default ``ab_test.alpha``
        Two-sided level; CIs are ``1 - alpha``.
    ratio_metrics : mapping or sequence of (str, str), optional
        Ratio metrics as ``{"name": (numerator_col, denominator_col)}`` or a list of pairs
        (named ``"numerator/denominator"``), e.g. revenue per order; estimated as
        ``sum(num) / sum(den)`` per arm with delta-method CIs. CUPED is not applied to them.

    Returns
    -------
    pd.DataFrame
        Columns :data:`RESULT_COLUMNS`. ``mean``/``control_mean`` are the arm means (CUPED
        adjusted when ``cuped``, on the column named in ``covariate``, missing otherwise);
        ``raw_mean``, ``raw_control_mean``, ``raw_abs_diff``, ``raw_abs_ci_low``,
        ``raw_abs_ci_high`` and ``raw_p_value`` are the same comparison without CUPED (equal
        to the others when CUPED is not applied); ``abs_*`` the difference, ``rel_*`` the relative lift
        ``mean / control_mean - 1`` with a delta-method CI. ``p_adjusted`` is Holm across
        variants x metrics within an experiment for the overall rows (``segment_col`` NaN),
        Benjamini-Hochberg across the levels of one segment column within experiment x
        variant x metric for segment rows. ``variance_reduction`` is ``1 - Var_cuped /
        Var_raw`` of the difference (0 when CUPED is not applied). ``note`` explains NaNs
        (constant metric, empty arm in a segment), empty otherwise.

    Raises
    ------
    DataContractError
        A missing column, a missing value in the arm, metric or covariate columns, a missing
        control arm, no variant, or a declared (categorical) variant without customers; the
        message names the experiment and the column.

    References
    ----------
    Deng, A., Xu, Y., Kohavi, R. & Walker, T. (2013). Improving the sensitivity of online
    controlled experiments by utilizing pre-experiment data. WSDM 2013.
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scand. J. Stat.
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B.

    Examples
    --------
    >>> customers = pd.DataFrame({
    ...     "experiment_id": ["E1"] * 8,
    ...     "variant": ["control"] * 4 + ["email"] * 4,
    ...     "ordered": [0, 1, 0, 0, 1, 1, 0, 1],
    ...     "revenue": [0.0, 20.0, 0.0, 0.0, 25.0, 30.0, 0.0, 15.0],
    ... })
    >>> results = analyze_experiment(customers, metrics=["ordered", "revenue"])
    >>> results[["metric", "metric_kind", "n", "abs_diff", "rel_lift"]]
        metric metric_kind  n  abs_diff  rel_lift
    0  ordered      binary  4       0.5       2.0
    1  revenue  continuous  4      12.5       2.5
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha}: expected a level in (0, 1), e.g. 0.05")
    metrics = list(metrics)
    covariate_of = _covariate_map(covariates, metrics)
    ratio_of = _ratio_map(ratio_metrics)
    segments = list(segment_cols or [])
    if not metrics and not ratio_of:
        raise DataContractError(
            f"{_TABLE}: no metrics given; expected metrics=[...] or ratio_metrics"
        )
    ratio_cols = [column for pair in ratio_of.values() for column in pair]
    value_cols = list(dict.fromkeys([*metrics, *covariate_of.values(), *ratio_cols]))
    require_columns(table, [variant_col, *value_cols, *segments], table_name=_TABLE)
    if experiment_col in table.columns:
        if table[experiment_col].isna().any():
            raise DataContractError(
                f"{_TABLE}: column '{experiment_col}' has {int(table[experiment_col].isna().sum())} "
                "missing value(s); expected an experiment id on every row"
            )
        experiments = sorted(pd.unique(table[experiment_col]), key=str)
    else:
        experiments = [_SINGLE_EXPERIMENT]
    _empty_variants(table, variant_col, [str(experiment) for experiment in experiments])

    rows: list[dict[str, Any]] = []
    for experiment in experiments:
        if experiment_col in table.columns:
            frame = table[table[experiment_col] == experiment]
        else:
            frame = table
        name = str(experiment)
        _check_experiment(
            frame, name, variant_col=variant_col, control=control, value_cols=value_cols
        )
        variants = sorted(
            (value for value in pd.unique(frame[variant_col]) if value != control), key=str
        )
        specs: list[tuple[str, str, str | None, tuple[str, str] | None]] = [
            (
                metric,
                "binary" if _is_binary(frame[metric]) else "continuous",
                covariate_of.get(metric),
                None,
            )
            for metric in metrics
        ]
        specs += [(metric, "ratio", None, pair) for metric, pair in ratio_of.items()]
        populations: list[tuple[str | None, str | None, pd.DataFrame]] = [(None, None, frame)]
        for segment_col in segments:
            levels = (
                frame[segment_col]
                .astype(object)
                .where(frame[segment_col].notna(), _MISSING_SEGMENT)
                .astype(str)
            )
            for level in sorted(pd.unique(levels)):
                populations.append((segment_col, level, frame[levels.to_numpy() == level]))
        for metric, kind, covariate, ratio in specs:
            for population_col, level, population in populations:
                for row in _population_rows(
                    population,
                    experiment=name,
                    variants=variants,
                    variant_col=variant_col,
                    control=control,
                    metric=metric,
                    kind=kind,
                    covariate=covariate,
                    ratio=ratio,
                    alpha=alpha,
                ):
                    rows.append(
                        row
                        | {
                            "experiment_id": name,
                            "metric": metric,
                            "segment_col": population_col,
                            "segment": level,
                            "metric_kind": kind,
                        }
                    )
    results = pd.DataFrame(rows)
    results["p_adjusted"] = _adjust(results)
    results = results.sort_values(
        ["experiment_id", "segment_col", "segment"], na_position="first", kind="stable"
    )
    results = results[RESULT_COLUMNS].reset_index(drop=True)
    return results.astype({"n": "int64", "n_control": "int64", "cuped": "bool"})
