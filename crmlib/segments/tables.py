"""Display tables of 04_segments: segment profiles, clusters, item pairs, the activation funnel.

Each function shapes a frame of :mod:`crmlib.segments.models` (or the funnel of
:func:`crmlib.segments.stage.run_campaigns`) into text cells for the page, under the
small-cell rule (:class:`crmlib.privacy.SmallCells`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from crmlib.activation import FUNNEL_STEPS
from crmlib.checks import require_columns
from crmlib.formatting import format_figure
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, SmallCells
from crmlib.segments.models.affinities import PAIR_COLUMNS, _shown
from crmlib.segments.models.clusters import BEHAVIOUR_FEATURES, ClusterResult, shown_profiles
from crmlib.segments.models.profiles import _value_order
from crmlib.segments.text import FEATURE_LABELS, _label

__all__ = [
    "profile_table",
    "cluster_table",
    "affinity_table",
    "funnel_table",
]

log = logging.getLogger(__name__)


def profile_table(profiles: pd.DataFrame) -> pd.DataFrame:
    """Segment profiles for display: one row per (dimension, value), one column per segment.

    Reads *profiles* (tidy, as from :func:`crmlib.segments.models.profiles.segment_profiles`).
    Cells are the share of the segment's customers as a percent string (``"23%"``); masked
    cells (fewer customers than ``min_cell_size``, or a cell that would reveal one: see
    :func:`crmlib.segments.models.profiles.segment_profiles`) and empty cells read ``"–"``, so a
    small cell's value is never shown. Dimensions, values and segments keep the input's order.
    """
    require_columns(
        profiles, ("dimension", "segment", "value", "share", "masked"), table_name="profiles"
    )
    text = np.where(
        profiles["masked"].to_numpy(dtype="bool"),
        HIDDEN,
        profiles["share"].map(lambda v: f"{v:.0%}").to_numpy(dtype=object),
    )
    cells = profiles.assign(cell=text)
    pairs = cells[["dimension", "value"]].drop_duplicates()
    dimension_rank = {d: i for i, d in enumerate(dict.fromkeys(pairs["dimension"]))}
    pairs = pairs.assign(
        _dimension=pairs["dimension"].map(dimension_rank),
        _value=[
            int(_value_order(d, pd.Series([v])).iloc[0])
            for d, v in zip(pairs["dimension"], pairs["value"], strict=True)
        ],
    ).sort_values(["_dimension", "_value", "value"], kind="stable")
    rows = list(zip(pairs["dimension"], pairs["value"], strict=True))
    columns = list(dict.fromkeys(cells["segment"]))
    table = (
        cells.set_index(["dimension", "value", "segment"])["cell"]
        .unstack("segment")
        .reindex(index=pd.MultiIndex.from_tuples(rows, names=["dimension", "value"]))
        .reindex(columns=columns)
        .fillna(HIDDEN)
    )
    table.columns.name = "segment"
    return table


def cluster_table(
    result: ClusterResult, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame:
    """The cluster profiles for display: one row per cluster, readable headers, rounded.

    Columns: *Cluster, Name, Customers, Share (%)* and the average of each behaviour feature
    (:data:`FEATURE_LABELS`; the net spend header names the currency, e.g. "Net spend in
    window (GBP)"), rounded to 1 decimal (engagement 2). The z-scores are in
    :func:`plot_cluster_profiles`. Clusters of fewer than ``min_cell_size`` customers are
    one ``"(other)"`` row, last, whose *Cluster* is empty (:func:`shown_profiles`).

    Parameters
    ----------
    result : ClusterResult
    currency : str
        The run's currency (``params.currency``).
    min_cell_size : int, default MIN_CELL_SIZE
        The run's ``privacy.min_cell_size``.

    Returns
    -------
    pd.DataFrame
        Largest cluster first.
    """
    profiles = shown_profiles(result.profiles, min_cell_size=min_cell_size)
    table = pd.DataFrame(
        {
            "Cluster": profiles["cluster"].astype("Int64"),
            "Name": profiles["cluster_name"].astype("str"),
            "Customers": profiles["customers"].astype("int64"),
            "Share (%)": (100 * profiles["share"]).round(1),
        }
    )
    for feature in BEHAVIOUR_FEATURES:
        decimals = 2 if feature == "engagement" else 1
        label = FEATURE_LABELS[feature]
        if feature == "monetary":
            label = f"{label} ({currency})"
        table[label] = profiles[feature].astype("float64").round(decimals)
    return table


def affinity_table(pairs: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE) -> pd.DataFrame:
    """The top pairs as display text: one row per pair, best first.

    Transforms :func:`crmlib.segments.models.affinities.top_pairs` (one row per unordered pair) into
    *pair, customers buying both, support, lift, A → B, B → A* (confidences as percentages,
    lift with two decimals), indexed 1..n. A pair bought by fewer than ``min_cell_size``
    customers is not displayed (possible when ``min_pair_customers`` is set lower).

    Examples
    --------
    >>> pairs = pd.DataFrame({
    ...     "population": ["all"], "item_a": ["coffee"], "item_b": ["mugs"],
    ...     "n_customers": [1000], "n_a": [250], "n_b": [200], "n_ab": [120],
    ...     "support": [0.12], "lift": [2.4], "confidence_a_to_b": [0.48],
    ...     "confidence_b_to_a": [0.6],
    ... })
    >>> affinity_table(pairs).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'pair': 'coffee + mugs', 'customers buying both': '120', 'support': '12.0%',
     'lift': '2.40', 'share of A buyers buying B': '48.0%',
     'share of B buyers buying A': '60.0%'}
    """
    require_columns(pairs, PAIR_COLUMNS, table_name="pairs")
    rule = SmallCells(min_cell_size)
    pairs = _shown(pairs, rule)
    table = pd.DataFrame(
        {
            "pair": [
                f"{_label(a)} + {_label(b)}"
                for a, b in zip(pairs["item_a"], pairs["item_b"], strict=True)
            ],
            "customers buying both": rule.counts(pairs["n_ab"]).tolist(),
            "support": [format_figure(v, "rate") for v in pairs["support"]],
            "lift": [f"{v:.2f}" for v in pairs["lift"]],
            "share of A buyers buying B": [
                format_figure(v, "rate") for v in pairs["confidence_a_to_b"]
            ],
            "share of B buyers buying A": [
                format_figure(v, "rate") for v in pairs["confidence_b_to_a"]
            ],
        },
        index=pd.RangeIndex(1, len(pairs) + 1, name="rank"),
    )
    return table


def funnel_table(funnel: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE) -> pd.DataFrame:
    """The activation funnel for display: one row per campaign, one column per step.

    Transforms *funnel* (one row per campaign and step, as from :func:`run_campaigns`) into
    one row per campaign and one column per step of :data:`crmlib.activation.FUNNEL_STEPS`,
    headed "in segment (customers)" and so on, holding the customers left after the step as
    text (:meth:`crmlib.privacy.SmallCells.suppress`): a count from 1 to
    ``min_cell_size - 1`` reads ``"<10"``; target + control = not capped in each row, so
    when one of the two is hidden the other reads ``"–"``.
    """
    require_columns(funnel, ["campaign", "step", "customers"], table_name="funnel")
    table = funnel.pivot(index="campaign", columns="step", values="customers")
    steps = [step for step in FUNNEL_STEPS if step in table.columns]
    table = table.reindex(index=list(dict.fromkeys(funnel["campaign"])), columns=steps)
    split = {"not_capped": ["target", "control"]}
    shown = SmallCells(min_cell_size).suppress(
        table,
        counts=steps,
        parts={total: parts for total, parts in split.items() if {total, *parts} <= set(steps)},
    )
    shown.columns = [f"{step.replace('_', ' ')} (customers)" for step in steps]
    return shown
