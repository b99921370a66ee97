"""What an A/B test could detect at its size, and how many customers the next one needs."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.experiments._effects import power_and_mde, sample_size
from crmlib.experiments._report import too_small_words
from crmlib.experiments._small import small_arms
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "POWER_COLUMNS",
    "SAMPLE_SIZE_COLUMNS",
    "power_table",
    "sample_size_table",
    "describe_power",
]

log = logging.getLogger(__name__)

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
    control: str = "control",
    alpha: float = 0.05,
    power: float = 0.8,
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
    planned_lifts: Sequence[float] = (0.05, 0.10, 0.20),
    alpha: float = 0.05,
    power: float = 0.8,
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


def _share_or_value(value: float, kind: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{100 * value:.1f} points" if kind == "binary" else f"{value:,.2f}"


def _baseline_words(value: float, kind: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{100 * value:.1f}%" if kind == "binary" else f"{value:,.2f}"


def describe_power(
    mde_table: pd.DataFrame,
    sizes: pd.DataFrame,
    *,
    primary_metric: str,
    power: float = 0.8,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: what each test could detect at its size, and what the next test needs.

    A variant whose arm or control arm holds 1..``min_cell_size`` - 1 customers is said to
    be too small to report (its detectable effect would reveal the arms' sizes); an
    experiment whose control arm is that small gets no plan for the next test (its baseline
    is a rate on too few customers).

    Examples
    --------
    >>> mde = pd.DataFrame({"experiment_id": ["e"], "variant": ["b"], "metric": ["bought"],
    ...     "metric_kind": ["binary"], "n_control": [500], "n": [500], "baseline": [0.2],
    ...     "mde_abs": [0.071], "mde_rel": [0.355], "observed_diff": [0.03]})
    >>> sizes = pd.DataFrame({"experiment_id": ["e"], "relative_lift": [0.1],
    ...                       "n_per_arm": [6281]})
    >>> print(describe_power(mde, sizes, primary_metric="bought"))
    - **e / b:** with 500 control and 500 b customers the test had an 80% chance to detect a change in bought of 7.1 points or more (36% of the control's 20.0%); the observed difference was 3.0 points, below that.
    - **Next test of e:** to detect a lift in bought of +10% plan 6,281 customers per arm (two arms).
    """
    primary = mde_table[mde_table["metric"] == primary_metric]
    if primary.empty:
        return f"No power calculation: '{primary_metric}' was not analysed."
    rule = SmallCells(min_cell_size)
    small = small_arms(primary, rule)
    small_control = {
        str(experiment)
        for experiment, n_control in zip(
            primary["experiment_id"], primary["n_control"], strict=True
        )
        if rule.is_small(n_control)
    }
    lines = []
    for row, too_small in zip(primary.itertuples(index=False), small, strict=True):
        kind = str(row.metric_kind)
        if too_small:
            words = too_small_words(str(row.variant), row.n, row.n_control, rule)
            lines.append(f"- **{row.experiment_id} / {row.variant}:** {words}.")
            continue
        if not np.isfinite(row.mde_abs):
            lines.append(
                f"- **{row.experiment_id} / {row.variant}:** {primary_metric} does not vary in "
                "the control arm, so no detectable effect can be computed."
            )
            continue
        side = "at or above" if abs(row.observed_diff) >= row.mde_abs else "below"
        relative = f"{row.mde_rel:.0%}" if np.isfinite(row.mde_rel) else "n/a"
        lines.append(
            f"- **{row.experiment_id} / {row.variant}:** with {rule.count(int(row.n_control))} "
            f"control and {rule.count(int(row.n))} {row.variant} customers the test had an {power:.0%} chance to "
            f"detect a change in {primary_metric} of {_share_or_value(row.mde_abs, kind)} or "
            f"more ({relative} of the control's {_baseline_words(row.baseline, kind)}); the "
            f"observed difference was {_share_or_value(row.observed_diff, kind)}, {side} that."
        )
    for experiment, rows in sizes.groupby("experiment_id", sort=True):
        if str(experiment) in small_control:
            lines.append(
                f"- **Next test of {experiment}:** no plan: the control arm has fewer than "
                f"{min_cell_size:,} customers, too few to describe its baseline."
            )
            continue
        planned = [
            f"+{lift:.0%} plan {int(n):,}"
            for lift, n in zip(rows["relative_lift"], rows["n_per_arm"], strict=True)
            if pd.notna(n)
        ]
        if planned:
            lines.append(
                f"- **Next test of {experiment}:** to detect a lift in {primary_metric} of "
                f"{'; '.join(planned)} customers per arm (two arms)."
            )
    return "\n".join(lines)
