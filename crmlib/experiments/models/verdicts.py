"""Guardrails and ship verdicts: each variant judged on its effects, health and money, and why.

The verdicts' reasons and the guardrails' words are plain sentences built with the decision.

Everything here reads the tables of :func:`crmlib.experiments.analyze_experiment`,
:func:`crmlib.experiments.srm_table`, :func:`crmlib.experiments.covariate_balance` and
:func:`crmlib.experiments.campaign_economics`; no customer id ever reaches a sentence. The
number formats of the verdicts' reasons (``_effect``, ``_p``, ``_money_ci``) are the ones the
page's words and tables use too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.formatting import format_money
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "non_inferiority",
    "guardrail_status",
    "VERDICT_COLUMNS",
    "VERDICTS",
    "GUARDRAIL_COLUMNS",
    "verdicts",
    "guardrail_specs",
    "judge_guardrails",
    "covariate_label",
]

log = logging.getLogger(__name__)


def non_inferiority(diff: float, ci_high: float, margin: float) -> str:
    """Verdict on a guardrail metric where higher is worse (e.g. unsubscribe rate).

    Returns ``"non-inferior"`` when the upper CI bound of the difference is below ``margin``,
    ``"inferior"`` when the point estimate itself exceeds ``margin``, else ``"inconclusive"``
    (also for NaN inputs). For a metric where lower is worse, pass ``-diff``, ``-ci_low``.

    Examples
    --------
    >>> non_inferiority(0.001, 0.003, 0.005)
    'non-inferior'
    >>> non_inferiority(0.004, 0.009, 0.005)
    'inconclusive'
    >>> non_inferiority(0.007, 0.010, 0.005)
    'inferior'
    """
    if not margin > 0:
        raise ValueError(f"margin={margin}: expected a positive tolerated worsening")
    if math.isnan(diff) or math.isnan(ci_high):
        return "inconclusive"
    if ci_high < margin:
        return "non-inferior"
    if diff > margin:
        return "inferior"
    return "inconclusive"


def guardrail_status(
    diff: float, ci_low: float, ci_high: float, *, margin: float, worse: str = "higher"
) -> str:
    """Verdict on a guardrail metric, judged in its bad direction.

    ``worse="higher"`` (unsubscribes, complaints): :func:`non_inferiority` on the difference
    and its upper bound. ``worse="lower"`` (retention, visits): the same on the mirrored
    difference, ``-diff`` and ``-ci_low``, so a fall beyond ``margin`` is "inferior".

    Examples
    --------
    >>> guardrail_status(-0.03, -0.05, -0.01, margin=0.02, worse="lower")  # retention fell
    'inferior'
    >>> guardrail_status(-0.03, -0.05, -0.01, margin=0.02, worse="higher")  # unsubscribes fell
    'non-inferior'
    """
    if worse == "higher":
        return non_inferiority(diff, ci_high, margin)
    if worse == "lower":
        return non_inferiority(-diff, -ci_low, margin)
    raise ValueError(f"worse={worse!r}: expected 'higher' or 'lower'")


#: The possible verdicts, from best to worst news. "effect positive, profit uncertain": the
#: primary metric rose significantly and no guardrail failed, but the net profit's interval is
#: not above zero (or the profit is unknown: no cost or no revenue metric).
VERDICTS: tuple[str, ...] = (
    "ship",
    "effect positive, profit uncertain",
    "inconclusive",
    "do not ship",
    "unhealthy",
)


#: Columns of :func:`judge_guardrails`, in order.
GUARDRAIL_COLUMNS: tuple[str, ...] = (
    "experiment_id", "variant", "metric", "n", "n_control", "worse", "margin", "metric_kind", "abs_diff",
    "abs_ci_low", "abs_ci_high", "status", "words",
)  # fmt: skip


#: Plain names of the pre-period covariates the assignments input computes.
_COVARIATE_LABELS: dict[str, str] = {
    "pre_orders": "pre-period orders",
    "pre_spend": "pre-period spend",
}


#: Columns of :func:`verdicts`, in order.
VERDICT_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "variant",
    "n",
    "n_control",
    "verdict",
    "reasons",
    "srm_p_value",
    "primary_metric",
    "primary_kind",
    "primary_diff",
    "primary_ci_low",
    "primary_ci_high",
    "primary_p_adjusted",
    "guardrails",
    "net_profit",
    "net_profit_ci_low",
    "net_profit_ci_high",
    "imbalanced_covariates",
)


_RESULTS = "results"


def _overall(results: pd.DataFrame) -> pd.DataFrame:
    return results[results["segment_col"].isna()]


def _num(value: float, decimals: int) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.{decimals}f}"


def _p_value(value: float) -> str:
    """'0.012', '< 0.001' or 'n/a' (a table cell headed p)."""
    if not np.isfinite(value):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _p(value: float) -> str:
    """'p = 0.012', 'p < 0.001' or 'p n/a'."""
    text = _p_value(value)
    return f"p = {text}" if text[0].isdigit() else f"p {text}"


def _effect(diff: float, low: float, high: float, kind: str) -> str:
    """'5.7 points (-0.0 to 11.3)' for a binary metric, '2.50 (0.10 to 4.90)' otherwise."""
    if kind == "binary":
        return f"{_num(100 * diff, 1)} points ({_num(100 * low, 1)} to {_num(100 * high, 1)})"
    return f"{_num(diff, 2)} ({_num(low, 2)} to {_num(high, 2)})"


def _money_ci(value: float, low: float, high: float, currency: str) -> str:
    return (
        f"{format_money(value, currency)} ({format_money(low, currency)} to "
        f"{format_money(high, currency)})"
    )


def _srm_p_values(srm: pd.DataFrame) -> dict[str, tuple[float, bool, dict[str, int]]]:
    """Overall SRM per experiment: (p-value, flagged, customers per arm)."""
    overall = srm[srm["segment_col"].isna()]
    return {
        str(row.experiment_id): (float(row.p_value), bool(row.srm), _arm_counts(row.counts))
        for row in overall.itertuples(index=False)
    }


def _arm_counts(counts: Any) -> dict[str, int]:
    """The ``counts`` of a row of :func:`crmlib.experiments.srm_table` (variant -> customers)."""
    if not isinstance(counts, Mapping):
        raise ValueError(
            f"srm: column 'counts' holds {counts!r}; expected a mapping variant -> customers "
            "(as srm_table writes it)"
        )
    return {str(variant): int(n) for variant, n in counts.items()}


def _has_small_arm(counts: Mapping[str, int], rule: SmallCells) -> bool:
    return bool(rule.is_small(list(counts.values())).any()) if counts else False


def _srm_p(p_value: float, counts: Mapping[str, int], rule: SmallCells) -> str:
    """'p = 0.012', or why it is not quoted: an arm of the experiment is small.

    With the other arms' counts, the p-value of the sample-ratio test would reveal a small
    arm's size, so an experiment with an arm of 1..k-1 customers has none on the page.
    """
    if _has_small_arm(counts, rule):
        return f"p-value not shown: an arm has fewer than {rule.min_cell_size:,} customers"
    return _p(p_value)


def covariate_label(column: str) -> str:
    """Plain words for a CUPED covariate: ``pre_orders`` -> "pre-period orders".

    Examples
    --------
    >>> covariate_label("pre_spend"), covariate_label("visits_before")
    ('pre-period spend', 'visits_before')
    """
    return _COVARIATE_LABELS.get(column, column)


def guardrail_specs(guardrails: Mapping[str, Any]) -> dict[str, tuple[float, str]]:
    """Guardrail metric -> (margin, worse), from either form of ``ab_test.guardrails``.

    A number is the margin of a metric where higher is worse (the older form); a mapping (or
    :class:`crmlib.config.GuardrailParams`) has ``margin`` and ``worse`` ("higher" or
    "lower", default "higher").

    Examples
    --------
    >>> guardrail_specs({"unsubscribed": 0.005, "retained": {"margin": 0.02, "worse": "lower"}})
    {'unsubscribed': (0.005, 'higher'), 'retained': (0.02, 'lower')}
    """
    specs: dict[str, tuple[float, str]] = {}
    for metric, spec in guardrails.items():
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            margin, worse = float(spec), "higher"
        elif isinstance(spec, Mapping):
            margin, worse = float(spec.get("margin", math.nan)), str(spec.get("worse", "higher"))
        elif hasattr(spec, "margin"):
            margin, worse = float(spec.margin), str(getattr(spec, "worse", "higher"))
        else:
            raise ValueError(
                f"guardrail '{metric}': {spec!r}; expected a margin or {{margin, worse}}"
            )
        if not margin > 0 or worse not in ("higher", "lower"):
            raise ValueError(
                f"guardrail '{metric}': margin {margin}, worse {worse!r}; expected a positive "
                "margin and worse 'higher' or 'lower'"
            )
        specs[str(metric)] = (margin, worse)
    return specs


def _guardrail_words(
    metric: str, status: str, effect: str, margin: str, worse: str, measured: bool
) -> str:
    if not measured:
        return f"guardrail '{metric}' was not measured"
    move = "rise" if worse == "higher" else "fall"
    return {
        "non-inferior": f"guardrail '{metric}' is non-inferior: it moved {effect}, "
        f"within the tolerated {move} of {margin}",
        "inferior": f"guardrail '{metric}' is inferior: it moved {effect}, "
        f"a {move} beyond the tolerated {margin}",
        "inconclusive": f"guardrail '{metric}' is inconclusive: it moved {effect}, "
        f"which may be a {move} beyond the tolerated {margin}",
    }[status]


def _guardrail_rows(
    rows: pd.DataFrame, guardrails: Mapping[str, tuple[float, str]]
) -> list[dict[str, Any]]:
    """One record per guardrail for one experiment x variant (the overall rows of ``rows``)."""
    records = []
    for metric, (margin, worse) in guardrails.items():
        found = rows[rows["metric"] == metric]
        diff = low = high = math.nan
        kind = ""
        status = "inconclusive"
        if not found.empty:
            row = found.iloc[0]
            kind = str(row["metric_kind"])
            diff, low, high = (float(row[c]) for c in ("abs_diff", "abs_ci_low", "abs_ci_high"))
            status = guardrail_status(diff, low, high, margin=margin, worse=worse)
        shown_margin = f"{100 * margin:.1f} points" if kind == "binary" else f"{margin:g}"
        records.append(
            {
                "metric": metric,
                "worse": worse,
                "margin": margin,
                "metric_kind": kind,
                "abs_diff": diff,
                "abs_ci_low": low,
                "abs_ci_high": high,
                "status": status,
                "words": _guardrail_words(
                    metric, status, _effect(diff, low, high, kind), shown_margin, worse,
                    not found.empty,
                ),
            }
        )  # fmt: skip
    return records


def judge_guardrails(results: pd.DataFrame, guardrails: Mapping[str, Any]) -> pd.DataFrame:
    """Every guardrail of every variant, judged in its own bad direction.

    Transforms the overall rows of :func:`crmlib.experiments.analyze_experiment` into one row
    per experiment x variant x guardrail (:data:`GUARDRAIL_COLUMNS`): the arms' customers
    ``n`` and ``n_control`` (for the small-cell rule of the page), the difference and CI,
    the tolerated worsening ``margin``, ``worse`` ("higher": a rise is bad, e.g. unsubscribes;
    "lower": a fall is bad, e.g. retention) and the status of
    :func:`crmlib.experiments.guardrail_status`. A guardrail without a result row (not
    measured) is "inconclusive" with NaN estimates; ``words`` says so.

    Examples
    --------
    >>> results = pd.DataFrame({"experiment_id": "e", "variant": "b", "metric": ["retained"],
    ...     "segment_col": None, "n": [400], "n_control": [410], "abs_diff": [-0.04],
    ...     "abs_ci_low": [-0.06], "abs_ci_high": [-0.02], "metric_kind": "binary"})
    >>> judge_guardrails(results, {"retained": {"margin": 0.01, "worse": "lower"}})["status"].tolist()
    ['inferior']
    """
    specs = guardrail_specs(guardrails)
    require_columns(
        results,
        ["experiment_id", "variant", "metric", "segment_col", "n", "n_control", "abs_diff",
         "abs_ci_low", "abs_ci_high", "metric_kind"],
        table_name=_RESULTS,
    )  # fmt: skip
    overall = _overall(results)
    rows: list[dict[str, Any]] = []
    for (experiment, variant), arm in overall.groupby(
        [overall["experiment_id"].astype(str), overall["variant"].astype(str)], sort=True
    ):
        sizes = {"n": int(arm["n"].max()), "n_control": int(arm["n_control"].max())}
        for record in _guardrail_rows(arm, specs):
            rows.append({"experiment_id": experiment, "variant": variant, **sizes, **record})
    return pd.DataFrame(rows, columns=list(GUARDRAIL_COLUMNS))


def _cuped_clause(row: Any) -> str:
    """', adjusted for pre-period orders (CUPED)' for a CUPED row, else ''."""
    covariate = getattr(row, "covariate", None)
    if not bool(getattr(row, "cuped", False)) or not isinstance(covariate, str):
        return ""
    return f", adjusted for {covariate_label(covariate)} (CUPED)"


def verdicts(
    results: pd.DataFrame,
    *,
    srm: pd.DataFrame,
    balance: pd.DataFrame,
    economics: pd.DataFrame,
    guardrails: Mapping[str, Any],
    primary_metric: str = DEFAULTS.ab_test.primary_metric,
    alpha: float = DEFAULTS.ab_test.alpha,
    currency: str,
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame:
    """Decide, for every variant of every experiment, whether to ship it, and say why.

    Transforms the results of :func:`crmlib.experiments.analyze_experiment` (one row per
    experiment x variant x metric, plus segment rows, which are ignored here) into one row
    per experiment x variant, checked in this order:

    - **unhealthy** when the experiment's overall sample-ratio mismatch test is flagged
      (``srm`` from :func:`crmlib.experiments.srm_table`): the split is not what was planned,
      so no effect of that experiment can be read causally;
    - **do not ship** when the primary metric's lift is significantly negative (Holm-adjusted
      p < ``alpha``), a guardrail is inferior, or the whole CI of the net profit is below 0;
    - **ship** when the primary lift is positive with Holm-adjusted p < ``alpha``, every
      guardrail is non-inferior (:func:`crmlib.experiments.guardrail_status`, each in its
      own bad direction) and the whole CI of the net profit is above 0 (a known cost);
    - **effect positive, profit uncertain** when the lift and the guardrails are as for ship
      but the net profit's CI reaches 0 or below, or the net profit is unknown (no campaign
      cost, or no revenue metric): the campaign works, whether it pays is not shown;
    - **inconclusive** otherwise.

    ``reasons`` says why in plain words, ``"; "``-joined; covariates flagged as imbalanced in
    ``balance`` (:func:`crmlib.experiments.covariate_balance`) are mentioned last. The
    sample-ratio p-value of an experiment with an arm of fewer than ``min_cell_size``
    customers is not quoted (with the other arms' counts it would reveal the small one).

    Parameters
    ----------
    results : pd.DataFrame
        As returned by :func:`crmlib.experiments.analyze_experiment`.
    srm : pd.DataFrame
        As returned by :func:`crmlib.experiments.srm_table`.
    balance : pd.DataFrame
        As returned by :func:`crmlib.experiments.covariate_balance` (may be empty).
    economics : pd.DataFrame
        As returned by :func:`crmlib.experiments.campaign_economics`; a variant without a
        row (or with a NaN net profit) cannot ship.
    guardrails : mapping
        Guardrail metric -> tolerated worsening of its absolute difference (a share for a
        binary metric: 0.005 is half a percentage point), as a number (higher is worse) or
        ``{"margin": 0.01, "worse": "lower"}`` (see :func:`guardrail_specs`).
    primary_metric : str, default ``ab_test.primary_metric``
        The metric the campaign is meant to move (higher is better).
    alpha : float, default ``ab_test.alpha``
        Level for the Holm-adjusted p-value of the primary metric.
    currency : str
        The run's currency (``params.currency``), of the money in ``reasons``.
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``: see above.

    Returns
    -------
    pd.DataFrame
        :data:`VERDICT_COLUMNS`, one row per experiment x variant, ordered by experiment_id,
        variant; ``n`` and ``n_control`` are the arms' customers. ``guardrails`` is ``"metric: status"`` text, ``imbalanced_covariates`` a
        comma-separated list ("" when none).

    Examples
    --------
    >>> results = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": "email",
    ...     "metric": ["repurchase", "unsubscribes"], "segment_col": None, "segment": None,
    ...     "n": 500, "n_control": 500, "abs_diff": [0.057, 0.001], "abs_ci_low": [0.02, -0.002],
    ...     "abs_ci_high": [0.09, 0.003], "p_adjusted": [0.004, 0.6],
    ...     "metric_kind": "binary",
    ... })
    >>> srm = pd.DataFrame({"experiment_id": ["winback"], "segment_col": [None],
    ...                     "counts": [{"control": 500, "email": 500}], "p_value": [1.0],
    ...                     "srm": [False]})
    >>> economics = pd.DataFrame({"experiment_id": ["winback"], "variant": ["email"],
    ...                           "net_profit": [800.0], "net_profit_ci_low": [50.0],
    ...                           "net_profit_ci_high": [1650.0]})
    >>> table = verdicts(results, srm=srm, balance=pd.DataFrame(), economics=economics,
    ...                  guardrails={"unsubscribes": 0.005}, currency="EUR")
    >>> table["verdict"].tolist()
    ['ship']
    >>> economics["net_profit_ci_low"] = -50.0  # the profit interval now spans zero
    >>> verdicts(results, srm=srm, balance=pd.DataFrame(), economics=economics,
    ...          guardrails={"unsubscribes": 0.005}, currency="EUR")["verdict"].tolist()
    ['effect positive, profit uncertain']
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha}: expected a level in (0, 1), e.g. 0.05")
    require_columns(
        results,
        [
            "experiment_id",
            "variant",
            "metric",
            "segment_col",
            "n",
            "n_control",
            "abs_diff",
            "abs_ci_low",
            "abs_ci_high",
            "p_adjusted",
            "metric_kind",
        ],
        table_name=_RESULTS,
    )
    require_columns(srm, ["experiment_id", "segment_col", "p_value", "srm"], table_name="srm")
    require_columns(
        economics,
        ["experiment_id", "variant", "net_profit", "net_profit_ci_low", "net_profit_ci_high"],
        table_name="economics",
    )
    specs = guardrail_specs(guardrails)
    srm_of = _srm_p_values(srm)
    rule = SmallCells(min_cell_size)
    imbalanced: dict[tuple[str, str], list[str]] = {}
    if not balance.empty:
        require_columns(
            balance, ["experiment_id", "variant", "covariate", "imbalanced"], table_name="balance"
        )
        for row in balance[balance["imbalanced"].astype(bool)].itertuples(index=False):
            key = (str(row.experiment_id), str(row.variant))
            imbalanced.setdefault(key, []).append(str(row.covariate))
    money = {
        (str(row.experiment_id), str(row.variant)): (
            float(row.net_profit),
            float(row.net_profit_ci_low),
            float(row.net_profit_ci_high),
        )
        for row in economics.itertuples(index=False)
    }
    overall = _overall(results).assign(
        experiment_id=lambda frame: frame["experiment_id"].astype(str),
        variant=lambda frame: frame["variant"].astype(str),
    )
    rows: list[dict[str, Any]] = []
    for (experiment, variant), arm in overall.groupby(["experiment_id", "variant"], sort=True):
        key = (str(experiment), str(variant))
        rows.append(
            _verdict_row(
                key,
                arm,
                srm=srm_of.get(key[0]),
                rule=rule,
                net=money.get(key, (math.nan, math.nan, math.nan)),
                has_economics=key in money,
                imbalanced=imbalanced.get(key, []),
                guardrails=specs,
                primary_metric=primary_metric,
                alpha=alpha,
                currency=currency,
            )
        )
    table = pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))
    for row in table.itertuples(index=False):
        log.info("experiment '%s' variant '%s': %s", row.experiment_id, row.variant, row.verdict)
    return table


