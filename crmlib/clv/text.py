"""Plain sentences with numbers for stage 05_clv: the data, the fits, the model choice, CLV,
intervals and sensitivity, and the stage's conclusion.

Every function returns Markdown (or a sentence) built from the tables and fits only (no
customer ids).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.acquisition import Acquisition
from crmlib.clv.choice import ModelChoice
from crmlib.clv.models.base import MODEL_LABELS, UNIT_WORDS
from crmlib.clv.models.fitting import FittedModel, spend_independence
from crmlib.clv.tables import _ACQUISITION_SKIPPED, _NPS_SKIPPED
from crmlib.clv.value import top_decile_share
from crmlib.formatting import Sentence, details, format_money, listed
from crmlib.privacy import MIN_CELL_SIZE, OTHER, SmallCells

__all__ = [
    "describe_summary",
    "fit_notes",
    "describe_fit",
    "describe_fits",
    "spend_check",
    "describe_model_choice",
    "describe_choice",
    "describe_clv",
    "describe_intervals",
    "describe_sensitivity",
    "refit_uncertainty",
    "clv_conclusion",
    "describe_acquisition",
    "describe_nps_value",
]

log = logging.getLogger(__name__)

_MINUS = "\u2212"
#: What P(alive) means under the fallbacks without dropout (by the values' model label).
_WITHOUT_DROPOUT = {
    "NBD (no dropout)": "The model has no dropout: every customer counts as active (P(alive) "
    "= 1), so the value of customers who have in fact left is overstated.",
    "Observed spend rate": "No model: every customer's observed spend rate is assumed to "
    "continue (no P(alive)), so the value of customers who have in fact left is overstated "
    "and one-time buyers are worth nothing.",
}
_CRITERION_WORDS = {
    "mae": ("the lowest mean absolute error", "purchases per customer"),
    "rmse": ("the lowest root mean squared error", "purchases per customer"),
    "aggregate_error": ("the smallest error in total holdout purchases", None),
    "log_likelihood": ("the highest log-likelihood on the calibration data", None),
}


def _money(value: Any, currency: str) -> str:
    if value is None or not np.isfinite(value):
        return "\u2013"
    if abs(value) < 1_000:
        text = format_money(1, currency)[:-1] + f"{abs(value):,.2f}"
        return (_MINUS if value < 0 else "") + text
    return format_money(value, currency, decimals=1).replace("-", _MINUS)


def _signed_percent(value: float) -> str:
    if not np.isfinite(value):
        return "\u2013"
    return f"{'+' if value >= 0 else _MINUS}{abs(value):.1%}"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def describe_model_choice(table: pd.DataFrame, chosen: str, criterion: str) -> str:
    """Markdown: which model was chosen, by what, how it did on the holdout, who was excluded.

    Takes the table and choice of :func:`crmlib.clv.validation.compare_models`.
    """
    rows = table.set_index("model")
    if chosen not in rows.index:
        raise ValueError(f"chosen={chosen!r} is not a model of the table {list(rows.index)}")
    best = rows.loc[chosen]
    words, unit = _CRITERION_WORDS.get(criterion, (criterion, None))
    eligible = int(rows["eligible"].sum())
    value = float(best[criterion])
    shown = (
        _signed_percent(value)
        if criterion == "aggregate_error"
        else f"{value:,.1f}"
        if criterion == "log_likelihood"
        else f"{value:.3f}"
    )
    sentence = (
        f"**{chosen}** is used: it has {words} ({shown}"
        f"{' ' + unit if unit else ''}) of the {eligible} "
        f"model{'s' if eligible != 1 else ''} eligible."
    )
    lines = [sentence]
    if np.isfinite(best["predicted_total"]):
        lines.append(
            f"On the holdout it predicted {_count(best['predicted_total'])} repeat purchases "
            f"against {_count(best['actual_total'])} actual "
            f"({_signed_percent(best['aggregate_error'])}); its error per customer is "
            f"{best['mae']:.3f} purchases (MAE), {best['rmse']:.3f} (RMSE)."
        )
    others = rows[(rows.index != chosen) & rows["eligible"].astype(bool)]
    if not others.empty:
        lines.append(
            "Others: "
            + "; ".join(
                f"{name} MAE {row['mae']:.3f}, total {_signed_percent(row['aggregate_error'])}"
                for name, row in others.iterrows()
            )
            + "."
        )
    excluded = rows[~rows["eligible"].astype(bool)]
    for name, row in excluded.iterrows():
        note = str(row["note"] or "not eligible").removesuffix(": excluded from the choice")
        lines.append(f"{name} was not considered: {note}.")
    return " ".join(lines)


def describe_clv(
    values: pd.DataFrame, *, currency: str, horizon_months: int, min_cell_size: int
) -> str:
    """Markdown: total and mean CLV, the top decile's share, and how many look active.

    Takes *values* (one row per customer, as from :func:`crmlib.clv.customer_value`); the
    number of customers is written by the small-cell rule (``min_cell_size``).
    """
    clv = values["clv"].to_numpy(dtype="float64")
    n = len(clv)
    if n == 0:
        return "*No customers to value.*"
    attrs = values.attrs
    rate = attrs.get("annual_discount_rate")
    margin = attrs.get("margin")
    settings = []
    if margin is not None:
        settings.append(f"a {margin:.0%} margin")
    if rate is not None:
        settings.append(f"a {rate:.0%} annual discount rate")
    how = f" (discounted margin: {' and '.join(settings)})" if settings else ""
    share = top_decile_share(clv)
    purchases = values.get(f"expected_purchases_{horizon_months}m")
    lines = [
        f"Over the next {horizon_months} months the {SmallCells(min_cell_size).phrase(n)} "
        "are worth "
        f"**{_money(clv.sum(), currency)}**{how}, {_money(clv.mean(), currency)} per customer "
        f"on average (median {_money(float(np.median(clv)), currency)})."
    ]
    if math.isfinite(share):
        lines.append(f"The top 10% of customers hold {share:.0%} of this future value.")
    if purchases is not None:
        lines.append(f"They are expected to place {_count(purchases.sum())} orders in that time.")
    model = attrs.get("model")
    if model in _WITHOUT_DROPOUT:
        lines.append(_WITHOUT_DROPOUT[model])
    elif "p_alive" in values:
        active = float((values["p_alive"] >= 0.5).mean())
        caveat = (
            "; BG/NBD counts a customer without a repeat purchase as active"
            if model == "BG/NBD"
            else ""
        )
        lines.append(
            f"{active:.0%} of customers are more likely active than not (P(alive) \u2265 50%"
            f"{caveat})."
        )
    return " ".join(lines)


def describe_intervals(
    intervals: pd.DataFrame,
    *,
    by: str,
    currency: str,
    min_cell_size: int,
) -> str:
    """Markdown: mean CLV per group with its interval, and what the interval covers.

    Takes the table of :func:`crmlib.clv.clv_intervals`. The small-cell rule
    (``min_cell_size``): numbers of customers read "fewer than 10 customers"; a group of
    fewer customers is not described (pool it first, :func:`crmlib.clv.pool_groups`), and
    the pooled ``"(other)"`` group is explained.
    """
    rule = SmallCells(min_cell_size)
    attrs = intervals.attrs
    level = attrs.get("level", 0.95)
    draws = attrs.get("draws")
    bounded = not attrs.get("no_interval")
    total_row = intervals[intervals[by] == "All customers"]
    groups = intervals[intervals[by] != "All customers"].sort_values("clv_mean", ascending=False)
    small = rule.is_small(groups["customers"])
    groups = groups[~small]
    words = by.replace("_", " ")
    lines = []

    def interval(row: pd.Series, column: str) -> str:
        if not bounded:
            return ""
        return (
            f"{_money(row[f'{column}_lower'], currency)}\u2013"
            f"{_money(row[f'{column}_upper'], currency)}"
        )

    if not total_row.empty:
        row = total_row.iloc[0]
        lines.append(
            f"Total CLV: {_money(row['clv_total'], currency)}"
            + (f" ({level:.0%} interval {interval(row, 'clv_total')})." if bounded else ".")
        )
    if not groups.empty:
        parts = [
            f"{row[by]} {_money(row['clv_mean'], currency)} ("
            + (f"{interval(row, 'clv_mean')}, " if bounded else "")
            + f"{rule.phrase(row['customers'])})"
            for _, row in groups.iterrows()
        ]
        lines.append(f"Mean CLV per customer by {words}: " + "; ".join(parts) + ".")
    if (groups[by] == OTHER).any():
        lines.append(
            f"{OTHER} pools the smallest {words}s, so that none of fewer than "
            f"{min_cell_size:,} customers is shown alone."
        )
    if small.any():
        lines.append(
            f"{words.capitalize()}s of fewer than {min_cell_size:,} customers are not shown."
        )
    if not groups.empty:
        width = (groups["clv_mean_upper"] - groups["clv_mean_lower"]) / groups["clv_mean"]
        if bounded and len(groups) > 1 and np.isfinite(width).any():
            widest = groups.loc[width.idxmax()]
            lines.append(
                f"The least certain is {widest[by]} (interval \u00b1{width.max() / 2:.0%} of "
                "its mean)."
            )
    if not bounded:
        lines.append(f"No interval: {attrs['no_interval']}.")
        return " ".join(lines)
    rejected = attrs.get("rejected") or {}
    rejected_total = sum(rejected.values()) if isinstance(rejected, dict) else 0
    sample = attrs.get("customer_sample")
    evaluated = (
        f", evaluated on {sample['words']} (each {words} keeping its share of them, at least "
        f"{sample['min_per_group']:,} or all of a smaller one) and scaled to each group's "
        "total"
        if sample
        else ""
    )
    lines.append(
        f"Intervals come from {draws} parametric-bootstrap draws of the model parameters"
        + (f" ({rejected_total} invalid draws redrawn)" if rejected_total else "")
        + evaluated
        + ": they cover the uncertainty of the fitted parameters only, not which customers "
        "will actually buy, so a realised total will vary more, especially in small groups."
    )
    return " ".join(lines)


def describe_sensitivity(
    table: pd.DataFrame, *, currency: str, intervals: pd.DataFrame | None = None
) -> str:
    """Markdown: how much total CLV moves with the discount rate, horizon or cut-off.

    Takes the grid of :func:`crmlib.clv.sensitivity` or a :func:`crmlib.clv.value.sensitivity_table`.
    When the refits of a :func:`crmlib.clv.cutoff_sensitivity` table were fitted on samples
    (its ``attrs["refit_samples"]``), one more sentence says so and, given *intervals* (the
    table of :func:`crmlib.clv.clv_intervals` of the fit on all customers), how uncertain a
    refit's total is at that size: :func:`refit_uncertainty`.
    """
    if table.empty:
        return "*No sensitivity results.*"
    base = table[table["is_base"].astype(bool)]
    if base.empty:
        raise ValueError("sensitivity table: no row has is_base=True")
    base_row = base.iloc[0]
    if "annual_discount_rate" in table.columns:
        return _describe_grid(table, base_row, currency)
    lines = [f"Base ({base_row['setting']}): total CLV {_money(base_row['total_clv'], currency)}."]
    for parameter, rows in table[~table["is_base"].astype(bool)].groupby("parameter", sort=False):
        parts = [
            f"{row['setting']}: {_money(row['total_clv'], currency)} "
            f"({_signed_percent(row['change_vs_base'])})"
            for _, row in rows.iterrows()
        ]
        lines.append(f"Varying the {parameter}: " + "; ".join(parts) + ".")
    spread = table["change_vs_base"].abs().max()
    lines.append(
        f"The largest change is {spread:.0%} of the base total." if np.isfinite(spread) else ""
    )
    samples = table.attrs.get("refit_samples")
    if samples:
        lines.append(_describe_refit_samples(samples, intervals))
    return " ".join(line for line in lines if line)


def refit_uncertainty(intervals: pd.DataFrame, customers: int) -> tuple[float, float] | None:
    """(Relative half-width of the total of a fit on ``customers`` customers, that of the fit
    of *intervals*), or None when *intervals* has no bounds.

    The half-width is the "All customers" row of :func:`crmlib.clv.clv_intervals` (the
    parameter uncertainty of the fit on all its customers) over the total, times
    ``sqrt(its customers / customers)``: standard errors of fitted parameters grow as the
    square root of the ratio of customers (for a refit on a sample, its
    :attr:`crmlib.sampling.RowSample.widening` times sqrt(all customers / calibration
    customers)). A refit's shorter calibration period gives each customer less to go on, so
    this is the least its uncertainty is.

    Examples
    --------
    >>> table = pd.DataFrame({"channel": ["All customers"], "customers": [1_000_000],
    ...                       "clv_total": [100.0], "clv_total_lower": [99.0],
    ...                       "clv_total_upper": [101.0]})
    >>> [round(x, 4) for x in refit_uncertainty(table, 100_000)]
    [0.0316, 0.01]
    """
    total = intervals[intervals.iloc[:, 0] == "All customers"]
    if total.empty:
        return None
    row = total.iloc[0]
    half = (float(row["clv_total_upper"]) - float(row["clv_total_lower"])) / 2
    full = half / abs(float(row["clv_total"])) if float(row["clv_total"]) else math.nan
    if not math.isfinite(full) or customers < 1:
        return None
    return full * math.sqrt(float(row["customers"]) / customers), full


def _percent(value: float) -> str:
    """A share with two significant digits: 0.27%, 1.3%, 12%."""
    digits = max(0, 1 - math.floor(math.log10(value * 100))) if value > 0 else 1
    return f"{value * 100:.{digits}f}%"


def _describe_refit_samples(samples: Mapping[str, Any], intervals: pd.DataFrame | None) -> str:
    """The sentence on the refits' samples of :func:`describe_sensitivity`."""
    sampled = {label: s for label, s in samples.items() if s["customers"] < s["of"]}
    size = min(s["customers"] for s in sampled.values())
    at_size = "at that size"
    if len(sampled) == len(samples) and all(s["customers"] == size for s in sampled.values()):
        totals = [f"{s['of']:,}" for s in sampled.values()]
        text = (
            f"Each cut-off is refitted on a random sample of {size:,} of its calibration "
            f"customers (of {listed(totals)})"
        )
    else:
        text = "The cut-offs are refitted on " + "; ".join(
            f"{label}: {s['words']}" for label, s in sampled.items()
        )
        if len(sampled) < len(samples):
            text += " (the others on all their calibration customers)"
        at_size = f"at {size:,} customers"
    uncertainty = None if intervals is None else refit_uncertainty(intervals, size)
    if intervals is None or uncertainty is None:
        return text + "."
    refit, full = uncertainty
    level = float(intervals.attrs.get("level", 0.95))
    everyone = int(intervals.loc[intervals.iloc[:, 0] == "All customers", "customers"].iloc[0])
    return (
        f"{text}; {at_size} the parameter uncertainty of a refit's total is about "
        f"\u00b1{_percent(refit)} ({level:.0%}), against \u00b1{_percent(full)} for the fit on "
        f"all {everyone:,} customers, so changes smaller than that are within the refits' own "
        "uncertainty."
    )


