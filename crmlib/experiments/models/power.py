"""What an A/B test could detect at its size, and how many customers the next one needs."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from crmlib.config import DEFAULTS

__all__ = [
    "power_and_mde",
    "sample_size",
    "POWER_COLUMNS",
    "SAMPLE_SIZE_COLUMNS",
    "power_table",
    "sample_size_table",
]

log = logging.getLogger(__name__)


def _baseline_sd(baseline: float, sd: float | None) -> tuple[str, float]:
    if sd is None:
        if not 0 < baseline < 1:
            raise ValueError(
                f"baseline={baseline}: a binary metric needs a rate in (0, 1); "
                "pass sd= for a continuous metric"
            )
        return "binary", math.sqrt(baseline * (1 - baseline))
    if sd <= 0:
        raise ValueError(f"sd={sd}: expected a positive standard deviation")
    return "continuous", float(sd)


def power_and_mde(
    n_control: int,
    n_treatment: int,
    *,
    baseline: float,
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> dict[str, Any]:
    """Minimum detectable effect of a two-arm test of the given sizes (two-sided z-test).

    ``MDE = (z_{1-alpha/2} + z_{power}) * sd * sqrt(1/n_control + 1/n_treatment)``, with
    ``sd = sqrt(baseline (1 - baseline))`` for a binary metric (``sd=None``) or the given
    ``sd`` for a continuous one.

    Returns
    -------
    dict
        ``kind`` ("binary"/"continuous"), ``mde_abs``, ``mde_rel`` (``mde_abs / baseline``),
        ``effect_size`` (standardized, Cohen's d), ``n_control``, ``n_treatment``, ``alpha``,
        ``power``.

    Examples
    --------
    >>> result = power_and_mde(5000, 5000, baseline=0.10)
    >>> result["kind"], round(result["mde_abs"], 4), round(result["mde_rel"], 3)
    ('binary', 0.0168, 0.168)
    """
    kind, unit_sd = _baseline_sd(baseline, sd)
    if n_control < 1 or n_treatment < 1:
        raise ValueError(f"n_control={n_control}, n_treatment={n_treatment}: expected >= 1")
    multiplier = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    effect_size = float(multiplier * math.sqrt(1 / n_control + 1 / n_treatment))
    mde_abs = effect_size * unit_sd
    return {
        "kind": kind,
        "mde_abs": mde_abs,
        "mde_rel": mde_abs / baseline if baseline else math.nan,
        "effect_size": effect_size,
        "n_control": int(n_control),
        "n_treatment": int(n_treatment),
        "alpha": alpha,
        "power": power,
    }


def sample_size(
    baseline: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    sd: float | None = None,
) -> int:
    """Customers needed per arm (equal allocation) to detect an absolute effect ``mde``.

    The inverse of :func:`power_and_mde`: ``n = 2 ((z_{1-alpha/2} + z_{power}) sd / mde)^2``
    rounded up, with ``sd = sqrt(baseline (1 - baseline))`` for a binary metric (``sd=None``).

    Examples
    --------
    >>> sample_size(0.10, 0.01)
    14128
    >>> sample_size(50.0, 2.0, sd=20.0)
    1570
    """
    _, unit_sd = _baseline_sd(baseline, sd)
    if mde == 0:
        raise ValueError("mde=0: expected a non-zero absolute effect")
    multiplier = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return int(math.ceil(2 * (multiplier * unit_sd / abs(mde)) ** 2))


#: Columns of :func:`power_table`, in order.
POWER_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "variant",
    "metric",
    "metric_kind",
    "n_control",
    "n",
    "baseline",
    "sd",
    "mde_abs",
    "mde_rel",
    "observed_diff",
    "detectable",
)


#: Columns of :func:`sample_size_table`, in order.
SAMPLE_SIZE_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "metric",
    "metric_kind",
    "baseline",
    "sd",
    "relative_lift",
    "absolute_lift",
    "n_per_arm",
    "n_total",
)


def power_table(
    table: pd.DataFrame,
    results: pd.DataFrame,
    *,
    control: str = DEFAULTS.ab_test.control,
    alpha: float = DEFAULTS.ab_test.alpha,
    power: float = DEFAULTS.ab_test.power,
) -> pd.DataFrame:
    """Minimum detectable effect of every variant x metric at the sizes the test had.

    Transforms the experiment table (one row per customer) and the overall rows of
    :func:`crmlib.experiments.analyze_experiment` (binary and continuous metrics; ratio
    metrics are left out) into one row per experiment x variant x metric: ``baseline`` and
    ``sd`` of the control arm (raw values; ``sqrt(p (1 - p))`` for a binary metric, as
    :func:`crmlib.experiments.power_and_mde`), ``mde_abs`` =
    ``(z_{1-alpha/2} + z_power) * sd * sqrt(1 - variance_reduction) * sqrt(1/n_control +
    1/n)`` (:func:`crmlib.experiments.power_and_mde`; CUPED's variance reduction shrinks
    it), ``mde_rel`` = ``mde_abs / baseline``, the ``observed_diff`` and ``detectable``
    (``|observed_diff| >= mde_abs``). NaN when the control arm has no variance.

    Examples
    --------
    >>> table = pd.DataFrame({"experiment_id": "e", "variant": ["control"] * 4 + ["b"] * 4,
    ...                       "bought": [0, 1, 0, 0, 1, 1, 0, 1]})
    >>> results = pd.DataFrame({"experiment_id": ["e"], "variant": ["b"], "metric": ["bought"],
    ...     "segment_col": [None], "n": [4], "n_control": [4], "abs_diff": [0.5],
    ...     "variance_reduction": [0.0], "metric_kind": ["binary"]})
    >>> round(float(power_table(table, results)["mde_abs"].iloc[0]), 3)
    0.858
    """
    overall = results[
        results["segment_col"].isna() & results["metric_kind"].isin(["binary", "continuous"])
    ]
    controls = {
        str(experiment): arm
        for experiment, arm in table[table["variant"] == control].groupby("experiment_id")
    }
    rows: list[dict[str, Any]] = []
    for row in overall.itertuples(index=False):
        arm = controls[str(row.experiment_id)][row.metric].to_numpy(np.float64)
        baseline = float(arm.mean())
        if str(row.metric_kind) == "binary":
            sd = math.sqrt(baseline * (1.0 - baseline))
        else:
            sd = float(arm.std(ddof=1)) if len(arm) > 1 else math.nan
        reduction = float(row.variance_reduction) if np.isfinite(row.variance_reduction) else 0.0
        effective = sd * math.sqrt(max(1.0 - reduction, 0.0))
        mde = math.nan
        if np.isfinite(effective) and effective > 0:
            mde = float(
                power_and_mde(
                    int(row.n_control),
                    int(row.n),
                    baseline=1.0,
                    sd=effective,
                    alpha=alpha,
                    power=power,
                )["mde_abs"]
            )
        rows.append(
            {
                "experiment_id": str(row.experiment_id),
                "variant": str(row.variant),
                "metric": str(row.metric),
                "metric_kind": str(row.metric_kind),
                "n_control": int(row.n_control),
                "n": int(row.n),
                "baseline": baseline,
                "sd": effective,
                "mde_abs": mde,
                "mde_rel": mde / baseline if baseline else math.nan,
                "observed_diff": float(row.abs_diff),
                "detectable": bool(abs(float(row.abs_diff)) >= mde) if np.isfinite(mde) else False,
            }
        )
    return pd.DataFrame(rows, columns=list(POWER_COLUMNS))


def sample_size_table(
    mde_table: pd.DataFrame,
    *,
    primary_metric: str,
    planned_lifts: Sequence[float] = tuple(DEFAULTS.ab_test.planned_lifts),
    alpha: float = DEFAULTS.ab_test.alpha,
    power: float = DEFAULTS.ab_test.power,
) -> pd.DataFrame:
    """Customers the next two-arm test needs to detect each planned lift of the primary metric.

    Transforms :func:`power_table` (its rows of ``primary_metric``, first variant of each
    experiment: the control's baseline and the sd, CUPED-reduced when CUPED was applied)
    into one row per experiment x planned relative lift: ``absolute_lift`` = baseline x
    lift, ``n_per_arm`` from :func:`crmlib.experiments.sample_size` (equal allocation,
    two-sided ``alpha``, ``power``) and ``n_total`` = 2 x n_per_arm.

    Examples
    --------
    >>> mde = pd.DataFrame({"experiment_id": ["e"], "variant": ["b"], "metric": ["bought"],
    ...                     "metric_kind": ["binary"], "baseline": [0.10], "sd": [0.3]})
    >>> sample_size_table(mde, primary_metric="bought", planned_lifts=[0.10])["n_per_arm"].tolist()
    [14128]
    """
    rows: list[dict[str, Any]] = []
    primary = mde_table[mde_table["metric"] == primary_metric]
    for experiment, of_experiment in primary.groupby("experiment_id", sort=True):
        first = of_experiment.sort_values("variant", kind="stable").iloc[0]
        baseline, sd = float(first["baseline"]), float(first["sd"])
        for lift in planned_lifts:
            absolute = baseline * float(lift)
            usable = np.isfinite(sd) and sd > 0 and absolute != 0
            n = sample_size(1.0, absolute, sd=sd, alpha=alpha, power=power) if usable else None
            rows.append(
                {
                    "experiment_id": str(experiment),
                    "metric": primary_metric,
                    "metric_kind": str(first["metric_kind"]),
                    "baseline": baseline,
                    "sd": sd,
                    "relative_lift": float(lift),
                    "absolute_lift": absolute,
                    "n_per_arm": n,
                    "n_total": 2 * n if n is not None else None,
                }
            )
    return pd.DataFrame(rows, columns=list(SAMPLE_SIZE_COLUMNS)).astype(
        {"n_per_arm": "Int64", "n_total": "Int64"}
    )
