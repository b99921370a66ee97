"""07_ab_test in words: the page's Markdown (data, health, results, money, power), its conclusion.

Everything here reads the tables of :mod:`crmlib.experiments.models` and the experiment table
of :mod:`crmlib.experiments.queries`; no customer id ever reaches a sentence. Counts follow the
small-cell rule (:mod:`crmlib.privacy`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.experiments.models.small_cells import experiments_with_small_arms, small_arms
from crmlib.experiments.models.verdicts import (
    VERDICTS,
    _arm_counts,
    _cuped_clause,
    _effect,
    _has_small_arm,
    _money_ci,
    _overall,
    _p,
    _srm_p,
    covariate_label,
)
from crmlib.experiments.queries.data import ExperimentData
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "describe_data",
    "covariate_words",
    "arms_words",
    "counts_words",
    "describe_health",
    "describe_results",
    "too_small_words",
    "describe_money",
    "describe_power",
    "ab_conclusion",
]

log = logging.getLogger(__name__)


def _sentence(note: str) -> str:
    """A note as a sentence: first letter capitalized (unless it starts with a file or column
    name such as ``ab.csv`` or ``pre_orders``) and one full stop at the end.

    Examples
    --------
    >>> _sentence("no customers table: not broken down"), _sentence("ab_test.csv has no id.")
    ('No customers table: not broken down.', 'ab_test.csv has no id.')
    """
    text = note.strip()
    first = text.split(" ", 1)[0]
    if "." not in first and "_" not in first:
        text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def counts_words(counts: Mapping[str, int], rule: SmallCells, *, total_shown: bool = False) -> str:
    """Labelled counts for a sentence: ``"control 431, treatment 448"``.

    A count of 1..k-1 reads "fewer than k"; when ``total_shown`` (the sentence also gives
    the sum) and exactly one count is hidden, the next smallest reads "not shown"
    (complementary suppression, :meth:`crmlib.privacy.SmallCells.complement`).

    Examples
    --------
    >>> rule = SmallCells(10)
    >>> counts_words({"control": 23, "treatment": 6}, rule)
    'control 23, treatment fewer than 10'
    >>> counts_words({"a": 40, "b": 3, "c": 20}, rule, total_shown=True)
    'a 40, b fewer than 10, c not shown'
    """
    labels = list(counts)
    values = [int(counts[label]) for label in labels]
    hidden = rule.complement(values, total_shown=total_shown)
    small = rule.is_small(values)
    words = []
    for label, value, is_hidden, is_small in zip(labels, values, hidden, small, strict=True):
        if is_small:
            text = f"fewer than {rule.min_cell_size:,}"
        elif is_hidden:
            text = "not shown"
        else:
            text = f"{value:,}"
        words.append(f"{label} {text}")
    return ", ".join(words)


def covariate_words(covariates: Mapping[str, str]) -> str:
    """Which metric CUPED adjusts for which covariate, in one clause.

    Examples
    --------
    >>> covariate_words({"repurchase": "pre_orders", "orders": "pre_orders",
    ...                  "net_revenue": "pre_spend"})
    'repurchase and orders adjusted for pre-period orders, net_revenue for pre-period spend'
    """
    by_covariate: dict[str, list[str]] = {}
    for metric, column in covariates.items():
        by_covariate.setdefault(column, []).append(metric)
    parts = []
    for position, (column, metrics) in enumerate(by_covariate.items()):
        names = " and ".join(
            [", ".join(metrics[:-1]), metrics[-1]] if len(metrics) > 1 else metrics
        )
        verb = "adjusted for" if position == 0 else "for"
        parts.append(f"{names} {verb} {covariate_label(column)}")
    return ", ".join(parts)


def arms_words(counts: Mapping[str, int], rule: SmallCells) -> str:
    """An experiment's customers in words: ``"879 customers (control 431, treatment 448)"``.

    With an arm of 1..k-1 customers the arm reads "fewer than k" and the total is not given
    (with the other arms it would reveal the small one).

    Examples
    --------
    >>> arms_words({"control": 431, "treatment": 448}, SmallCells(10))
    '879 customers (control 431, treatment 448)'
    >>> arms_words({"control": 23, "treatment": 6}, SmallCells(10))
    'control 23, treatment fewer than 10 customers (the total is not given: it would reveal the small arm)'
    """
    listed = counts_words(counts, rule)
    if _has_small_arm(counts, rule):
        return f"{listed} customers (the total is not given: it would reveal the small arm)"
    return f"{rule.phrase(sum(counts.values()))} ({listed})"


def _names(labels: Sequence[str], *, most: int = 6) -> str:
    """'a, b, c' (the first ``most`` distinct labels, then 'and N more')."""
    distinct = list(dict.fromkeys(labels))
    shown = ", ".join(distinct[:most])
    return shown + (f" and {len(distinct) - most:,} more" if len(distinct) > most else "")


def describe_data(data: ExperimentData, *, min_cell_size: int = MIN_CELL_SIZE) -> str:
    """Markdown: where the experiment table came from, its experiments and arms, what was left out.

    Counts follow the small-cell rule (``min_cell_size``, :mod:`crmlib.privacy`): an arm of
    1..k-1 customers reads "fewer than k" and the experiment's total is not given (with the
    other arms it would reveal it); the export's row counts are not given when an experiment
    has such an arm.

    Examples
    --------
    >>> table = pd.DataFrame({"experiment_id": "e", "customer_id": [f"C{i}" for i in range(40)],
    ...                       "variant": ["control"] * 20 + ["b"] * 20, "bought": 0.0})
    >>> data = ExperimentData("assignments", table, {"e": ("bought",)}, {}, {}, ())
    >>> print(describe_data(data))
    - **Input:** the assignments, outcomes from each customer's orders and messages after assignment.
    - **e:** 40 customers (b 20, control 20); metrics analysed: bought.
    - No customer was exposed to more than one variant of an experiment.
    >>> print(describe_data(data, min_cell_size=25).splitlines()[1])
    - **e:** b fewer than 25, control fewer than 25 customers (the total is not given: it would reveal the small arm); metrics analysed: bought.
    """
    if not data.available:
        reasons = " ".join(_sentence(note) for note in data.notes)
        return f"**There is no experiment to analyse.** {reasons}".strip()
    rule = SmallCells(min_cell_size)
    small = experiments_with_small_arms(data.table, rule)
    lines = []
    if data.source == "export":
        rejected = len(data.rejects)
        by_reason = (
            ", ".join(
                f"{reason} {count:,}"
                for reason, count in data.rejects["reason"].value_counts().sort_index().items()
            )
            if rejected
            else "none"
        )
        reconciled = data.rows_read == len(data.table) + rejected
        if small:
            lines.append(
                "- **Input:** the experiment export; the rows read, analysed and rejected are "
                "not counted here because an arm has fewer than "
                f"{min_cell_size:,} customers; "
                f"{'the totals reconcile' if reconciled else 'the totals do NOT reconcile'}."
            )
        else:
            lines.append(
                f"- **Input:** the experiment export, {data.rows_read:,} rows read: "
                f"{len(data.table):,} analysed and {rejected:,} rejected ({by_reason}); "
                f"{'the totals reconcile' if reconciled else 'the totals do NOT reconcile'}."
            )
    else:
        lines.append(
            "- **Input:** the assignments, outcomes from each customer's orders and messages "
            "after assignment."
        )
    for experiment, rows in data.table.groupby("experiment_id", sort=True):
        counts = {
            str(variant): int(count)
            for variant, count in rows["variant"].value_counts().sort_index().items()
        }
        analysed = ", ".join(data.metrics.get(str(experiment), ())) or "none"
        lines.append(
            f"- **{experiment}:** {arms_words(counts, rule)}; metrics analysed: {analysed}."
        )
    if data.covariates:
        lines.append(f"- **CUPED:** {covariate_words(data.covariates)}.")
    excluded = {
        experiment: count
        for experiment, count in sorted(data.excluded_multiple_variants.items())
        if count
    }
    if excluded:
        total = rule.phrase(sum(excluded.values()))
        lines.append(
            f"- **{total[:1].upper()}{total[1:]} were exposed to more than one variant** and are "
            f"excluded ({counts_words(excluded, rule, total_shown=True)})."
        )
    else:
        lines.append("- No customer was exposed to more than one variant of an experiment.")
    lines.extend(f"- {_sentence(note)}" for note in data.notes)
    return "\n".join(lines)


def describe_health(
    srm: pd.DataFrame,
    balance: pd.DataFrame,
    *,
    control: str = DEFAULTS.ab_test.control,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown, the first thing the report says: is each experiment's split what was planned?

    One bullet per experiment from the overall rows of ``srm``
    (:func:`crmlib.experiments.srm_table`): its customers per arm and the sample-ratio test,
    then one for segments with a mismatch, then the covariates that ``balance``
    (:func:`crmlib.experiments.covariate_balance`) flags. The small-cell rule
    (``min_cell_size``): an arm of 1..k-1 customers reads "fewer than k", the experiment's
    total and its sample-ratio p-value are not given (they would reveal it), the covariate
    means of a comparison with that arm are not shown, and a segment where an arm is small is
    not named.

    Examples
    --------
    >>> srm = pd.DataFrame({"experiment_id": ["winback"], "segment_col": [None],
    ...                     "segment": [None], "n": [1000],
    ...                     "counts": [{"control": 500, "email": 500}], "p_value": [1.0],
    ...                     "srm": [False]})
    >>> print(describe_health(srm, pd.DataFrame()))
    - **winback:** 1,000 customers (control 500, email 500); the split matches the plan (sample-ratio test p = 1.000).
    """
    require_columns(
        srm,
        ["experiment_id", "segment_col", "segment", "n", "counts", "p_value", "srm"],
        table_name="srm",
    )
    if srm.empty:
        return "No experiment had assigned customers, so there is nothing to check."
    rule = SmallCells(min_cell_size)
    lines = []
    overall = srm[srm["segment_col"].isna()]
    arms_of = {str(row.experiment_id): _arm_counts(row.counts) for row in overall.itertuples()}
    small_any = False
    for row in overall.itertuples(index=False):
        counts = arms_of[str(row.experiment_id)]
        small_any = small_any or _has_small_arm(counts, rule)
        p_words = _srm_p(float(row.p_value), counts, rule)
        head = f"- **{row.experiment_id}:** {arms_words(counts, rule)}; "
        if bool(row.srm):
            lines.append(
                head + f"**sample-ratio mismatch ({p_words}): the split is not what was planned; "
                "effects cannot be trusted.** Check the assignment and the data pipeline before "
                "reading any result of this experiment."
            )
        else:
            lines.append(head + f"the split matches the plan (sample-ratio test {p_words}).")
    segments = srm[srm["segment_col"].notna() & srm["srm"].astype(bool)]
    for experiment, rows in segments.groupby("experiment_id", sort=True):
        small = np.array([_has_small_arm(_arm_counts(c), rule) for c in rows["counts"]], bool)
        where = ", ".join(
            f"{col} = {level} ({_p(float(p))})"
            for col, level, p in zip(
                rows["segment_col"][~small], rows["segment"][~small], rows["p_value"][~small],
                strict=True,
            )
        )  # fmt: skip
        unnamed = (
            f"{int(small.sum())} segment(s) with an arm of fewer than {min_cell_size:,} "
            "customers (not named)"
        )
        where = ", ".join(part for part in (where, unnamed if small.any() else "") if part)
        lines.append(
            f"- **{experiment}:** the split is off inside segment(s) {where}; effects in those "
            "segments cannot be trusted."
        )
    if not balance.empty:
        hidden = np.array(
            [
                _has_small_arm(
                    {
                        arm: n
                        for arm, n in arms_of.get(str(row.experiment_id), {}).items()
                        if arm in (str(row.variant), control)
                    },
                    rule,
                )
                for row in balance.itertuples(index=False)
            ],
            bool,
        )
        shown = balance[~hidden]
        flagged = shown[shown["imbalanced"].astype(bool)]
        if flagged.empty and not shown.empty:
            lines.append(
                f"- Pre-period covariates ({', '.join(map(str, pd.unique(shown['covariate'])))}) "
                "are balanced between the arms (|SMD| ≤ 0.1 "
                + (
                    "in every comparison whose arms are large enough to describe)."
                    if hidden.any()
                    else "everywhere)."
                )
            )
        for row in flagged.itertuples(index=False):
            lines.append(
                f"- **{row.experiment_id} / {row.variant}:** covariate '{row.covariate}' is "
                f"imbalanced (SMD {float(row.smd):+.2f}; variant mean {float(row.mean):.2f}, "
                f"control {float(row.control_mean):.2f}); CUPED adjusts for it only when it "
                "is the metric's covariate."
            )
    if small_any:
        lines.append(
            f"- An arm of fewer than {min_cell_size:,} customers is too small to describe: its "
            f'count reads "fewer than {min_cell_size:,}", the experiment\'s total is not given, '
            "and the arm's effects, money and covariate balance are not shown on this page."
        )
    return "\n".join(lines)