def _describe_grid(table: pd.DataFrame, base: pd.Series, currency: str) -> str:
    rate, horizon = float(base["annual_discount_rate"]), int(base["horizon_months"])
    low = table.loc[table["total_clv"].idxmin()]
    high = table.loc[table["total_clv"].idxmax()]
    lines = [
        f"At the base setting ({rate:.0%} a year, {horizon} months) total CLV is "
        f"{_money(base['total_clv'], currency)}; across the grid it ranges from "
        f"{_money(low['total_clv'], currency)} ({low['annual_discount_rate']:.0%}, "
        f"{int(low['horizon_months'])} months) to {_money(high['total_clv'], currency)} "
        f"({high['annual_discount_rate']:.0%}, {int(high['horizon_months'])} months)."
    ]
    same_horizon = table[table["horizon_months"] == horizon].sort_values("annual_discount_rate")
    if len(same_horizon) > 1:
        first, last = same_horizon.iloc[0], same_horizon.iloc[-1]
        lines.append(
            f"Over {horizon} months, the discount rate matters little: from "
            f"{first['annual_discount_rate']:.0%} to {last['annual_discount_rate']:.0%} the total "
            f"moves by {_signed_percent(last['total_clv'] / first['total_clv'] - 1)}."
            if abs(last["total_clv"] / first["total_clv"] - 1) < 0.05
            else f"Over {horizon} months, going from {first['annual_discount_rate']:.0%} to "
            f"{last['annual_discount_rate']:.0%} moves the total by "
            f"{_signed_percent(last['total_clv'] / first['total_clv'] - 1)}."
        )
    same_rate = table[table["annual_discount_rate"] == rate].sort_values("horizon_months")
    others = same_rate[same_rate["horizon_months"] != horizon]
    if not others.empty:
        parts = [
            f"{int(row['horizon_months'])} months {_signed_percent(row['change_vs_base'])}"
            for _, row in others.iterrows()
        ]
        lines.append(
            f"At {rate:.0%} a year, relative to {horizon} months: " + ", ".join(parts) + "."
        )
    return " ".join(lines)


