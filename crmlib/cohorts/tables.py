"""Display tables of stage 03_cohorts: cohort matrices and pooled rates shaped for the page."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from crmlib.cohorts.models.pooling import _ALL, _CHANNEL, _pooled
from crmlib.cohorts.queries.matrices import RETENTION_DEFINITIONS
from crmlib.cohorts.text import _shown_trends
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.formatting import format_figure
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, OTHER, SmallCells

__all__ = [
    "cohort_matrix",
    "display_matrix",
    "definition_table",
    "bracket_table",
    "trends_table",
    "rates_table",
]

log = logging.getLogger(__name__)


#: ``DataFrame.attrs`` keys of :func:`display_matrix`: the labels of the cohort rows left
#: undrawn (fewer than the limit of customers) and the limit, read by the heatmap.
SMALL_COHORTS = "small_cohorts"
LIMIT = "min_cell_size"


# -- cohort matrices -------------------------------------------------------------------------
def cohort_matrix(
    tidy: pd.DataFrame,
    *,
    definition: str = "on",
    dimension: str = "all",
    dimension_value: str = "all",
    value: str = "retention",
) -> pd.DataFrame:
    """One cohort matrix, wide, for a heatmap: cohorts down, periods since acquisition across.

    Transforms the tidy output of :func:`cohort_retention`, :func:`cohort_revenue` or
    :func:`bracket_retention` (one row per cohort x k x dimension value [x definition]) into
    one row per cohort (index ``cohort_label``, oldest first) and one column per
    ``periods_since`` (or per ``bracket``, in day order). Masked cells (cohorts of fewer than
    ``privacy.min_cell_size`` customers, column ``masked``) are NaN; so are periods a cohort
    has not reached yet and cells not observed (``observed`` False: periods before the data
    begin). The index carries each cohort's label, ``≤ 2024-01 (present at start)`` for the
    customers present at the start.

    Parameters
    ----------
    tidy : pd.DataFrame
        A tidy cohort table.
    definition : {"on", "on_or_after"}, default "on"
        Ignored for tables without a ``definition`` column (revenue, brackets).
    dimension, dimension_value : str, default "all"
        Which split and which of its values, e.g. ``"acquisition_channel"``, ``"social"``.
    value : str, default "retention"
        The column to spread, e.g. ``"customers"``, ``"revenue_retention"``,
        ``"cumulative_revenue_per_customer"``.

    Returns
    -------
    pd.DataFrame
        Floats, index ``cohort_label``, columns ``periods_since`` (or ``bracket``).

    Examples
    --------
    >>> tidy = pd.DataFrame({"cohort_start": [1, 1, 2], "cohort_label": ["2025-01", "2025-01",
    ...     "2025-02"], "dimension": "all", "dimension_value": "all", "periods_since": [0, 1, 0],
    ...     "retention": [1.0, 0.5, 1.0], "masked": False})
    >>> cohort_matrix(tidy).to_dict()
    {0: {'2025-01': 1.0, '2025-02': 1.0}, 1: {'2025-01': 0.5, '2025-02': nan}}
    """
    needed = ["cohort_start", "cohort_label", "dimension", "dimension_value", value, "masked"]
    missing = [column for column in needed if column not in tidy.columns]
    if missing:
        raise DataContractError(
            f"cohort table: columns {missing} are missing; found {list(tidy.columns)}"
        )
    across = "periods_since" if "periods_since" in tidy.columns else "bracket"
    keep = (tidy["dimension"] == dimension) & (tidy["dimension_value"] == dimension_value)
    if "definition" in tidy.columns:
        if definition not in RETENTION_DEFINITIONS:
            raise ValueError(f"definition={definition!r}: expected one of {RETENTION_DEFINITIONS}")
        keep &= tidy["definition"] == definition
    rows = tidy[keep]
    if rows.empty:
        available = sorted(
            {f"{d}={v}" for d, v in zip(tidy["dimension"], tidy["dimension_value"], strict=True)}
        )
        raise ValueError(
            f"no cohort rows for {dimension}={dimension_value!r}; available: {available[:20]}"
        )
    shown = ~rows["masked"].astype("bool")
    if "observed" in rows.columns:
        shown &= rows["observed"].fillna(True).astype("bool")
    cells = rows[value].astype("float64").where(shown)
    wide = rows.assign(_cell=cells).pivot_table(
        index="cohort_label", columns=across, values="_cell", aggfunc="first", dropna=False
    )
    cohorts = rows.drop_duplicates("cohort_label").sort_values("cohort_start")["cohort_label"]
    if across == "bracket":
        order = rows.drop_duplicates("bracket").sort_values(["days_from", "days_to"])["bracket"]
    else:
        order = pd.Series(sorted(rows["periods_since"].unique()))
    wide = wide.reindex(index=cohorts.tolist(), columns=order.tolist()).astype("float64")
    wide.index.name = "cohort_label"
    wide.columns.name = across
    return wide


def display_matrix(
    tidy: pd.DataFrame | None,
    *,
    cohorts_shown: int = DEFAULTS.cohorts.cohorts_shown,
    definition: str = "on",
    value: str = "retention",
    dimension: str = _ALL,
    dimension_value: str = _ALL,
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame | None:
    """The wide matrix of the last ``cohorts_shown`` cohorts, for a heatmap.

    Transforms a tidy cohort table (one row per cohort x k x dimension value) into one row
    per cohort (newest last) and one column per period since acquisition that at least one
    shown cohort reached. A cohort of fewer than ``min_cell_size`` customers
    (``privacy.min_cell_size``) cannot be pooled with another row: its cells are NaN (not
    drawn), and ``attrs["small_cohorts"]`` lists its label so that
    :func:`plot_cohort_heatmap` says so in the row (``attrs["min_cell_size"]`` holds the
    limit). None passes through.
    """
    if tidy is None:
        return None
    rule = SmallCells(min_cell_size)
    rows = tidy.assign(masked=rule.is_small(tidy["cohort_size"]))
    wide = cohort_matrix(
        rows,
        definition=definition,
        dimension=dimension,
        dimension_value=dimension_value,
        value=value,
    )
    wide = wide.tail(cohorts_shown).dropna(axis=1, how="all")
    chosen = (rows["dimension"] == dimension) & (rows["dimension_value"] == dimension_value)
    small = set(rows.loc[chosen & rows["masked"], "cohort_label"])
    wide.attrs[SMALL_COHORTS] = [label for label in wide.index if label in small]
    wide.attrs[LIMIT] = rule.min_cell_size
    return wide


# -- pooled rates ----------------------------------------------------------------------------
def definition_table(
    tidy: pd.DataFrame | None,
    *,
    k: Sequence[int] = (1, 3, 6, 12),
    unit: str = DEFAULTS.cohorts.period,
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame | None:
    """Pooled overall retention at each k under both definitions, as display text.

    One row per definition ("active in period k", "active in k or later"), one column per k:
    retained / cohort size summed over the cohorts that reached k (the customers present at
    the start left out); ``"–"`` where those cohorts hold fewer than ``min_cell_size``
    customers.
    """
    if tidy is None:
        return None
    rule = SmallCells(min_cell_size)
    rows = tidy[(tidy["dimension"] == _ALL) & tidy["periods_since"].isin(list(k))]
    pooled = _pooled(rows, ["definition", "periods_since"], rule)["retention"]
    pooled = pooled.unstack("periods_since")
    pooled = pooled.reindex(columns=[x for x in k if x in pooled.columns])
    names = {"on": f"active in {unit} k", "on_or_after": f"active in {unit} k or later"}
    table = pooled.rename(index=names).map(lambda v: format_figure(v, "rate"))
    table.columns = [f"{unit} {x}" for x in table.columns]
    table.index.name = "retention"
    return table


def bracket_table(
    bracket_tidy: pd.DataFrame | None,
    *,
    dimension: str = _CHANNEL,
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame | None:
    """Share of customers buying again within each day bracket, overall and per channel.

    Transforms the tidy output of :func:`bracket_retention` into one row per value
    (``all`` first, then ``dimension``'s values) and one column per bracket: retained /
    eligible customers pooled over cohorts (the customers present at the start left out), as
    text; ``"–"`` where fewer than ``min_cell_size`` customers are eligible (a rate on a
    small group, :meth:`crmlib.privacy.SmallCells.hide`).
    """
    if bracket_tidy is None:
        return None
    rule = SmallCells(min_cell_size)
    rows = bracket_tidy[bracket_tidy["dimension"].isin([_ALL, dimension])]
    table = _pooled(rows, ["dimension_value", "bracket"], rule)["retention"].unstack("bracket")
    order = bracket_tidy.drop_duplicates("bracket").sort_values(["days_from", "days_to"])["bracket"]
    values = [_ALL, *sorted(v for v in table.index if v != _ALL)]
    table = table.reindex(index=values, columns=order.tolist())
    table = table.map(lambda v: format_figure(v, "rate"))
    table.index.name = dimension.replace("_", " ")
    table.columns.name = None
    return table


def _range(value: Any, lower: Any, upper: Any, fmt: str = "{:+.1f} pp") -> str:
    if pd.isna(value):
        return HIDDEN
    return f"{fmt.format(value)} ({lower:.1f} to {upper:.1f})"


def trends_table(
    trends: pd.DataFrame | None,
    *,
    unit: str = DEFAULTS.cohorts.period,
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame | None:
    """:func:`cohort_trends` as display text: one row per k.

    The trend's numbers read ``"–"`` when its cohorts hold fewer than ``min_cell_size``
    customers, the channel gap's when its best or worst channel does (rates on a small group).
    """
    if trends is None:
        return None
    trends = _shown_trends(trends, SmallCells(min_cell_size), unit=unit)
    table = pd.DataFrame(
        {
            "cohorts": trends["n_cohorts"].map(lambda v: HIDDEN if pd.isna(v) else f"{v:.0f}"),
            "mean retention": trends["mean_retention"].map(lambda v: format_figure(v, "rate")),
            "change per year (95% CI)": [
                _range(r.pp_per_year, r.pp_ci_lower, r.pp_ci_upper) for r in trends.itertuples()
            ],
            "p": trends["p_value"].map(lambda v: HIDDEN if pd.isna(v) else f"{v:.3g}"),
            "best channel": [
                HIDDEN
                if pd.isna(r.best)
                else f"{r.best} ({format_figure(r.best_retention, 'rate')})"
                for r in trends.itertuples()
            ],
            "worst channel": [
                HIDDEN
                if pd.isna(r.worst)
                else f"{r.worst} ({format_figure(r.worst_retention, 'rate')})"
                for r in trends.itertuples()
            ],
            "gap (95% CI)": [
                _range(r.gap_pp, r.gap_ci_lower_pp, r.gap_ci_upper_pp, "{:.1f} pp")
                for r in trends.itertuples()
            ],
        }
    )
    table.index = pd.Index([f"{k}-{unit} retention" for k in trends["k"]], name="")
    return table


def rates_table(
    rates: pd.DataFrame | None, *, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame | None:
    """Second-order rates as display text, one row per group, one column per horizon.

    Transforms :func:`second_order_summary` (one row per group and horizon) into one row per
    group (``all`` first, ``(other)`` last): *customers* as :meth:`SmallCells.counts` text
    and cells reading ``37.3% (36.0–38.7%)``; sparse cells (few customers known at the
    horizon) are marked ``*``. Pool small groups first (:func:`pool_groups`); a group that
    still holds fewer than ``min_cell_size`` customers reads ``"<k"`` with its rates ``"–"``.
    """
    if rates is None:
        return None
    rule = SmallCells(min_cell_size)
    rates = rule.hide(
        rates, size="customers", columns=["second_order_rate", "ci_lower", "ci_upper"]
    )

    def cell(row: pd.Series) -> str:
        if pd.isna(row["second_order_rate"]):
            return HIDDEN
        star = "*" if row["sparse"] else ""
        return (
            f"{format_figure(row['second_order_rate'], 'rate')} ({format_figure(row['ci_lower'], 'rate')}"
            f"\u2013{format_figure(row['ci_upper'], 'rate')}){star}"
        )

    text = rates.assign(cell=rates.apply(cell, axis=1), horizon=rates["days"].map("{} days".format))
    table = text.pivot(index="group", columns="horizon", values="cell")
    sizes = rates.drop_duplicates("group").set_index("group")["customers"]
    groups = sorted(g for g in table.index if g not in (_ALL, OTHER))
    order = [g for g in (_ALL, *groups, OTHER) if g in table.index]
    horizons = [f"{d} days" for d in sorted(rates["days"].unique())]
    table = table.reindex(index=order, columns=horizons)
    table.insert(0, "customers", rule.counts(sizes.reindex(table.index)))
    table.index.name = "group"
    table.columns.name = None
    return table