def _verdict_row(
    key: tuple[str, str],
    arm: pd.DataFrame,
    *,
    srm: tuple[float, bool, dict[str, int]] | None,
    rule: SmallCells,
    net: tuple[float, float, float],
    has_economics: bool = True,
    imbalanced: list[str],
    guardrails: Mapping[str, tuple[float, str]],
    primary_metric: str,
    alpha: float,
    currency: str,
) -> dict[str, Any]:
    srm_p, srm_flagged, arm_counts = srm if srm is not None else (math.nan, False, {})
    primary = arm[arm["metric"] == primary_metric]
    if primary.empty:
        diff = low = high = p_adj = math.nan
        kind = ""
    else:
        first = primary.iloc[0]
        diff, low, high = (float(first[c]) for c in ("abs_diff", "abs_ci_low", "abs_ci_high"))
        p_adj = float(first["p_adjusted"])
        kind = str(first["metric_kind"])
    statuses = [
        (record["metric"], record["status"], record["words"])
        for record in _guardrail_rows(arm, guardrails)
    ]
    net_profit, net_low, net_high = net
    significant = bool(np.isfinite(p_adj) and p_adj < alpha)
    cuped = "" if primary.empty else _cuped_clause(primary.iloc[0])
    lift_words = (
        f"the primary metric '{primary_metric}' was not analysed"
        if primary.empty
        else f"the lift in {primary_metric}{cuped}{',' if cuped else ''} "
        f"{_effect(diff, low, high, kind)}"
    )
    if np.isfinite(net_profit):
        profit_words = f"net profit {_money_ci(net_profit, net_low, net_high, currency)}"
    elif has_economics:
        profit_words = (
            "net profit unknown: the campaign cost is not known (set ab_test.cost_per_contact, "
            "or give the assignments a cost column)"
        )
    else:
        profit_words = (
            "net profit unknown: no campaign economics (they need the revenue metric, "
            "ab_test.revenue_metric)"
        )

    reasons: list[str] = []
    if srm_flagged:
        verdict = "unhealthy"
        reasons.append(
            f"sample-ratio mismatch ({_srm_p(srm_p, arm_counts, rule)}): the split is not "
            "what was planned; effects cannot be trusted"
        )
    else:
        against: list[str] = []
        if significant and diff < 0:
            against.append(f"{lift_words} is significantly negative (adjusted {_p(p_adj)})")
        against += [words for _, status, words in statuses if status == "inferior"]
        if np.isfinite(net_high) and net_high < 0:
            against.append(f"{profit_words} is below zero across its whole interval")
        if against:
            verdict = "do not ship"
            reasons = against
        else:
            lift_ok = significant and diff > 0
            guards_ok = all(status == "non-inferior" for _, status, _ in statuses)
            profit_ok = bool(np.isfinite(net_low) and net_low > 0)
            if lift_ok and guards_ok:
                verdict = "ship" if profit_ok else "effect positive, profit uncertain"
            else:
                verdict = "inconclusive"
            if lift_ok:
                reasons.append(f"{lift_words} is significant (adjusted {_p(p_adj)})")
            elif primary.empty:
                reasons.append(lift_words)
            elif not np.isfinite(p_adj):
                reasons.append(f"{lift_words} has no p-value")
            elif np.isfinite(low) and np.isfinite(high) and low <= 0 <= high:
                reasons.append(f"{lift_words} includes zero")
            elif significant:
                reasons.append(f"{lift_words} is zero")
            else:
                reasons.append(
                    f"{lift_words} is not significant after the Holm correction "
                    f"(adjusted {_p(p_adj)}; the interval is not corrected for the other "
                    "comparisons)"
                )
            reasons += [words for _, _, words in statuses]
            if profit_ok:
                reasons.append(f"{profit_words} is above zero across its whole interval")
            elif np.isfinite(net_profit) and np.isfinite(net_low):
                reasons.append(f"{profit_words} is not above zero across its whole interval")
            else:
                reasons.append(profit_words)
    if imbalanced:
        reasons.append(
            f"covariates imbalanced between the arms (|SMD| > 0.1): {', '.join(imbalanced)}; "
            "read the effects with care"
        )
    return {
        "experiment_id": key[0],
        "variant": key[1],
        "n": int(arm["n"].max()),
        "n_control": int(arm["n_control"].max()),
        "verdict": verdict,
        "reasons": "; ".join(reasons),
        "srm_p_value": srm_p,
        "primary_metric": primary_metric,
        "primary_kind": kind,
        "primary_diff": diff,
        "primary_ci_low": low,
        "primary_ci_high": high,
        "primary_p_adjusted": p_adj,
        "guardrails": ", ".join(f"{metric}: {status}" for metric, status, _ in statuses),
        "net_profit": net_profit,
        "net_profit_ci_low": net_low,
        "net_profit_ci_high": net_high,
        "imbalanced_covariates": ", ".join(imbalanced),
    }