# -- the data and the fits ---------------------------------------------------------------------
def describe_summary(
    summary: pd.DataFrame, calibration: pd.DataFrame, *, unit: str, min_cell_size: int
) -> str:
    """Markdown: customers, repeat buyers, mean frequency and the calibration/holdout split.

    Numbers of customers are written by the small-cell rule (``min_cell_size``): "fewer than
    10 customers", and a share of a group that is not shown is left out with it.
    """
    rule = SmallCells(min_cell_size)
    n = len(summary)
    repeat = int((summary["frequency"] > 0).sum())
    attrs = calibration.attrs
    buyers = int((calibration["frequency_holdout"] > 0).sum())
    share = f" ({repeat / n:.0%})" if rule.shown(repeat) and rule.shown(n) else ""
    return (
        f"**{rule.phrase(n)}** bought on or before {summary.attrs.get('observation_end', '')}; "
        f"{rule.phrase(repeat)}{share} came back at least once (mean "
        f"{summary['frequency'].mean():.2f} repeat purchases, time unit: {unit}). The models are "
        f"fitted on the {rule.phrase(len(calibration))} who bought by "
        f"{attrs.get('calibration_end', '')} and judged on what they did from then to "
        f"{attrs.get('observation_end', '')}: {rule.phrase(buyers)} bought again in that "
        "holdout." + (f" {attrs['holdout_note']}" if attrs.get("holdout_note") else "")
        if n
        else "No customer bought on or before the as-of date: there is nothing to model."
    )


