"""Effects of every variant on every metric of every experiment: CUPED, CIs, corrected p-values."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import fdrcorrection

from crmlib.checks import require_columns
from crmlib.errors import DataContractError
from crmlib.experiments._effects import (
    EffectEstimate,
    cuped_theta,
    proportion_effect,
    ratio_effect,
    welch_effect,
)

__all__ = ["RESULT_COLUMNS", "analyze_experiment"]

log = logging.getLogger(__name__)

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
    control: Hashable = "control",
    metrics: Sequence[str],
    covariates: str | Mapping[str, str] | None = None,
    segment_cols: Sequence[str] | None = None,
    experiment_col: str = "experiment_id",
    alpha: float = 0.05,
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
    control : hashable, default "control"
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
    alpha : float, default 0.05
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
