"""BTYD diagnostics as lifetimes users know them: the data behind each chart, and the chart.

Each diagnostic is a table function (testable, exportable) and a plot function that takes
that table and an axis and returns the axis:

- period transactions: customers by repeat purchases in the calibration period, actual vs
  the model's *expected* counts (sum over customers of P(X(T) = n) at each customer's own T;
  closed form for BG/NBD and MBG/NBD, Gauss-Legendre integration over the lifetime for
  Pareto/NBD), where lifetimes' ``plot_period_transactions`` draws one random simulation;
- calibration vs holdout: mean actual and predicted holdout purchases by calibration
  frequency (lifetimes' ``plot_calibration_purchases_vs_holdout_purchases``);
- cumulative tracking: actual vs expected cumulative repeat purchases of the cohort by day
  (lifetimes' ``expected_cumulative_transactions``, vectorised: a convolution of daily
  first-purchase counts with the model's E[X(t)]);
- P(alive) by recency x frequency (lifetimes' ``plot_probability_alive_matrix``);
- P(alive) calibration: deciles of predicted P(alive) at the end of calibration vs the share
  of customers with a holdout purchase.

No chart shows a customer id.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers the easy
   way: an alternative to the Pareto/NBD model." Marketing Science 24(2), 275-284 (figures
   1-4: period transactions, tracking, conditional expectations).
.. [2] Fader, P. S. and Hardie, B. G. S. (2005). "A note on deriving the Pareto/NBD model and
   related expressions." http://brucehardie.com/notes/009/
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from crmlib.clv.models.fitters import transaction_model
from crmlib.clv.models.inputs import history, unique_rows
from crmlib.clv.models.registry import KERNELS, p_zero_alive
from crmlib.clv.validation import (
    bucket_codes,
    bucket_labels,
    holdout_arrays,
    merge_small_buckets,
)
from crmlib.clv.value import ALL_GROUPS, resolve_days_per_unit
from crmlib.errors import DataContractError
from crmlib.intervals import wilson_interval
from crmlib.periods import as_date
from crmlib.plotting import money_axis, note_on_axes
from crmlib.privacy import MIN_CELL_SIZE, OTHER, SmallCells

__all__ = [
    "period_transactions",
    "plot_period_transactions",
    "plot_calibration_holdout",
    "cumulative_tracking",
    "plot_cumulative_tracking",
    "palive_matrix",
    "plot_palive_matrix",
    "palive_calibration",
    "plot_palive_calibration",
    "plot_clv_intervals",
    "plot_sensitivity",
    "plot_cac_by_month",
]

log = logging.getLogger(__name__)


# -- period transactions ----------------------------------------------------------------------
def period_transactions(
    fitter: Any,
    summary: pd.DataFrame,
    *,
    max_frequency: int = 7,
    min_cell_size: int,
) -> pd.DataFrame:
    """Customers by repeat purchases in the calibration period: actual vs model-expected.

    Transforms *summary* (one row per customer: ``frequency``, ``recency``, ``T`` in the
    model's unit; the data the model was fitted on) into one row per count: ``frequency``
    ("0" .. ``max_frequency - 1``, then ``"{max_frequency}+"``), ``actual_customers`` and
    ``expected_customers`` = sum over customers of P(X(T) = n) under the fitted model (an
    expectation, not lifetimes' single random simulation; the open last bucket is the rest
    of the customers, so both columns add up to the number of customers).

    The small-cell rule: a count held by fewer than ``min_cell_size`` customers is merged
    with its neighbour (:func:`crmlib.clv.validation.merge_small_buckets`: "5", "6" and "7+" become
    "5+"); ``attrs["merged"]`` is True when a count was merged.
    """
    if max_frequency < 1:
        raise ValueError(f"max_frequency={max_frequency}: expected at least 1")
    model = transaction_model(fitter)
    x, _, T = history(summary, ("frequency", "recency", "T"), table_name="summary")
    ages, counts = np.unique(T, return_counts=True)
    pmf = KERNELS[model.kind].pmf(model.theta, ages, max_frequency - 1)
    expected = counts @ pmf
    n = len(x)
    actual = np.bincount(np.minimum(x, max_frequency).astype("int64"), minlength=max_frequency + 1)
    repeats = list(range(max_frequency + 1))
    bounds = merge_small_buckets(
        np.minimum(x, max_frequency), buckets=repeats, min_cell_size=min_cell_size
    )
    code = bucket_codes(bounds, repeats)
    table = pd.DataFrame(
        {
            "frequency": bucket_labels(bounds),
            "actual_customers": np.bincount(code, weights=actual[: max_frequency + 1],
                                            minlength=len(bounds)).astype("int64"),
            "expected_customers": np.bincount(code, weights=np.append(expected, n - expected.sum()),
                                              minlength=len(bounds)),
        }
    )  # fmt: skip
    table.attrs = {
        "merged": len(bounds) < len(repeats),
        "min_cell_size": int(min_cell_size),
        "model": model.label,
        "method": "expected counts: sum over customers of P(X(T)=n) of the fitted model "
        + ("(numerical integration)" if model.kind == "pnbd" else "(closed form)"),
    }
    if model.kind == "empirical":
        table["expected_customers"] = np.nan
        table.attrs["method"] = "none: the observed spend rate is not a model of the counts"
    return table


def plot_period_transactions(table: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Bars of actual vs expected customers by repeat purchases (from period_transactions)."""
    ax = ax or plt.gca()
    positions = np.arange(len(table))
    width = 0.4
    ax.bar(positions - width / 2, table["actual_customers"], width, label="Actual")
    expected = table["expected_customers"].to_numpy(dtype="float64")
    if np.isfinite(expected).any():
        ax.bar(positions + width / 2, expected, width,
               label=f"Model ({table.attrs.get('model', 'expected')})")  # fmt: skip
    else:
        ax.text(0.98, 0.95, "No model expectation: each customer's observed rate is used",
                transform=ax.transAxes, ha="right", va="top", fontsize="small")  # fmt: skip
    ax.set_xticks(positions, table["frequency"].astype(str))
    ax.legend()
    ax.set(title="Customers by number of repeat purchases: actual vs model",
           xlabel="Repeat purchases in the calibration period"
           + _merged_words(table.attrs.get("merged"), table.attrs.get("min_cell_size")),
           ylabel="Customers")  # fmt: skip
    return ax


def _merged_words(merged: object, min_cell_size: object) -> str:
    """What an axis label adds when buckets of few customers were merged."""
    if not merged:
        return ""
    return f"\n(counts of fewer than {min_cell_size} customers merged with their neighbour)"


# -- calibration vs holdout ----------------------------------------------------------------------
def plot_calibration_holdout(
    predictions: pd.DataFrame,
    *,
    max_frequency: int = 7,
    min_cell_size: int,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Mean actual vs predicted holdout purchases by calibration frequency.

    Takes *predictions* (one row per customer, as from
    :func:`crmlib.clv.holdout_predictions`); customers with ``max_frequency`` or more
    calibration purchases are pooled into the last point. The small-cell rule: a frequency of
    fewer than ``min_cell_size`` customers is merged with its neighbour
    (:func:`crmlib.clv.validation.merge_small_buckets`), so no point is a mean of fewer customers; the
    axis label says so when it happens.
    """
    for column in ("frequency_cal", "predicted_holdout_purchases", "actual_holdout_purchases"):
        if column not in predictions.columns:
            raise DataContractError(
                f"predictions: column '{column}' is missing; found "
                f"{sorted(map(str, predictions.columns))}"
            )
    ax = ax or plt.gca()
    capped = np.minimum(predictions["frequency_cal"].to_numpy(dtype="int64"), max_frequency)
    counts = list(range(max_frequency + 1))
    bounds = merge_small_buckets(capped, buckets=counts, min_cell_size=min_cell_size)
    code = bucket_codes(bounds, capped)
    grouped = predictions.assign(bucket=code).groupby("bucket")
    means = grouped[["actual_holdout_purchases", "predicted_holdout_purchases"]].mean()
    shown = ~SmallCells(min_cell_size).is_small(grouped.size().to_numpy())
    means = means[shown]  # only when all customers together are fewer than min_cell_size
    labels = bucket_labels(bounds)
    ax.plot(means.index, means["actual_holdout_purchases"], marker="o", label="Actual")
    ax.plot(means.index, means["predicted_holdout_purchases"], marker="s", linestyle="--",
            label="Predicted")  # fmt: skip
    ax.set_xticks(means.index, [labels[int(b)] for b in means.index])
    ax.legend()
    unit = predictions.attrs.get("unit", "unit")
    duration = predictions["duration_holdout"] if "duration_holdout" in predictions else None
    length = f" ({duration.iloc[0]:g} {unit}s)" if duration is not None and len(duration) else ""
    ax.set(title="Holdout purchases per customer: actual vs predicted",
           xlabel="Repeat purchases in the calibration period"
           + _merged_words(len(bounds) < len(counts), min_cell_size),
           ylabel=f"Mean purchases in the holdout{length}")  # fmt: skip
    return ax


# -- cumulative tracking --------------------------------------------------------------------------
def _dates(values: Any, name: str) -> pd.DatetimeIndex:
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(pd.Series(values), errors="raise"))
    except (ValueError, TypeError) as exc:
        raise DataContractError(f"{name}: not dates ({exc})") from None
    if dates.isna().any():
        raise DataContractError(f"{name}: {int(dates.isna().sum())} missing dates")
    return dates.normalize()


def cumulative_tracking(
    fitter: Any,
    transactions_daily: pd.DataFrame,
    *,
    calibration_end: dt.date | str,
    unit: str,
    first_purchase_dates: Sequence[Any] | pd.Series,
    days_per_unit: float | None = None,
    end_date: dt.date | str | None = None,
) -> pd.DataFrame:
    """Actual vs expected cumulative repeat purchases of a set of customers, by day.

    Transforms *transactions_daily* (one row per day: ``date``, ``repeat_purchases`` = the
    customers' repeat purchases that day, counted as the summary counts ``frequency``) and
    ``first_purchase_dates`` (one date per customer, no ids) into one row per day from the
    first first purchase to ``end_date`` (default: the last day of ``transactions_daily``):
    ``date``, ``days_since_start``, ``actual_cumulative_purchases`` (through the end of the
    day), ``expected_cumulative_purchases`` and ``period`` ("calibration" up to
    ``calibration_end``, then "holdout").

    Expected: sum over customers of E[X(d - first purchase date)] of the fitted model (the
    unconditional expectation for a customer of that age, in days / ``days_per_unit``), as in
    Fader, Hardie and Lee (2005) and lifetimes' ``expected_cumulative_transactions``; computed
    as a convolution of the daily count of first purchases with E[X(k days)], k = 0, 1, ...
    lifetimes' own table pairs the expectation at day k with purchases through day k - 1.

    Parameters
    ----------
    unit : str
        The model's time unit; ``days_per_unit`` defaults to 1 for "day" and 7 for "week".
    """
    model = transaction_model(fitter)
    per_unit = resolve_days_per_unit(unit, days_per_unit)
    for column in ("date", "repeat_purchases"):
        if column not in transactions_daily.columns:
            raise DataContractError(
                f"transactions_daily: column '{column}' is missing; found "
                f"{sorted(map(str, transactions_daily.columns))}, expected ['date', "
                "'repeat_purchases']"
            )
    firsts = _dates(first_purchase_dates, "first_purchase_dates")
    if len(firsts) == 0:
        raise DataContractError("first_purchase_dates: no customers")
    days = _dates(transactions_daily["date"], "transactions_daily.date")
    purchases = pd.to_numeric(transactions_daily["repeat_purchases"], errors="coerce")
    if purchases.isna().any() or (purchases < 0).any():
        raise DataContractError(
            "transactions_daily: column 'repeat_purchases' has missing or negative values"
        )
    start = firsts.min()
    last = pd.Timestamp(as_date(end_date)) if end_date is not None else max(days.max(), start)
    n_days = (last - start).days + 1
    if n_days < 1:
        raise DataContractError(f"end_date {last.date()} is before the first purchase {start}")
    first_offsets = (firsts - start).days.to_numpy()
    first_offsets = first_offsets[first_offsets < n_days]
    first_counts = np.bincount(first_offsets, minlength=n_days)[:n_days].astype("float64")
    expected_by_age = KERNELS[model.kind].expected(model.theta, np.arange(n_days) / per_unit)
    expected = np.convolve(first_counts, expected_by_age)[:n_days]
    day_offsets = (days - start).days.to_numpy()
    kept = (day_offsets >= 0) & (day_offsets < n_days)
    daily = np.bincount(day_offsets[kept], weights=purchases.to_numpy()[kept], minlength=n_days)
    dates = pd.date_range(start, periods=n_days, freq="D")
    cutoff = pd.Timestamp(as_date(calibration_end))
    table = pd.DataFrame(
        {
            "date": dates,
            "days_since_start": np.arange(n_days),
            "actual_cumulative_purchases": np.cumsum(daily),
            "expected_cumulative_purchases": expected,
            "period": np.where(dates <= cutoff, "calibration", "holdout"),
        }
    )
    table.attrs = {
        "model": model.label,
        "calibration_end": cutoff.date().isoformat(),
        "unit": unit,
        "days_per_unit": per_unit,
    }
    return table


def plot_cumulative_tracking(
    table: pd.DataFrame,
    *,
    calibration_end: dt.date | str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Actual vs expected cumulative repeat purchases over time (from cumulative_tracking)."""
    ax = ax or plt.gca()
    ax.plot(table["date"], table["actual_cumulative_purchases"], label="Actual")
    ax.plot(table["date"], table["expected_cumulative_purchases"], linestyle="--",
            label=f"Model ({table.attrs.get('model', 'expected')})")  # fmt: skip
    cutoff = calibration_end or table.attrs.get("calibration_end")
    if cutoff is not None:
        ax.axvline(pd.Timestamp(as_date(cutoff)), color="grey", linestyle=":",
                   label="End of calibration")  # fmt: skip
    ax.legend()
    ax.set(title="Cumulative repeat purchases: actual vs model",
           xlabel="Date", ylabel="Repeat purchases (cumulative)")  # fmt: skip
    return ax


# -- P(alive) ---------------------------------------------------------------------------------------
def palive_matrix(
    fitter: Any,
    *,
    max_frequency: int,
    max_recency: int,
    T: float,
    unit: str = "week",
) -> pd.DataFrame:
    """P(alive) of a customer of age ``T`` by recency (rows) and frequency (columns).

    One row per recency 0..``max_recency`` (whole ``unit``s since the first purchase) and one
    column per number of repeat purchases 0..``max_frequency``; the values are P(alive) at
    age ``T`` (lifetimes' ``conditional_probability_alive_matrix``, with T given).
    """
    if max_recency > T:
        raise ValueError(f"max_recency={max_recency} is larger than T={T}")
    model = transaction_model(fitter)
    recency = np.arange(int(max_recency) + 1, dtype="float64")
    frequency = np.arange(int(max_frequency) + 1, dtype="float64")
    values = KERNELS[model.kind].p_alive(
        model.theta, frequency[None, :], recency[:, None], float(T)
    )
    matrix = pd.DataFrame(
        np.broadcast_to(values, (len(recency), len(frequency))),
        index=pd.Index(recency.astype("int64"), name=f"recency_{unit}s"),
        columns=pd.Index(frequency.astype("int64"), name="frequency"),
    )
    matrix.attrs = {"model": model.label, "T": float(T), "unit": unit}
    return matrix


def plot_palive_matrix(matrix: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Heatmap of P(alive) by recency and frequency (from palive_matrix)."""
    ax = ax or plt.gca()
    image = ax.imshow(matrix.to_numpy(), origin="lower", aspect="auto", cmap="RdYlGn",
                      vmin=0, vmax=1, interpolation="nearest")  # fmt: skip
    ax.figure.colorbar(image, ax=ax, label="P(alive)")
    unit = matrix.attrs.get("unit", "unit")
    age = matrix.attrs.get("T")
    ax.set(
        title="P(alive) by frequency and recency"
        + (f" (customers aged {age:g} {unit}s)" if age is not None else ""),
        xlabel="Repeat purchases (frequency)",
        ylabel=f"Recency: {unit}s from first to last purchase",
    )
    return ax


_CALIBRATION_COLUMNS = ("bin", "customers", "mean_p_alive", "mean_p_purchase", "share_purchased",
                        "share_lower", "share_upper")  # fmt: skip


def palive_calibration(
    fitter: Any,
    calibration_holdout: pd.DataFrame,
    *,
    bins: int = 10,
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame:
    """Predicted P(alive) deciles vs the share of customers who bought in the holdout.

    Transforms *calibration_holdout* (one row per customer, as for
    :func:`crmlib.clv.holdout_predictions`) into one row per bin of predicted P(alive) at the
    end of calibration (equal-sized bins by rank; ties ordered by the predicted purchase
    probability): ``bin`` (1 = lowest), ``customers``, ``mean_p_alive``, ``mean_p_purchase``
    (the model's P(at least one purchase in the holdout) = P(alive) x (1 - P(no purchase |
    alive))), ``share_purchased`` (observed), and its 95% Wilson interval ``share_lower``,
    ``share_upper``.

    P(alive) is an upper bound of the share that buys (an active customer need not buy within
    the holdout); ``mean_p_purchase`` is the like-for-like prediction of ``share_purchased``.

    The small-cell rule: every bin holds at least ``min_cell_size`` customers, so with fewer
    than ``bins * min_cell_size`` customers there are fewer bins, and with fewer than
    ``min_cell_size`` none (an empty table; ``attrs["note"]`` says why and the chart shows it).
    """
    if bins < 1:
        raise ValueError(f"bins={bins}: expected at least 1")
    model = transaction_model(fitter)
    x, t_x, T, actual, duration = holdout_arrays(calibration_holdout)
    n = len(x)
    bins = min(bins, n // max(int(min_cell_size), 1))
    if bins == 0:
        table = pd.DataFrame({name: pd.Series(dtype="int64" if name in ("bin", "customers")
                                              else "float64") for name in _CALIBRATION_COLUMNS})  # fmt: skip
        table.attrs = {
            "model": model.label,
            "note": f"{n} customers in the calibration period, fewer than {min_cell_size}: "
            "too few to compare predicted and observed purchases by bin",
        }
        return table
    p_alive = np.broadcast_to(KERNELS[model.kind].p_alive(model.theta, x, t_x, T), x.shape)
    index, (ux, uT, ud) = unique_rows(x, T, duration)
    p_zero = p_zero_alive(model.kind, model.theta, ud, ux, uT)[index]
    p_purchase = p_alive * (1 - p_zero)
    order = np.lexsort((p_purchase, p_alive))
    code = np.empty(n, dtype="int64")
    code[order] = np.arange(n) * bins // n
    purchased = (actual > 0).astype("float64")
    customers = np.bincount(code, minlength=bins).astype("float64")
    bought = np.bincount(code, weights=purchased, minlength=bins)
    lower, upper = wilson_interval(bought, customers)
    table = pd.DataFrame(
        {
            "bin": np.arange(1, bins + 1),
            "customers": customers.astype("int64"),
            "mean_p_alive": np.bincount(code, weights=p_alive, minlength=bins) / customers,
            "mean_p_purchase": np.bincount(code, weights=p_purchase, minlength=bins) / customers,
            "share_purchased": bought / customers,
            "share_lower": lower,
            "share_upper": upper,
        }
    )
    table.attrs = {"model": model.label}
    return table


def plot_palive_calibration(table: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Observed share buying in the holdout vs predicted, by P(alive) bin (palive_calibration);
    a table without bins draws its note instead."""
    ax = ax or plt.gca()
    if table.empty:
        return note_on_axes(ax, str(table.attrs.get("note", "No customers to compare.")))
    share = table["share_purchased"].to_numpy(dtype="float64")
    # clipped: at a share of 0 or 1 the Wilson bound equals the share up to rounding
    errors = np.clip(
        np.vstack([share - table["share_lower"], table["share_upper"] - share]), 0, None
    )
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="Perfect calibration")
    ax.errorbar(table["mean_p_purchase"], share, yerr=errors, fmt="o",
                label="P(purchase in holdout), predicted")  # fmt: skip
    ax.scatter(table["mean_p_alive"], share, marker="x", label="P(alive), predicted")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper left", fontsize="small")
    ax.set(title="Who bought in the holdout, by decile of predicted P(alive)",
           xlabel="Predicted probability (mean of the bin)",
           ylabel="Customers with a holdout purchase")  # fmt: skip
    return ax


# -- CLV charts -------------------------------------------------------------------------------------
def plot_clv_intervals(
    intervals: pd.DataFrame,
    *,
    by: str,
    currency: str,
    min_cell_size: int,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Mean CLV per group with its interval (from crmlib.clv.clv_intervals), largest first.

    The small-cell rule: a group of fewer than ``min_cell_size`` customers is not drawn (pool
    the groups before computing the intervals, :func:`crmlib.clv.pool_groups`, so that they
    are drawn as one ``"(other)"`` bar); the axis label says which was done.
    """
    ax = ax or plt.gca()
    small = SmallCells(min_cell_size).is_small(intervals["customers"])
    intervals = intervals[~small]
    overall = intervals[by] == ALL_GROUPS
    rows = pd.concat([intervals[~overall].sort_values("clv_mean"), intervals[overall]])
    mean = rows["clv_mean"].to_numpy(dtype="float64")
    errors = np.vstack([mean - rows["clv_mean_lower"], rows["clv_mean_upper"] - mean])
    bounded = bool(np.isfinite(errors).any())
    positions = np.arange(len(rows))
    colours = np.where(rows[by] == ALL_GROUPS, "#5f6b73", "#1f5f99")
    ax.barh(positions, mean, xerr=errors if bounded else None, capsize=3, color=colours)
    ax.set_yticks(positions, rows[by].astype(str))
    money_axis(ax, currency, axis="x")
    level = intervals.attrs.get("level", 0.95)
    months = intervals.attrs.get("horizon_months")
    horizon = f" over {months} months" if months else ""
    interval = f"{level:.0%} interval" if bounded else "no interval: no model parameters"
    words = by.replace("_", " ")
    note = (
        f"\n{OTHER}: the smallest {words}s pooled, so none of fewer than {min_cell_size} "
        "customers is shown alone"
        if (intervals[by] == OTHER).any()
        else ""
    )
    if small.any():
        note += f"\n{words}s of fewer than {min_cell_size} customers are not drawn"
    ax.set(title=f"Mean CLV per customer{horizon} by {words}",
           xlabel=f"CLV per customer ({currency}, {interval}){note}",
           ylabel=words.capitalize())  # fmt: skip
    return ax


def plot_sensitivity(
    grid: pd.DataFrame,
    *,
    currency: str,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Total CLV for each discount rate x horizon (from crmlib.clv.sensitivity)."""
    ax = ax or plt.gca()
    table = grid.pivot(index="annual_discount_rate", columns="horizon_months", values="total_clv")
    image = ax.imshow(table.to_numpy(), origin="lower", aspect="auto", cmap="Blues")
    ax.figure.colorbar(image, ax=ax, label=f"Total CLV ({currency})")
    for i, rate in enumerate(table.index):
        for j, months in enumerate(table.columns):
            ax.text(j, i, f"{table.loc[rate, months]:,.0f}", ha="center", va="center",
                    fontsize="small")  # fmt: skip
    ax.set_xticks(np.arange(len(table.columns)), [str(m) for m in table.columns])
    ax.set_yticks(np.arange(len(table.index)), [f"{r:.0%}" for r in table.index])
    ax.grid(False)
    ax.set(title="How total CLV depends on the discount rate and the horizon",
           xlabel="Horizon (months)", ylabel="Annual discount rate")  # fmt: skip
    return ax


def plot_cac_by_month(
    acquisition: Any,
    *,
    currency: str,
    min_cell_size: int,
    months_shown: int | None = 24,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """CAC per acquisition channel and month (one line per channel with spend).

    From a :class:`crmlib.clv.acquisition.Acquisition`. A month whose CAC is undefined (spend
    but no new customer) or computed on 1 to ``min_cell_size`` - 1 new customers is a gap;
    the title says so. Without spend (None), the axis says the section is skipped.
    """
    ax = ax or plt.gca()
    if acquisition is None:
        return note_on_axes(ax, "No marketing_spend or customers table: CAC not measured")
    by_month = acquisition.by_month
    spending = sorted(set(by_month.loc[by_month["spend_rows"] > 0, "channel"]))
    months = sorted(by_month["month_start"].unique())
    if months_shown is not None:
        months = months[-int(months_shown) :]
    labels = [pd.Timestamp(m).strftime("%Y-%m") for m in months]
    rule = SmallCells(min_cell_size)
    gaps = 0
    for channel in spending:  # one line per channel
        rows = by_month[by_month["channel"] == channel].set_index("month_start").reindex(months)
        cac = rows["cac"].astype("float64")
        small = rule.is_small(rows["new_customers"].fillna(0).to_numpy())
        gaps += int((small | (cac.isna() & rows["spend"].fillna(0).gt(0)).to_numpy()).sum())
        ax.plot(np.arange(len(months)), cac.where(~small).to_numpy(), marker="o", markersize=3,
                label=channel)  # fmt: skip
    step = max(1, int(np.ceil(len(labels) / 18)))
    ticks = list(range(len(labels)))[::-1][::step][::-1]
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right")
    title = "Cost of acquiring a new customer (CAC) by channel and month"
    if gaps:
        title += (f"\nGaps: {gaps} channel-month(s) with spend but no new customer (CAC "
                  f"undefined) or fewer than {min_cell_size:,} new customers")  # fmt: skip
    ax.set_title(title)
    ax.set(xlabel="Month of first purchase", ylabel=f"CAC per new customer ({currency})")
    money_axis(ax, currency)
    if spending:
        ax.legend(title="Acquisition channel", loc="upper left", ncols=min(len(spending), 4))
    return ax