#: Fallbacks that are computed from the data, not fitted (:mod:`crmlib.clv.choice`).
_NOT_FITS = ("empirical", "observed_spend")


def _fmt_number(value: float) -> str:
    text = f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return text.replace("-", "\u2212")


def _fmt_fixed(value: float) -> str:
    return f"{value:,.1f}".replace("-", "\u2212")


def fit_notes(fitted: FittedModel, *, min_cell_size: int, first: bool = True) -> list[str]:
    """A fit's notes for a page: ``notes`` (from the second when ``first`` is False), then
    its :class:`CountedNote` s worded with the small-cell rule (``min_cell_size``)."""
    notes = list(fitted.notes if first else fitted.notes[1:])
    return notes + [note.words(min_cell_size=min_cell_size) for note in fitted.counted]


def describe_fit(fitted: FittedModel, *, min_cell_size: int = MIN_CELL_SIZE) -> str:
    """Markdown: the model's parameters, log-likelihood, convergence and what was tried.

    Numbers of customers are written by the small-cell rule (``min_cell_size``, the run's
    ``privacy.min_cell_size``): "fewer than 10 repeat customers ...".

    Examples
    --------
    >>> table = pd.DataFrame({"frequency": [1, 2, 3, 1, 4, 2, 5, 1] * 10,
    ...                       "monetary_value": [20.0, 35.0, 18.0, 50.0, 25.0, 30.0, 22.0, 41.0] * 10})
    >>> from crmlib.clv.models.fitting import fit_spend_model
    >>> print(describe_fit(fit_spend_model(table)).splitlines()[0])  # doctest: +ELLIPSIS
    **Gamma-Gamma** fitted on 80 customers (8 distinct patterns): p = ..., q = ..., v = ... (currency).
    """
    customers = SmallCells(min_cell_size).phrase(fitted.n_customers)
    units = {
        "alpha": f" {UNIT_WORDS.get(fitted.unit, fitted.unit)}",
        "beta": f" {UNIT_WORDS.get(fitted.unit, fitted.unit)}",
        "v": " (currency)" if fitted.name == "gammagamma" else "",
    }  # fmt: skip
    params = ", ".join(
        f"{name} = {_fmt_number(value)}{units.get(name, '')}"
        for name, value in fitted.params.items()
    )
    if fitted.name in _NOT_FITS:
        notes = fit_notes(fitted, min_cell_size=min_cell_size)
        return f"**{fitted.label}** (not a fitted model): " + "; ".join(notes) + "."
    if not all(math.isfinite(value) for value in fitted.params.values()):
        return (
            f"**{fitted.label}**: no estimates on {customers}; "
            + "; ".join(fitted.attempts) + ". It is not used."
        )  # fmt: skip
    lines = [
        f"**{fitted.label}** fitted on {customers} "
        f"({fitted.n_patterns:,} distinct patterns): {params}.",
        f"Log-likelihood {_fmt_fixed(fitted.log_likelihood)} "
        f"(AIC {_fmt_fixed(fitted.aic)}, BIC {_fmt_fixed(fitted.bic)})."
        if math.isfinite(fitted.log_likelihood)
        else "Its log-likelihood is not finite at these parameters.",
    ]
    if fitted.converged and len(fitted.attempts) == 1:
        lines.append("The fit converged on the first attempt.")
    elif fitted.converged:
        lines.append(f"The fit converged on attempt {len(fitted.attempts)}; what was tried:")
    else:
        lines.append("**The fit did not converge**; do not use these parameters. What was tried:")
    if not (fitted.converged and len(fitted.attempts) == 1):
        lines.extend(f"- {attempt}" for attempt in fitted.attempts)
    lines.extend(
        f"- {note}" for note in fit_notes(fitted, min_cell_size=min_cell_size, first=False)
    )
    return "\n".join(lines)