def _economics_row(economics: pd.DataFrame, experiment: str, variant: str) -> pd.Series | None:
    rows = economics[
        (economics["experiment_id"].astype(str) == experiment)
        & (economics["variant"].astype(str) == variant)
    ]
    return None if rows.empty else rows.iloc[0]


def _money_words(row: pd.Series | None, currency: str) -> str:
    if row is None or not np.isfinite(float(row["net_profit"])):
        return "net profit unknown (campaign cost not recorded)"
    words = "net profit " + _money_ci(
        float(row["net_profit"]),
        float(row["net_profit_ci_low"]),
        float(row["net_profit_ci_high"]),
        currency,
    )
    roi = float(row["roi"]) if "roi" in row.index else math.nan
    if np.isfinite(roi):
        words += f", ROI {100 * roi:.0f}%"
    return words


def too_small_words(variant: str, n: int, n_control: int, rule: SmallCells) -> str:
    """Why a comparison is not reported: one of its arms holds 1..k-1 customers.

    Examples
    --------
    >>> too_small_words("sms", 6, 23, SmallCells(10))
    'too small to report: the arms hold sms fewer than 10, control 23 customers, and no group of fewer than 10 customers is described, so its effects, verdict and money are not shown'
    """
    arms = counts_words({variant: int(n), "control": int(n_control)}, rule)
    return (
        f"too small to report: the arms hold {arms} customers, and no group of fewer than "
        f"{rule.min_cell_size:,} customers is described, so its effects, verdict and money are "
        "not shown"
    )