def fits_status(fits: Mapping[str, FittedModel]) -> str:
    """One sentence for stakeholders: which fits converged, which did not (and are not used).

    Examples
    --------
    >>> from types import SimpleNamespace as Fit
    >>> fits = {"bgnbd": Fit(name="bgnbd", label="BG/NBD", converged=True, params={"r": 0.5}),
    ...         "paretonbd": Fit(name="paretonbd", label="Pareto/NBD", converged=False,
    ...                          params={"r": 0.6})}
    >>> fits_status(fits)
    'BG/NBD converged; **Pareto/NBD did not converge** and is not used.'
    """
    groups: dict[str, list[str]] = {"converged": [], "failed": [], "empty": [], "computed": []}
    for fitted in fits.values():
        if fitted.name in _NOT_FITS:
            groups["computed"].append(fitted.label)
        elif not all(math.isfinite(value) for value in fitted.params.values()):
            groups["empty"].append(fitted.label)
        else:
            groups["converged" if fitted.converged else "failed"].append(fitted.label)

    def verb(labels: list[str]) -> str:
        return "is" if len(labels) == 1 else "are"

    parts = []
    if groups["converged"]:
        parts.append(f"{listed(groups['converged'])} converged")
    if groups["failed"]:
        labels = groups["failed"]
        parts.append(f"**{listed(labels)} did not converge** and {verb(labels)} not used")
    if groups["empty"]:
        labels = groups["empty"]
        parts.append(f"**{listed(labels)}** gave no estimates and {verb(labels)} not used")
    if groups["computed"]:
        labels = groups["computed"]
        parts.append(f"{listed(labels)} {verb(labels)} computed from the data, not fitted")
    return "; ".join(parts) + "." if parts else "No model was fitted."


def describe_fits(fits: Mapping[str, FittedModel], *, min_cell_size: int) -> str:
    """Markdown: which fits converged (:func:`fits_status`), then each fit in words
    (:func:`describe_fit`: parameters, log-likelihood, what the optimiser tried, numerical
    notes) folded in a "details" block for analysts."""
    body = "\n\n".join(
        describe_fit(fitted, min_cell_size=min_cell_size) for fitted in fits.values()
    )
    return fits_status(fits) + "\n\n" + details("how each model was fitted", body)


def spend_check(summary: pd.DataFrame, *, min_cell_size: int) -> str:
    """Markdown: the Gamma-Gamma independence check (frequency vs spend) and what it implies."""
    verdict = spend_independence(summary, min_cell_size=min_cell_size)["verdict"]
    return f"**Spend and frequency:** {verdict}"


# -- the model choice ----------------------------------------------------------------------------
def describe_choice(choice: ModelChoice) -> str:
    """Markdown: which model 05 uses and why: the holdout choice, or the fallback step and why.

    Takes :func:`choose_model`'s result (or :func:`fit_with_fallback`'s, or
    :func:`spend_model`'s). When the models were fitted on a sample of the customers
    (``engine.driver_max_rows``), a last sentence says how many (``choice.sample_note``).
    """
    text = _choice_text(choice)
    return f"{text} {choice.sample_note}" if choice.sample_note else text