def describe_results(
    results: pd.DataFrame,
    verdicts: pd.DataFrame,
    economics: pd.DataFrame,
    *,
    currency: str,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: per experiment x variant the verdict, its reasons, every metric's effect, money.

    Reads the overall rows of ``results`` (:func:`crmlib.experiments.analyze_experiment`),
    the table of :func:`verdicts` and ``economics``
    (:func:`crmlib.experiments.campaign_economics`). A variant whose arm or control arm holds
    fewer than ``min_cell_size`` customers (``privacy.min_cell_size``) is said to be too small
    to report, without any of its statistics (:func:`too_small_words`).

    Examples
    --------
    >>> results = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": "email", "metric": ["repurchase"],
    ...     "segment_col": None, "abs_diff": [0.05], "abs_ci_low": [0.01],
    ...     "abs_ci_high": [0.09], "p_adjusted": [0.01], "metric_kind": "binary",
    ... })
    >>> table = pd.DataFrame({"experiment_id": ["winback"], "variant": ["email"], "n": [500],
    ...     "n_control": [480], "verdict": ["ship"], "reasons": ["it works"]})
    >>> print(describe_results(results, table, pd.DataFrame(columns=["experiment_id",
    ...       "variant"]), currency="EUR"))
    - **winback / email: ship.** It works.
        - repurchase: 5.0 points (1.0 to 9.0), Holm-adjusted p = 0.010
        - net profit unknown (campaign cost not recorded)
    """
    require_columns(
        verdicts,
        ["experiment_id", "variant", "n", "n_control", "verdict", "reasons"],
        table_name="verdicts",
    )
    if verdicts.empty:
        return "No variant was tested against a control."
    rule = SmallCells(min_cell_size)
    small = small_arms(verdicts, rule)
    overall = _overall(results)
    lines = []
    for row, too_small in zip(verdicts.itertuples(index=False), small, strict=True):
        experiment, variant = str(row.experiment_id), str(row.variant)
        if too_small:
            words = too_small_words(variant, row.n, row.n_control, rule)
            lines.append(f"- **{experiment} / {variant}: not reported.** {_sentence(words)}")
            continue
        reasons = str(row.reasons)
        lines.append(
            f"- **{experiment} / {variant}: {row.verdict}.** {reasons[:1].upper()}{reasons[1:]}."
        )
        arm = overall[
            (overall["experiment_id"].astype(str) == experiment)
            & (overall["variant"].astype(str) == variant)
        ]
        for effect in arm.itertuples(index=False):
            kind = str(effect.metric_kind)
            estimate = _effect(
                float(effect.abs_diff), float(effect.abs_ci_low), float(effect.abs_ci_high), kind
            )
            cuped = _cuped_clause(effect)
            if cuped:
                raw = _effect(
                    float(effect.raw_abs_diff),
                    float(effect.raw_abs_ci_low),
                    float(effect.raw_abs_ci_high),
                    kind,
                )
                cuped += f"; unadjusted {raw}"
            lines.append(
                f"    - {effect.metric}: {estimate}{cuped}, "
                f"Holm-adjusted {_p(float(effect.p_adjusted))}"
            )
        lines.append(
            f"    - {_money_words(_economics_row(economics, experiment, variant), currency)}"
        )
    return "\n".join(lines)


def describe_money(economics: pd.DataFrame, money_notes: Sequence[str]) -> str:
    """Markdown: why the money is missing or partial (empty when there is nothing to say).

    Examples
    --------
    >>> print(describe_money(pd.DataFrame(), ["no revenue metric (ab_test.revenue_metric is "
    ...     "null): incremental revenue, profit and ROI are not computed"]))
    **No campaign economics.** No revenue metric (ab_test.revenue_metric is null): incremental revenue, profit and ROI are not computed.
    """
    sentences = " ".join(_sentence(note) for note in money_notes)
    if economics.empty:
        return f"**No campaign economics.** {sentences}".strip()
    return sentences


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
    power: float = DEFAULTS.ab_test.power,
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


def ab_conclusion(
    verdicts: pd.DataFrame,
    economics: pd.DataFrame,
    *,
    currency: str,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """One paragraph for the front page: which variants to ship, which not, and the money.

    A variant whose arm or control arm holds fewer than ``min_cell_size`` customers is named
    as too small to report, without its verdict or statistics.

    Examples
    --------
    >>> table = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": ["email", "sms"], "n": [500, 6],
    ...     "n_control": 480, "verdict": ["ship", "inconclusive"],
    ...     "primary_metric": "repurchase", "primary_kind": "binary",
    ...     "primary_diff": [0.05, 0.01], "primary_ci_low": [0.01, -0.03],
    ...     "primary_ci_high": [0.09, 0.05],
    ... })
    >>> economics = pd.DataFrame({"experiment_id": "winback", "variant": ["email", "sms"],
    ...     "net_profit": [1200.0, 10.0], "net_profit_ci_low": [200.0, -400.0],
    ...     "net_profit_ci_high": [2200.0, 420.0], "roi": [1.5, 0.02]})
    >>> print(ab_conclusion(table, economics, currency="EUR"))
    1 experiment, 2 variants tested against control. Ship winback / email: repurchase 5.0 points (1.0 to 9.0), net profit €1.2k (€200 to €2.2k), ROI 150%. Not reported, an arm of fewer than 10 customers: winback / sms.
    """
    if verdicts.empty:
        return "No A/B test had a variant to compare with its control."
    require_columns(
        verdicts, ["experiment_id", "variant", "n", "n_control", "verdict"], table_name="verdicts"
    )
    experiments = verdicts["experiment_id"].nunique()
    parts = [
        f"{experiments:,} experiment{'s' if experiments != 1 else ''}, {len(verdicts):,} "
        f"variant{'s' if len(verdicts) != 1 else ''} tested against control."
    ]
    small = small_arms(verdicts, SmallCells(min_cell_size))
    reported = verdicts[~small]
    by_verdict = {verdict: reported[reported["verdict"] == verdict] for verdict in VERDICTS}
    unhealthy = by_verdict["unhealthy"]
    if len(unhealthy):
        names = ", ".join(sorted(map(str, pd.unique(unhealthy["experiment_id"]))))
        parts.append(
            f"Not readable: {names} failed the sample-ratio check, so the split is not what was "
            "planned and its effects cannot be trusted."
        )
    ship = by_verdict["ship"]
    if len(ship):
        parts.append(
            "Ship "
            + "; ".join(_headline(row, economics, currency) for row in ship.itertuples(index=False))
            + "."
        )
    elif len(reported):
        parts.append(
            "No variant large enough to report is ready to ship."
            if small.any()
            else "No variant is ready to ship."
        )
    for verdict, words in (
        (
            "effect positive, profit uncertain",
            "Effect positive, profit uncertain (the campaign works; whether it pays is not shown)",
        ),
        ("do not ship", "Do not ship"),
        ("inconclusive", "Inconclusive, keep testing or stop"),
    ):
        rows = by_verdict[verdict]
        if len(rows):
            parts.append(
                f"{words}: "
                + "; ".join(
                    _headline(row, economics, currency) for row in rows.itertuples(index=False)
                )
                + "."
            )
    if small.any():
        names = "; ".join(
            f"{row.experiment_id} / {row.variant}"
            for row in verdicts[small].itertuples(index=False)
        )
        parts.append(f"Not reported, an arm of fewer than {min_cell_size:,} customers: {names}.")
    return " ".join(parts)


def _headline(row: Any, economics: pd.DataFrame, currency: str) -> str:
    """'winback / email: repurchase 5.0 points (1.0 to 9.0), net profit ...' for one verdict row."""
    name = f"{row.experiment_id} / {row.variant}"
    if not hasattr(row, "primary_diff"):
        return name
    effect = _effect(
        float(row.primary_diff),
        float(row.primary_ci_low),
        float(row.primary_ci_high),
        str(row.primary_kind),
    )
    money = _money_words(
        _economics_row(economics, str(row.experiment_id), str(row.variant)), currency
    )
    return f"{name}: {row.primary_metric} {effect}, {money}"