def _choice_text(choice: ModelChoice) -> str:
    if choice.comparison.empty:
        return " ".join(choice.words)
    if choice.fallback is None:
        table = choice.comparison.assign(model=[MODEL_LABELS.get(m, m) for m in
                                                choice.comparison["model"]])  # fmt: skip
        return describe_model_choice(table, MODEL_LABELS.get(choice.chosen, choice.chosen),
                                     choice.criterion)  # fmt: skip
    lines = list(choice.words)
    model = choice.model
    if model.name == "nbd":
        r, alpha = model.params["r"], model.params["alpha"]
        unit = UNIT_WORDS.get(model.unit, model.unit)
        lines.append(
            f"Customers are modelled as never leaving (P(alive) = 1 for everyone): each buys at "
            f"their own steady rate, the rates varying across customers as a Gamma distribution "
            f"(r = {r:.3g}, alpha = {alpha:.3g} {unit}; mean {r / alpha:.3g} repeat purchases "
            f"per {unit.rstrip('s')})."
        )
    elif model.name == "empirical":
        lines.append(
            "No model describes these customers, so each is valued at their own observed "
            "spend per unit of time since their first purchase, continued over the horizon, "
            "discounted and times the margin: there is no P(alive) (nobody is assumed gone) "
            "and no interval."
        )
    row = choice.comparison.set_index("model").loc[choice.chosen]
    if np.isfinite(row.get("mae", np.nan)):
        lines.append(
            f"On the holdout it predicted {row['predicted_total']:,.0f} repeat purchases against "
            f"{row['actual_total']:,.0f} actual; its error per customer is {row['mae']:.3f} "
            "purchases (MAE)."
        )
    return " ".join(lines)


# -- the conclusion ------------------------------------------------------------------------------
def clv_conclusion(
    values: pd.DataFrame,
    *,
    chosen: str,
    horizon_months: int,
    currency: str,
    top_decile: float,
    min_cell_size: int,
) -> str:
    """The stage's one-line conclusion for the front page, from the numbers.

    ``chosen`` is the model used (a candidate, ``"nbd"`` or ``"empirical"``: the fallbacks
    are named as such); the number of customers is written by the small-cell rule
    (``min_cell_size``).
    """
    total = float(values["clv"].sum())
    mean = float(values["clv"].mean()) if len(values) else float("nan")
    how = (
        "valued at each customer's observed spend rate: no model converged"
        if chosen == "empirical"
        else f"model {MODEL_LABELS.get(chosen, chosen)}"
    )
    # no share of a total of 0 (e.g. every customer's value is 0): the clause is left out
    top = f"; the top 10% hold {top_decile:.0%} of it" if math.isfinite(top_decile) else ""
    return (
        f"The {SmallCells(min_cell_size).phrase(len(values))} are worth "
        f"{_money(total, currency)} in "
        f"discounted margin over the next {horizon_months} months "
        f"({_money(mean, currency)} each on average, {how}){top}."
    )


def describe_acquisition(
    acquisition: Acquisition | None, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> Sentence:
    """Markdown: what acquiring a customer cost per channel, whether they pay it back, and the
    spend on campaigns per retained customer (a plain ratio), or why the section is skipped.

    A CAC, ratio or payback on fewer than ``min_cell_size`` new customers is not stated.
    """
    if acquisition is None:
        return Sentence(_ACQUISITION_SKIPPED)
    rule = SmallCells(min_cell_size)
    channels = acquisition.by_channel
    if channels.empty:
        return Sentence("The spend table has no row on or before the as-of date: no CAC.")
    total = channels.iloc[-1]
    per = channels.iloc[:-1]
    window = f"{total['first_month']} to {total['last_month']}"
    parts = [
        f"From {window}, {format_money(total['spend'], currency)} of marketing spend brought "
        f"{rule.phrase(int(total['new_customers']), 'new customer')}"
        + (
            f": a blended CAC of **{format_money(total['cac'], currency, small_decimals=2)}** "
            "per new customer (all spend over all new customers, channels without spend "
            "included)."
            if pd.notna(total["cac"]) and rule.shown(total["new_customers"])
            else "."
        )
    ]
    shown = per[per["cac"].notna() & ~rule.is_small(per["new_customers"].to_numpy())]
    if len(shown) >= 2:
        cheap = shown.loc[shown["cac"].idxmin()]
        dear = shown.loc[shown["cac"].idxmax()]
        parts.append(
            f"Per channel, acquiring a customer cost least through {cheap['channel']} "
            f"({format_money(cheap['cac'], currency, small_decimals=2)}) and most through "
            f"{dear['channel']} ({format_money(dear['cac'], currency, small_decimals=2)})."
        )
    unpaid = per[per["spend"].gt(0) & per["cac"].isna()]
    if len(unpaid):
        parts.append(
            f"{listed(unpaid['channel'].astype(str).tolist())}: spend but no new customer, so "
            "CAC is undefined there (not infinite)."
        )
    no_new = int(per["months_spend_no_new"].sum())
    if no_new:
        parts.append(
            f"In {no_new} channel-month(s) there was spend but no new customer: that month's "
            "CAC is undefined; the spend still counts in the channel's total."
        )
    ratio = acquisition.clv_to_cac
    if ratio is not None:
        news = dict(zip(channels["channel"], channels["new_customers"], strict=True))
        usable = ratio[
            ratio["clv_to_cac"].notna()
            & (ratio["channel"] != "All channels")
            & np.array([rule.shown(news.get(c, 0)) and rule.shown(n)
                        for c, n in zip(ratio["channel"], ratio["customers"], strict=True)])
        ]  # fmt: skip
        if len(usable):
            words = ", ".join(
                f"{row.channel} {row.clv_to_cac:.1f}" for row in usable.itertuples(index=False)
            )
            below = usable[usable["clv_to_cac"] < 1]["channel"].astype(str).tolist()
            parts.append(
                f"CLV:CAC (mean predicted CLV of the channel's customers over the CLV horizon, "
                f"already at the margin, over CAC): {words}."
                + (
                    f" Below 1 for {listed(below)}: the predicted value does not cover what "
                    "acquiring a customer cost."
                    if below
                    else ""
                )
                + " CLV here is future value only (what customers already spent is not in it),"
                " so the ratio understates the value of older customers."
            )
    payback = acquisition.payback_by_channel
    if len(payback):
        every = payback.iloc[-1]
        margin = (
            f"realized margin (net revenue × {acquisition.margin:.0%})"
            if acquisition.margin < 1
            else "net revenue (no margin given)"
        )
        if every["cohorts"] and rule.shown(every["new_customers"]):
            mean = every["mean_payback_months"]
            parts.append(
                f"Payback: of {every['cohorts']:,} monthly cohorts with spend, "
                f"{every['cohorts_paid_back']:,} have earned their acquisition cost back in "
                f"{margin}"
                + (f", in {mean:.1f} months on average (the acquisition month counts as 1)"
                   if pd.notna(mean) else "")
                + f"; {every['cohorts_not_yet']:,} have not yet."
            )  # fmt: skip
    campaigns = acquisition.campaigns
    if campaigns is not None and len(campaigns):
        retained = int(campaigns["retained_customers"].sum())
        spend = float(campaigns["retention_spend"].sum())
        if retained and rule.shown(retained):
            parts.append(
                "Spend on retention campaigns (spend rows naming a messaging campaign or an "
                f"experiment of this run, left out of CAC): "
                f"{format_money(spend, currency)} in {len(campaigns)} month(s) whose retained "
                f"customers (bought in the month and the month before) numbered {retained:,}: "
                f"{format_money(spend / retained, currency, small_decimals=2)} per retained "
                "customer. This is a plain ratio, not the campaigns' effect: most of those "
                "customers would have bought anyway; 07_ab_test measures the extra ones."
            )
    return Sentence(" ".join(parts))


def describe_nps_value(
    value_by_nps: pd.DataFrame | None, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> Sentence:
    """Markdown: how the mean predicted CLV of promoters compares with detractors', or why skipped."""
    if value_by_nps is None:
        return Sentence(_NPS_SKIPPED)
    rule = SmallCells(min_cell_size)
    table = value_by_nps.set_index("nps_group")
    usable = [
        g
        for g in ("promoter", "detractor")
        if table.loc[g, "customers"] > 0 and rule.shown(table.loc[g, "customers"])
    ]
    if len(usable) < 2:
        return Sentence(
            "Promoters or detractors with a CLV number fewer than "
            f"{rule.min_cell_size:,} customers (or none): their value is not compared."
        )
    pro, det = table.loc["promoter"], table.loc["detractor"]
    apart = pro["clv_lower"] > det["clv_upper"] or det["clv_lower"] > pro["clv_upper"]
    ratio = pro["clv_mean"] / det["clv_mean"] if det["clv_mean"] > 0 else np.nan
    return Sentence(
        f"Promoters are worth {format_money(pro['clv_mean'], currency, small_decimals=2)} of "
        f"predicted CLV each on average, detractors "
        f"{format_money(det['clv_mean'], currency, small_decimals=2)}"
        + (f" ({ratio:.1f}×)" if np.isfinite(ratio) else "")
        + ("; the 95% intervals do not overlap." if apart else "; the 95% intervals overlap.")
        + " This is an association (customers who buy more may also answer more kindly), not"
        " an effect of satisfaction on value."
    )
